"""Revision lifecycle: IN_PROGRESS -> COMPLETED -> GOOD, or FAILED, or ROLLED_BACK, never backwards."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecs_rollback.domain import lifecycle
from ecs_rollback.domain.model import Deployment, Origin, Status, Verdict
from ecs_rollback.domain.state import Halt, ServiceState, Step
from tests.unit.builders import NOW, SERVICE, deployment, lock, minutes, release, state, td_arn

RANK = {Status.IN_PROGRESS: 0, Status.COMPLETED: 1, Status.GOOD: 2}
V1 = deployment(1, Status.GOOD)


def fresh(revision: int = 3, status: Status = Status.IN_PROGRESS, **overrides: Any) -> Deployment:
    """web:<revision>, started ten minutes ago unless told otherwise."""
    overrides.setdefault("started_at", NOW - minutes(10))
    return deployment(revision, status, **overrides)


# -- never backwards ----------------------------------------------------------------------------

NEVER_BACKWARDS = {
    "late IN_PROGRESS after COMPLETED": (Status.COMPLETED, Status.IN_PROGRESS, Status.COMPLETED),
    "duplicate COMPLETED": (Status.COMPLETED, Status.COMPLETED, Status.COMPLETED),
    "COMPLETED after FAILED": (Status.FAILED, Status.COMPLETED, Status.FAILED),
    "GOOD after FAILED": (Status.FAILED, Status.GOOD, Status.FAILED),
    "late COMPLETED after GOOD": (Status.GOOD, Status.COMPLETED, Status.GOOD),
    "late IN_PROGRESS after GOOD": (Status.GOOD, Status.IN_PROGRESS, Status.GOOD),
    "FAILED after ROLLED_BACK": (Status.ROLLED_BACK, Status.FAILED, Status.ROLLED_BACK),
    "ROLLED_BACK after FAILED": (Status.FAILED, Status.ROLLED_BACK, Status.FAILED),
    "IN_PROGRESS to COMPLETED moves on": (Status.IN_PROGRESS, Status.COMPLETED, Status.COMPLETED),
    "COMPLETED to GOOD moves on": (Status.COMPLETED, Status.GOOD, Status.GOOD),
    "GOOD to FAILED moves on": (Status.GOOD, Status.FAILED, Status.FAILED),
}


@pytest.mark.parametrize(
    ("stored", "event", "expected"), NEVER_BACKWARDS.values(), ids=NEVER_BACKWARDS.keys()
)
def test_advance_never_moves_backwards(stored: Status, event: Status, expected: Status) -> None:
    # Given a deployment recorded with some status
    recorded = fresh(status=stored, completed_at=NOW - minutes(5) if stored != Status.IN_PROGRESS else None)

    # When an event for another status arrives
    advanced = lifecycle.advance(recorded, event, NOW, "event")

    # Then the status only moves forward, and an ignored event leaves the record untouched
    assert advanced.status == expected
    if expected == stored:
        assert advanced is recorded


def test_duplicate_completed_keeps_first_completion_and_schedules_the_same_deployment() -> None:
    # Given a deployment that completed five minutes ago
    started = lifecycle.record_started(state(None), fresh(), release(fresh()), NOW - minutes(6))
    first = lifecycle.record_completed(
        started.state, started.deployments[0], release(started.deployments[0]), NOW - minutes(5), False
    )
    completed = first.deployments[0]

    # When the COMPLETED event is delivered again
    again = lifecycle.record_completed(first.state, completed, release(completed), NOW, False)

    # Then the record is unchanged: same completion time, one COMPLETED entry in its history
    assert again.deployments[0] == completed
    assert again.deployments[0].completed_at == NOW - minutes(5)
    assert [change.status for change in again.deployments[0].history] == [Status.COMPLETED]
    assert again.state.current == completed.compact()


def test_completed_after_failed_stays_failed_and_is_not_baked() -> None:
    # Given a deployment recorded as FAILED
    failed = lifecycle.record_failed(
        state(fresh(), [V1]), fresh(), release(fresh()), NOW - minutes(1), "circuit breaker"
    )
    recorded = failed.deployments[0]

    # When a late COMPLETED arrives
    late = lifecycle.record_completed(failed.state, recorded, release(recorded), NOW, bake_time_zero=False)

    # Then it stays FAILED, no bake is scheduled, and it does not become GOOD
    assert late.deployments[0].status == Status.FAILED
    assert late.schedule_bake_for is None
    assert [d.task_definition_arn for d in late.state.good] == [td_arn(1)]


# -- adoption -----------------------------------------------------------------------------------


def test_adopt_makes_the_running_release_a_good_adopted_baseline() -> None:
    # Given a service never seen before, running web:1 when its first deployment event arrives
    baseline = deployment(1, Status.IN_PROGRESS, started_at=NOW - minutes(300))

    # When it is adopted
    adopted_state, adopted, judged = lifecycle.adopt(
        lifecycle.new_state(SERVICE), baseline, release(baseline), NOW, "adopted"
    )

    # Then web:1 is GOOD (adopted, not baked), so is its release, and the first bad deploy has a target
    assert adopted.status == Status.GOOD
    assert adopted.adopted is True
    assert adopted.good_at == NOW
    assert judged.verdict == Verdict.GOOD and judged.adopted is True
    assert [entry.release_id for entry in adopted_state.good] == [baseline.release]
    assert adopted_state.current == adopted.compact()
    assert adopted_state.newest_good_except("another-release") == judged.ref()
    assert adopted_state.families == ("web",)


def test_adopt_keeps_an_existing_current_revision() -> None:
    # Given a service whose current revision is already recorded
    service_state = state(fresh(), [])
    baseline = deployment(1, Status.COMPLETED)

    # When a baseline is adopted (the CLI's `adopt`)
    adopted_state, _, _ = lifecycle.adopt(service_state, baseline, release(baseline), NOW, "adopted")

    # Then the current revision stays, and the baseline's release joins the good list
    assert adopted_state.current == fresh().compact()
    assert [entry.task_definition_arn for entry in adopted_state.good] == [td_arn(1)]


# -- started ------------------------------------------------------------------------------------

LINKS = {
    "automatic rollback to a pinned copy": (True, 4, 1, Origin.AUTOMATIC_ROLLBACK, td_arn(1)),
    "automatic rollback to the revision itself": (True, 1, 1, Origin.AUTOMATIC_ROLLBACK, None),
    "manual rollback to a pinned copy": (False, 4, 1, Origin.MANUAL_ROLLBACK, td_arn(1)),
    "manual rollback to the revision itself": (False, 1, 1, Origin.MANUAL_ROLLBACK, None),
}


@pytest.mark.parametrize(
    ("automatic", "deployed", "source", "origin", "source_arn"), LINKS.values(), ids=LINKS.keys()
)
def test_record_started_links_the_deployment_to_the_rollback_in_flight(
    automatic: bool, deployed: int, source: int, origin: Origin, source_arn: str | None
) -> None:
    # Given a rollback in flight whose UpdateService deploys web:<deployed>
    in_flight = lock(deployed, source_revision=source, automatic=automatic, rollback_id="rb-7")
    service_state = state(fresh(), [V1], in_flight=in_flight)

    # When ECS starts a deployment of that task definition
    started = fresh(deployed, deployment_id="ecs-svc/rollback", started_at=NOW)
    transition = lifecycle.record_started(service_state, started, release(started), NOW)

    # Then the deployment is recorded as the rollback's, with where it came from
    linked = transition.deployments[0]
    assert linked.origin == origin
    assert linked.rollback_id == "rb-7"
    assert linked.actor == "ecs-rollback"
    assert linked.source_task_definition_arn == source_arn
    assert transition.state.current == linked.compact()
    assert transition.state.in_flight == in_flight


def test_record_started_leaves_other_deployments_unlinked() -> None:
    # Given a rollback in flight to web:1
    service_state = state(fresh(), [V1], in_flight=lock(1))

    # When someone deploys web:5 meanwhile
    transition = lifecycle.record_started(
        service_state, fresh(5, started_at=NOW), release(fresh(5, started_at=NOW)), NOW
    )

    # Then web:5 is a plain deploy
    assert transition.deployments[0].origin == Origin.DEPLOY
    assert transition.deployments[0].rollback_id is None


def test_late_event_of_an_older_deployment_does_not_replace_current() -> None:
    # Given web:3 current, started ten minutes ago
    service_state = state(fresh(), [V1])

    # When a late IN_PROGRESS for web:2, which started earlier, arrives
    transition = lifecycle.record_started(
        service_state, deployment(2, Status.IN_PROGRESS), release(deployment(2, Status.IN_PROGRESS)), NOW
    )

    # Then web:3 stays current
    assert transition.state.current == fresh().compact()


HALT = Halt("the rollback's own deployment failed", NOW - minutes(2), "rb-1")


def test_a_new_deploy_clears_halted() -> None:
    # Given automatic rollbacks halted on a service
    service_state = state(deployment(1, Status.FAILED, origin=Origin.AUTOMATIC_ROLLBACK), [], halted=HALT)

    # When a person deploys a new revision
    transition = lifecycle.record_started(
        service_state, fresh(5, started_at=NOW), release(fresh(5, started_at=NOW)), NOW
    )

    # Then automatic rollbacks resume
    assert transition.state.halted is None


def test_a_rollback_deployment_does_not_clear_halted() -> None:
    # Given automatic rollbacks halted, and a manual rollback in flight to web:1
    service_state = state(fresh(), [V1], halted=HALT, in_flight=lock(1, automatic=False))

    # When the rollback's deployment starts
    transition = lifecycle.record_started(
        service_state, fresh(1, started_at=NOW), release(fresh(1, started_at=NOW)), NOW
    )

    # Then the halt stays: only a deploy by a person resumes automation
    assert transition.deployments[0].origin == Origin.MANUAL_ROLLBACK
    assert transition.state.halted == HALT


def test_a_late_event_of_an_old_deploy_does_not_clear_halted() -> None:
    # Given web:3 (a deploy) failed, the automatic rollback to web:1 failed too, and automation halted
    rollback_deployment = deployment(
        1,
        Status.FAILED,
        deployment_id="ecs-svc/rollback",
        started_at=NOW - minutes(4),
        origin=Origin.AUTOMATIC_ROLLBACK,
        rollback_id="rb-1",
    )
    service_state = state(rollback_deployment, [], halted=HALT)
    old_deploy = fresh(3, Status.FAILED)

    # When EventBridge delivers web:3's FAILED event again (at least once, in no order)
    transition = lifecycle.record_started(service_state, old_deploy, release(old_deploy), NOW)

    # Then automation stays halted: nobody deployed anything new
    assert transition.state.current == rollback_deployment.compact()
    assert transition.state.halted == HALT


# -- completed, failed, promoted, rolled back ---------------------------------------------------


def test_record_completed_schedules_the_bake() -> None:
    # Given web:3 in progress and current
    service_state = state(fresh(), [V1])

    # When ECS reports steady state
    transition = lifecycle.record_completed(
        service_state, fresh(), release(fresh()), NOW, bake_time_zero=False
    )

    # Then web:3 is COMPLETED (not yet GOOD) and its bake is scheduled
    completed = transition.deployments[0]
    assert completed.status == Status.COMPLETED
    assert completed.completed_at == NOW
    assert transition.schedule_bake_for == completed
    assert transition.state.current == completed.compact()
    assert [d.task_definition_arn for d in transition.state.good] == [td_arn(1)]


def test_record_completed_with_zero_bake_time_promotes_at_once() -> None:
    # Given web:3 in progress, and a bake time of zero with no alarm in ALARM
    service_state = state(fresh(), [V1])

    # When ECS reports steady state
    transition = lifecycle.record_completed(
        service_state, fresh(), release(fresh()), NOW, bake_time_zero=True
    )

    # Then web:3 is GOOD now, first in the good list, and nothing is scheduled
    good = transition.deployments[-1]
    assert good.status == Status.GOOD
    assert good.good_at == NOW
    assert [change.status for change in good.history] == [Status.COMPLETED, Status.GOOD]
    assert transition.schedule_bake_for is None
    assert [d.task_definition_arn for d in transition.state.good] == [td_arn(3), td_arn(1)]
    assert transition.state.current == good.compact()


@pytest.mark.parametrize("bake_time_zero", [False, True], ids=["baked later", "zero bake time"])
def test_the_rollback_deployment_completing_finishes_the_rollback(bake_time_zero: bool) -> None:
    # Given a rollback in flight (ECS accepted its UpdateService) whose deployment of web:1 started
    in_flight = lock(1, rollback_id="rb-9", step=Step.UPDATED)
    started = lifecycle.record_started(
        state(fresh(), [V1], in_flight=in_flight),
        fresh(1, started_at=NOW - minutes(2)),
        release(fresh(1, started_at=NOW - minutes(2))),
        NOW - minutes(2),
    )

    # When it completes
    transition = lifecycle.record_completed(
        started.state, started.deployments[0], release(started.deployments[0]), NOW, bake_time_zero
    )

    # Then the lock is released and the rollback record is marked COMPLETED
    assert transition.state.in_flight is None
    assert transition.rollback_finished == "COMPLETED"
    assert transition.finished_rollback_key == in_flight.record_key


def test_record_failed_drops_the_revision_from_the_good_list() -> None:
    # Given web:1 GOOD, and web:1 deployed again (say, a scale-out) that fails
    redeploy = fresh(1, deployment_id="ecs-svc/again")
    service_state = state(redeploy, [V1, deployment(0)])

    # When ECS reports the deployment failed
    transition = lifecycle.record_failed(
        service_state, redeploy, release(redeploy), NOW, "tasks failed to start"
    )

    # Then web:1 is FAILED and no longer a rollback target
    failed = transition.deployments[0]
    assert failed.status == Status.FAILED
    assert failed.history[-1].reason == "tasks failed to start"
    assert [d.task_definition_arn for d in transition.state.good] == [td_arn(0)]
    assert transition.state.current == failed.compact()


def test_record_failed_finishes_the_rollback_in_flight_with_failed() -> None:
    # Given a rollback in flight whose deployment of web:1 started
    in_flight = lock(1, rollback_id="rb-9", step=Step.UPDATED)
    started = lifecycle.record_started(
        state(fresh(), [V1], in_flight=in_flight),
        fresh(1, started_at=NOW - minutes(2)),
        release(fresh(1, started_at=NOW - minutes(2))),
        NOW - minutes(2),
    )

    # When that deployment fails
    transition = lifecycle.record_failed(
        started.state, started.deployments[0], release(started.deployments[0]), NOW, "circuit breaker"
    )

    # Then the lock is released and the rollback record is marked FAILED
    assert transition.state.in_flight is None
    assert transition.rollback_finished == "FAILED"
    assert transition.finished_rollback_key == in_flight.record_key


def test_record_failed_of_another_deployment_keeps_the_lock() -> None:
    # Given a rollback in flight to web:1
    in_flight = lock(1)
    service_state = state(fresh(), [V1], in_flight=in_flight)

    # When an unrelated deployment fails
    transition = lifecycle.record_failed(service_state, fresh(), release(fresh()), NOW, "circuit breaker")

    # Then the lock stays
    assert transition.state.in_flight == in_flight
    assert transition.rollback_finished is None


def test_promote_turns_completed_into_good() -> None:
    # Given web:3 COMPLETED and current
    completed = fresh(status=Status.COMPLETED, completed_at=NOW - minutes(10))
    service_state = state(completed, [V1])

    # When its bake time passes quietly
    transition = lifecycle.promote(service_state, completed, release(completed), NOW)

    # Then it is GOOD and the newest GOOD revision
    assert transition.deployments[0].status == Status.GOOD
    assert transition.deployments[0].good_at == NOW
    assert transition.state.good[0].task_definition_arn == td_arn(3)
    assert transition.state.current is not None and transition.state.current.status == Status.GOOD


@pytest.mark.parametrize("status", [Status.IN_PROGRESS, Status.FAILED, Status.ROLLED_BACK])
def test_promote_only_from_completed(status: Status) -> None:
    # Given web:3 that is not COMPLETED
    recorded = fresh(status=status)
    service_state = state(recorded, [V1])

    # When a bake timer fires for it
    transition = lifecycle.promote(service_state, recorded, release(recorded), NOW)

    # Then nothing changes: only a revision that reached steady state can bake to GOOD
    assert transition.deployments == []
    assert transition.state == service_state


def test_mark_rolled_back_removes_from_the_good_list() -> None:
    # Given web:3 GOOD (deployed 20 minutes ago) and current
    current = fresh(status=Status.GOOD)
    service_state = state(current, [current, V1])

    # When a rollback moves the service off it
    transition = lifecycle.mark_rolled_back(service_state, current, release(current), NOW, "alarm web-5xx")

    # Then it is ROLLED_BACK and no longer a target
    assert transition.deployments[0].status == Status.ROLLED_BACK
    assert [d.task_definition_arn for d in transition.state.good] == [td_arn(1)]
    assert transition.state.current is not None
    assert transition.state.current.status == Status.ROLLED_BACK


def test_mark_rolled_back_keeps_failed() -> None:
    # Given web:3 FAILED
    failed = fresh(status=Status.FAILED)

    # When the rollback marks it
    transition = lifecycle.mark_rolled_back(
        state(failed, [V1]), failed, release(failed), NOW, "deployment failed"
    )

    # Then it stays FAILED: a BAD status is terminal
    assert transition.deployments[0] is failed


# -- properties ---------------------------------------------------------------------------------

STATUSES = st.sampled_from(Status)


def expected_status(applied: list[Status]) -> Status:
    bad = [status for status in applied if status.is_bad]
    if bad:
        return bad[0]
    return max([Status.IN_PROGRESS, *applied], key=RANK.__getitem__)


@settings(max_examples=300, deadline=None)
@given(st.lists(STATUSES, max_size=12))
def test_any_order_of_events_ends_at_the_highest_status_reached(applied: list[Status]) -> None:
    # Given a deployment just started
    record = fresh()

    # When status events are applied in any order, with duplicates
    for minute, status in enumerate(applied):
        record = lifecycle.advance(record, status, NOW + minutes(minute))

    # Then the status is the highest rank applied, and the first BAD status is terminal
    assert record.status == expected_status(applied)
    ranks = [RANK.get(change.status, 3) for change in record.history]
    assert ranks == sorted(set(ranks))


OPERATIONS = st.sampled_from(
    ["started", "completed", "completed_zero_bake", "failed", "promote", "rolled_back"]
)


def apply(
    operation: str, service_state: ServiceState, record: Deployment, at: object
) -> lifecycle.Transition:
    now = NOW + minutes(at)  # type: ignore[arg-type]
    if operation == "started":
        return lifecycle.record_started(service_state, record, release(record), now)
    if operation.startswith("completed"):
        return lifecycle.record_completed(
            service_state, record, release(record), now, operation == "completed_zero_bake"
        )
    if operation == "failed":
        return lifecycle.record_failed(service_state, record, release(record), now, "failed")
    if operation == "promote":
        return lifecycle.promote(service_state, record, release(record), now)
    return lifecycle.mark_rolled_back(service_state, record, release(record), now, "rolled back")


@settings(max_examples=200, deadline=None)
@given(st.lists(OPERATIONS, min_size=1, max_size=10))
def test_lifecycle_operations_in_any_order_never_move_backwards(operations: list[str]) -> None:
    # Given web:1 GOOD and web:3 just started
    record = fresh()
    service_state = lifecycle.record_started(state(None, [V1]), record, release(record), NOW).state

    # When lifecycle operations arrive in any order
    for minute, operation in enumerate(operations, start=1):
        before = record.status
        transition = apply(operation, service_state, record, minute)
        service_state = transition.state
        record = transition.deployments[-1] if transition.deployments else record

        # Then the status never moves backwards and nothing leaves a BAD status
        if before.is_bad:
            assert record.status == before
        elif not record.status.is_bad:
            assert RANK[record.status] >= RANK[before]
        # and the service item agrees with the record: current mirrors it, good list iff GOOD
        assert service_state.current == record.compact()
        in_good = td_arn(3) in [d.task_definition_arn for d in service_state.good]
        assert in_good is (record.status == Status.GOOD)
        assert td_arn(1) in [d.task_definition_arn for d in service_state.good]


def test_with_good_keeps_one_entry_per_revision_newest_first() -> None:
    # Given a good list with web:1 and web:2
    service_state = state(None, [deployment(2), V1])

    # When web:1 is promoted again after a newer deployment of it
    again = replace(V1, deployment_id="ecs-svc/again", started_at=NOW)
    updated = service_state.with_good(again)

    # Then web:1 appears once, first, as its newest deployment
    assert [d.deployment_id for d in updated.good] == ["ecs-svc/again", deployment(2).deployment_id]


# -- releases -----------------------------------------------------------------------------------


def test_a_failed_deployment_makes_its_release_bad() -> None:
    # Given web:3 deploying
    current = fresh()

    # When ECS reports it failed
    transition = lifecycle.record_failed(
        state(current, [V1]), current, release(current), NOW, "tasks crashed"
    )

    # Then its release is BAD, with why and when, and is not a target
    judged = transition.releases[0]
    assert judged.verdict == Verdict.BAD and judged.bad_at == NOW
    assert "tasks crashed" in (judged.verdict_reason or "")
    assert current.release not in [entry.release_id for entry in transition.state.good]


def test_rolling_back_from_a_release_makes_it_bad_and_drops_every_revision_of_it() -> None:
    # Given web:1's release is GOOD and web:3 is its pinned copy, running
    copy = fresh(3, Status.GOOD, release_id=V1.release, source_task_definition_arn=td_arn(1))
    service_state = state(copy, [V1])

    # When a rollback leaves web:3
    transition = lifecycle.mark_rolled_back(service_state, copy, release(V1), NOW, "alarm")

    # Then the release of web:1 (which web:3 is) is BAD and no longer a target
    assert transition.releases[0].verdict == Verdict.BAD
    assert transition.state.good == ()


def test_promotion_makes_the_release_good_and_a_target_by_its_rollback_revision() -> None:
    # Given web:3 COMPLETED, whose release got a pinned copy web:4 as rollback revision
    completed = fresh(status=Status.COMPLETED, completed_at=NOW - minutes(11))
    prepared = release(completed, rollback_task_definition_arn=td_arn(4), revisions=(td_arn(3), td_arn(4)))

    # When its bake time passes
    transition = lifecycle.promote(state(completed, [V1]), completed, prepared, NOW)

    # Then the release is GOOD, first among targets, deployed by its copy but known as web:3
    entry = transition.state.good[0]
    assert transition.releases[0].verdict == Verdict.GOOD
    assert (entry.release_id, entry.task_definition_arn, entry.deploy_task_definition_arn) == (
        completed.release,
        td_arn(3),
        td_arn(4),
    )


def test_a_redeployed_good_release_moves_to_the_front_of_the_targets() -> None:
    # Given web:1 and web:2 GOOD (web:2 newer), and web:1's pinned copy web:5 starting
    v2 = deployment(2, Status.GOOD)
    service_state = state(fresh(3), [v2, V1])
    copy = fresh(5, started_at=NOW, release_id=V1.release)

    # When its deployment is recorded
    transition = lifecycle.record_started(service_state, copy, release(V1, verdict=Verdict.GOOD), NOW)

    # Then web:1's release is the newest GOOD (it is what ran last), and the copy is one of its revisions
    assert [entry.release_id for entry in transition.state.good] == [V1.release, v2.release]
    assert td_arn(5) in transition.releases[0].revisions


def test_a_rollback_deployment_ending_before_its_run_recorded_the_update_keeps_the_lock_for_the_resume() -> (
    None
):
    # Given a rollback whose run died after ECS accepted UpdateService (its step still "locked")
    in_flight = lock(1, rollback_id="rb-9")
    started = lifecycle.record_started(
        state(fresh(), [V1], in_flight=in_flight),
        fresh(1, started_at=NOW - minutes(2)),
        release(fresh(1, started_at=NOW - minutes(2))),
        NOW - minutes(2),
    )

    # When its deployment completes
    transition = lifecycle.record_completed(
        started.state, started.deployments[0], release(started.deployments[0]), NOW, False
    )

    # Then the lock stays, saying how the deployment ended, for the run that resumes the rollback
    assert transition.rollback_finished is None
    assert transition.state.in_flight == replace(in_flight, ended="COMPLETED")

    # And once that run records the update, the lock is released at once
    assert lifecycle.mark_updated(transition.state, "rb-9").in_flight is None
