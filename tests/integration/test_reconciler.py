"""The reconciler against the emulator: what one pass repairs when an event, a timer, a publish or a
whole run was lost, what it leaves alone while a run still holds it, and what a pass costs.

Every test plays the loss for real (ECS changes state but its event is never delivered; a bake
timer never fires; the ledger's stream never reaches the notifier; a run dies holding the lock),
then asserts on the emulator's state (what ECS runs, the ledger, what SNS delivered) and on the
pass summary the reconciler answers with.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecs_rollback.domain import lifecycle
from ecs_rollback.domain.errors import TransientFault
from ecs_rollback.domain.model import Outcome, RevisionId, RollbackRecord
from ecs_rollback.domain.state import InFlight, Step
from ecs_rollback.ports import LedgerChange
from ecs_rollback.services.outbox import UNSENT_GRACE
from ecs_rollback.services.reconciler import BAKE_GRACE
from ecs_rollback_sandbox.faults import attach
from tests.integration.conftest import SHA_V2, SHA_V3

pytestmark = [pytest.mark.emulator, pytest.mark.timeout(120)]

NOTHING_DONE = {
    "resumed": [],
    "released": [],
    "recorded": [],
    "promoted": [],
    "lost_alarms": [],
    "published": 0,
    "errors": [],
}
WRITES = ("TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")


# -- helpers ------------------------------------------------------------------------------------


def _did(summary: dict[str, Any], **done: Any) -> dict[str, Any]:
    """The pass summary expected when it did exactly ``done`` (and nothing else)."""
    return {"status": "reconciled", "services": summary["services"], **NOTHING_DONE, **done}


def _calls(world: Any, since: int) -> Counter[str]:
    return Counter(world.calls[since:])


def _deploy_events_lost(world: Any, web: Any, label: str, *, complete: bool) -> str:
    """A deploy tool calls UpdateService; ECS starts (and completes) the deployment, but none of its
    ``ECS Deployment State Change`` events reaches EventBridge. Returns ECS's deployment id."""
    world.clock.advance(timedelta(minutes=1))
    world.emulator.client("ecs").update_service(
        cluster=web.id.cluster, service=web.id.name, taskDefinition=web.revisions[label]
    )
    started = world.ecs.start_deployment(web.id)  # the IN_PROGRESS event, never delivered
    if complete:
        world.ecs.complete(web.id)  # the COMPLETED event, never delivered
    return str(started["detail"]["deploymentId"])


def _ecs_primary(world: Any, web: Any) -> dict[str, Any]:
    described = world.emulator.client("ecs").describe_services(cluster=web.id.cluster, services=[web.id.name])
    return next(d for d in described["services"][0]["deployments"] if d["status"] == "PRIMARY")


def _rollbacks(world: Any, web: Any) -> list[RollbackRecord]:
    return list(world.ledger.rollbacks(web.id, limit=50).items)


def _decided(notices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The decision notices (a rollback's result notice carries ``result``)."""
    return [n["body"] for n in notices if n["body"].get("rollback_id") and "result" not in n["body"]]


def _results(notices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [n["body"] for n in notices if n["body"].get("rollback_id") and "result" in n["body"]]


def _in_flight(item: dict[str, Any]) -> dict[str, Any]:
    return dict(item.get("Put", {}).get("Item", {}).get("in_flight", {}).get("M", {}))


def _finishes_update(body: dict[str, Any]) -> bool:
    """The transaction that records an UpdateService as done (the lock's step becomes ``updated``)."""
    return any(
        _in_flight(item).get("step", {}).get("S") == Step.UPDATED for item in body.get("TransactItems", [])
    )


def _releases_lease(body: dict[str, Any]) -> bool:
    """The write a failing run makes to free its lease: the state item alone, the lock still at
    ``locked`` (the lock's own commit also writes the decision record, so it has more items)."""
    writes = body.get("TransactItems", [])
    return len(writes) == 1 and _in_flight(writes[0]).get("step", {}).get("S") == Step.LOCKED


def _lock_again(world: Any, web: Any, rollback_id: str, record_key: str) -> None:
    """Through the ledger's public commit: a lock at ``locked`` whose lease lapsed 3 minutes ago,
    for ``rollback_id`` / ``record_key``, restoring v1 over v2."""
    state = world.ledger.load(web.id)
    now = world.clock.now()
    lock = InFlight(
        rollback_id=rollback_id,
        record_key=record_key,
        target_task_definition_arn=web.revisions["v1"],
        source_task_definition_arn=web.revisions["v1"],
        from_task_definition_arn=web.revisions["v2"],
        started_at=now - timedelta(minutes=5),
        expires_at=now + timedelta(minutes=25),
        automatic=True,
        step=Step.LOCKED,
        lease_expires_at=now - timedelta(minutes=3),
    )
    world.ledger.commit(
        LedgerChange(
            state=replace(state, in_flight=lock, version=state.version + 1), expected_version=state.version
        )
    )


# -- 1. lost deployment events ------------------------------------------------------------------


def test_a_deployment_whose_events_were_lost_is_recorded_completed_once(bad_release: tuple[Any, Any]) -> None:
    # Given v3 deployed by a deploy tool and completed by ECS, neither of its events delivered
    world, web = bad_release
    web.revision("v3", sha=SHA_V3, pinned=True)
    deployment_id = _deploy_events_lost(world, web, "v3", complete=True)
    assert _ecs_primary(world, web)["rolloutState"] == "COMPLETED"
    assert world.ledger.find_revision(web.id, RevisionId.from_arn(web.revisions["v3"])) is None

    # When the reconciler runs
    summary = world.reconcile()

    # Then it recorded the deployment as its COMPLETED event would have: v3 is what runs
    assert summary == _did(
        summary, services=1, recorded=[f"{web.id}: {deployment_id} SERVICE_DEPLOYMENT_COMPLETED"]
    )
    assert web.task_definition == web.revisions["v3"]
    assert web.status_of("v3") == "COMPLETED"
    state = world.ledger.load(web.id)
    assert state is not None and state.current is not None
    assert state.current.deployment_id == deployment_id
    assert state.current.task_definition_arn == web.task_definition

    # When it runs again
    before, calls = state.version, len(world.calls)
    again = world.reconcile()

    # Then it records nothing new and writes nothing
    assert again == _did(again, services=1)
    assert not any(_calls(world, calls)[f"dynamodb.{write}"] for write in WRITES)
    reread = world.ledger.load(web.id)
    assert reread is not None and reread.version == before
    assert web.status_of("v3") == "COMPLETED"

    # and the bake timer the recording scheduled promotes v3 as usual
    web.bake()
    assert web.status_of("v3") == "GOOD"


def test_a_deployment_whose_events_were_lost_is_recorded_in_progress_then_completed(
    bad_release: tuple[Any, Any],
) -> None:
    # Given v3 deployed and ECS still rolling it out, its IN_PROGRESS event lost
    world, web = bad_release
    web.revision("v3", sha=SHA_V3, pinned=True)
    deployment_id = _deploy_events_lost(world, web, "v3", complete=False)
    assert _ecs_primary(world, web)["rolloutState"] == "IN_PROGRESS"

    # When the reconciler runs twice
    first = world.reconcile()
    second = world.reconcile()

    # Then the first recorded it IN_PROGRESS, as ECS reports it; the second nothing
    assert first == _did(
        first, services=1, recorded=[f"{web.id}: {deployment_id} SERVICE_DEPLOYMENT_IN_PROGRESS"]
    )
    assert second == _did(second, services=1)
    assert web.status_of("v3") == "IN_PROGRESS"

    # When ECS completes it, that event lost too, and the reconciler runs twice
    world.clock.advance(timedelta(minutes=1))
    world.ecs.complete(web.id)
    first = world.reconcile()
    second = world.reconcile()

    # Then the first recorded it COMPLETED; the second nothing
    assert first == _did(
        first, services=1, recorded=[f"{web.id}: {deployment_id} SERVICE_DEPLOYMENT_COMPLETED"]
    )
    assert second == _did(second, services=1)
    assert web.status_of("v3") == "COMPLETED"
    state = world.ledger.load(web.id)
    assert state is not None and state.current is not None
    assert state.current.deployment_id == deployment_id


# -- 2. lost bake timer -------------------------------------------------------------------------


@pytest.fixture
def completed_release(make_world: Callable[..., Any], make_service: Callable[..., Any]) -> tuple[Any, Any]:
    """v2 COMPLETED with its bake timer scheduled; the alarm linked to the service by configuration
    (so the ledger knows it without an alarm event ever having arrived)."""
    world = make_world(alarm_links=[{"alarm": "web-cpu-high", "cluster": "prod", "service": "web"}])
    web = make_service(world, pinned=True)
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.deploy("v2")
    assert web.status_of("v2") == "COMPLETED"
    return world, web


def _bake_ends(world: Any) -> timedelta:
    return timedelta(seconds=world.settings["reconciler"].bake_time_seconds)


def test_a_deployment_ecs_forgot_gets_its_outcome_from_its_service_deployment(
    bad_release: tuple[Any, Any],
) -> None:
    # Given v3 recorded IN_PROGRESS, then its COMPLETED event lost, and v4 deployed and completed by
    # ECS with none of its events delivered: ECS lists only v4 now
    world, web = bad_release
    web.revision("v3", sha=SHA_V3, pinned=True)
    web.revision("v4", pinned=True)
    world.clock.advance(timedelta(minutes=1))
    world.emulator.client("ecs").update_service(
        cluster=web.id.cluster, service=web.id.name, taskDefinition=web.revisions["v3"]
    )
    started = world.ecs.start_deployment(web.id)
    world.deliver(started)
    v3 = str(started["detail"]["deploymentId"])
    world.ecs.complete(web.id)  # its COMPLETED event, never delivered
    v4 = _deploy_events_lost(world, web, "v4", complete=True)
    assert web.status_of("v3") == "IN_PROGRESS"

    # When the reconciler runs
    summary = world.reconcile()

    # Then v4 is recorded from DescribeServices, and v3's outcome from its service deployment
    assert summary["recorded"] == [
        f"{web.id}: {v4} SERVICE_DEPLOYMENT_COMPLETED",
        f"{web.id}: {v3} SERVICE_DEPLOYMENT_COMPLETED",
    ]
    assert web.status_of("v3") == "COMPLETED"
    assert web.status_of("v4") == "COMPLETED"
    state = world.ledger.load(web.id)
    assert state is not None and state.current is not None and state.current.deployment_id == v4
    assert world.count("ecs.DescribeServiceDeployments") == 1

    # And a second pass asks ECS's service deployments nothing more
    world.reconcile()
    assert world.count("ecs.DescribeServiceDeployments") == 1


def test_a_completed_release_whose_bake_timer_was_lost_is_promoted(
    completed_release: tuple[Any, Any],
) -> None:
    # Given v2's bake timer never fires, and the bake time is over but not its grace
    world, web = completed_release
    world.clock.advance(_bake_ends(world) + BAKE_GRACE / 2)

    # When the reconciler runs
    early = world.reconcile()

    # Then it leaves the promotion to the timer
    assert early == _did(early, services=1)
    assert web.status_of("v2") == "COMPLETED"

    # When the grace is over too, and the reconciler runs
    world.clock.advance(BAKE_GRACE)
    summary = world.reconcile()

    # Then it promoted v2 to GOOD: a rollback target now
    revision = RevisionId.from_arn(web.revisions["v2"])
    assert summary == _did(summary, services=1, promoted=[f"{web.id}: {revision}"])
    assert web.status_of("v2") == "GOOD"
    state = world.ledger.load(web.id)
    assert state is not None and state.current is not None
    assert state.good and state.good[0].release_id == state.current.release

    # and another pass, or the lost timer firing late, changes nothing
    again = world.reconcile()
    assert again == _did(again, services=1)
    world.fire_timers()
    assert web.status_of("v2") == "GOOD"
    assert world.count("ecs.UpdateService") == 0


def test_a_completed_release_whose_alarm_is_in_alarm_is_rolled_back_not_promoted(
    completed_release: tuple[Any, Any],
) -> None:
    # Given v2's bake timer never fires and its alarm is in ALARM (that event lost as well)
    world, web = completed_release
    world.cloudwatch.set_state(web.alarm, "ALARM")
    world.clock.advance(_bake_ends(world) + BAKE_GRACE + timedelta(seconds=1))

    # When the reconciler runs
    summary = world.reconcile()

    # Then v2 is not promoted: the lost alarm is decided as its event would have been, a rollback
    assert summary == _did(summary, services=1, lost_alarms=[f"{web.id}: {web.alarm} ROLLED_BACK"])
    assert world.count("ecs.UpdateService") == 1
    assert web.task_definition == web.revisions["v1"]
    world.run_ecs()
    assert web.status_of("v2") == "ROLLED_BACK"


# -- 3. unsent outbox ---------------------------------------------------------------------------


def test_a_notification_the_stream_never_delivered_is_published_once(bad_release: tuple[Any, Any]) -> None:
    # Given the ledger's stream no longer reaches the notifier, and an alarm makes a rollback decision
    world, web = bad_release
    world.auto_publish = False
    answer = world.deliver(web.alarm_fires())
    [decision] = answer["decisions"]
    assert decision["outcome"] == "ROLLED_BACK"
    assert world.notifications() == []

    # When the reconciler runs within the grace it leaves the stream
    early = world.reconcile()

    # Then it publishes nothing yet
    assert early == _did(early, services=1)
    assert world.notifications() == []

    # When the grace is over and the reconciler runs
    world.clock.advance(UNSENT_GRACE + timedelta(seconds=1))
    summary = world.reconcile()

    # Then it published the decision, exactly once
    assert summary == _did(summary, services=1, published=1)
    notices = world.notifications()
    assert [(n["rollback_id"], n["outcome"]) for n in _decided(notices)] == [
        (decision["rollback_id"], "ROLLED_BACK")
    ]
    assert len(notices) == 1
    assert world.ledger.unsent() == []

    # When the reconciler runs again after the claim would have lapsed, and the stream delivers late
    world.clock.advance(timedelta(minutes=2))
    again = world.reconcile()
    world.publish_outbox()

    # Then nothing more is published
    assert again == _did(again, services=1)
    assert world.notifications() == []
    assert world.count("sns.Publish") == 1


# -- 4. stuck lock ------------------------------------------------------------------------------


def test_a_rollback_whose_run_died_holding_the_lock_is_resumed_once_its_lease_lapses(
    bad_release: tuple[Any, Any],
) -> None:
    world, web = bad_release
    with attach(world.emulator) as faults:
        # Given the alarm's run takes the lock, every UpdateService drops its connection and the
        # run cannot free its lease either (as when it dies): the lock is left leased
        faults.add("ecs", "UpdateService", "connection_error", times="always")
        faults.add("dynamodb", "TransactWriteItems", "access_denied", times="always", when=_releases_lease)
        with pytest.raises(TransientFault):  # what Lambda sees as a failed invocation
            world.deliver(web.alarm_fires())
        faults.lift()
        held = world.ledger.load(web.id)
        assert held is not None and held.in_flight is not None
        lock = held.in_flight
        assert lock.step == Step.LOCKED and lock.leased(world.clock.now())
        assert faults.carried_out("ecs", "UpdateService") == 0

        # When the reconciler runs before the lease lapses
        world.clock.advance(timedelta(seconds=30))
        early = world.reconcile()

        # Then it leaves the rollback to the run holding it
        assert early == _did(early, services=1)
        assert faults.carried_out("ecs", "UpdateService") == 0
        untouched = world.ledger.load(web.id)
        assert untouched is not None and untouched.in_flight == lock
        assert web.task_definition == web.revisions["v2"]

        # When the lease has lapsed and the reconciler runs
        world.clock.advance(timedelta(minutes=2))
        summary = world.reconcile()

        # Then it resumed the rollback: one UpdateService, to v1, carried out; ROLLED_BACK recorded
        assert summary == _did(summary, services=1, resumed=[lock.rollback_id])
        updates = [
            call.body
            for call in faults.history
            if (call.service, call.operation, call.carried_out) == ("ecs", "UpdateService", True)
        ]
        assert [update["taskDefinition"] for update in updates] == [lock.target_task_definition_arn]
        assert web.task_definition == web.revisions["v1"]
        [record] = _rollbacks(world, web)
        assert record.rollback_id == lock.rollback_id
        assert record.outcome == Outcome.ROLLED_BACK
        assert record.update_service_at is not None
        assert web.status_of("v2") == "ROLLED_BACK"

        # When ECS carries the rollback out (its events delivered) and the reconciler runs again
        world.run_ecs()
        world.clock.advance(timedelta(minutes=1))
        after = world.reconcile()

    # Then the lock is released, nothing more was done, and the decision was told once
    assert after == _did(after, services=1)
    state = world.ledger.load(web.id)
    assert state is not None and state.in_flight is None
    assert state.current is not None and state.current.task_definition_arn == web.revisions["v1"]
    assert world.calls_after_success("ecs.UpdateService") == 0
    notices = world.notifications()
    assert [n["outcome"] for n in _decided(notices)] == ["ROLLED_BACK"]
    assert [n["result"] for n in _results(notices)] == ["COMPLETED"]


def test_a_rollback_whose_run_failed_and_freed_its_lease_is_resumed_by_the_next_pass(
    bad_release: tuple[Any, Any],
) -> None:
    world, web = bad_release
    with attach(world.emulator) as faults:
        # Given the alarm's run took the lock, UpdateService kept dropping its connection, and the
        # run freed its lease before failing (a transient fault: the platform retries)
        faults.add("ecs", "UpdateService", "connection_error", times="always")
        with pytest.raises(TransientFault):  # what Lambda sees as a failed invocation
            world.deliver(web.alarm_fires())
        faults.lift()
        held = world.ledger.load(web.id)
        assert held is not None and held.in_flight is not None
        assert not held.in_flight.leased(world.clock.now())

        # When the reconciler runs at once
        summary = world.reconcile()

        # Then it resumed it without waiting for the lease: one UpdateService carried out
        assert summary == _did(summary, services=1, resumed=[held.in_flight.rollback_id])
        assert faults.carried_out("ecs", "UpdateService") == 1
    world.run_ecs()
    assert web.task_definition == web.revisions["v1"]
    assert web.status_of("v2") == "ROLLED_BACK"
    state = world.ledger.load(web.id)
    assert state is not None and state.in_flight is None


def test_a_rollback_whose_run_died_after_update_service_is_finished_even_if_ecs_was_faster(
    bad_release: tuple[Any, Any],
) -> None:
    world, web = bad_release
    with attach(world.emulator) as faults:
        # Given the alarm's run got UpdateService carried out, then died before its finishing
        # commit reached the ledger (the lock stays at ``locked``, leased for 90 s)
        faults.add("dynamodb", "TransactWriteItems", "access_denied", times="always", when=_finishes_update)
        with pytest.raises(ClientError):  # what Lambda sees as a failed invocation
            world.deliver(web.alarm_fires())
        faults.lift()
        assert faults.carried_out("ecs", "UpdateService") == 1
    held = world.ledger.load(web.id)
    assert held is not None and held.in_flight is not None and held.in_flight.step == Step.LOCKED
    rollback_id = held.in_flight.rollback_id

    # and ECS deploys v1 and completes, its events delivered, while the dead run's lease still holds
    world.run_ecs()
    assert web.task_definition == web.revisions["v1"]

    # When the lease lapses and the reconciler runs (twice: it reads ECS again the next minute)
    world.clock.advance(timedelta(minutes=3))
    world.reconcile()
    world.clock.advance(timedelta(minutes=1))
    world.reconcile()

    # Then the rollback is recorded as carried out and told, like any other
    assert world.count("ecs.UpdateService") == 1
    assert web.status_of("v2") == "ROLLED_BACK"
    [record] = _rollbacks(world, web)
    assert record.rollback_id == rollback_id and record.outcome == Outcome.ROLLED_BACK
    assert record.update_service_at is not None
    assert [n["outcome"] for n in _decided(world.notifications())] == ["ROLLED_BACK"]


# -- 5. a lock with nothing to finish -----------------------------------------------------------
# No product write path leaves these states (the lock is written with a fresh decision record and
# cleared with its end, in one transaction each); they are built with the ledger's public commit.


def test_a_lock_whose_decision_record_is_gone_is_released(bad_release: tuple[Any, Any]) -> None:
    # Given a lapsed lock at ``locked`` whose decision record does not exist
    world, web = bad_release
    _lock_again(world, web, "gone-rollback", "RB#2026-11-02T09:00:00.000000Z#gone-rollback")

    # When the reconciler runs
    calls = len(world.calls)
    summary = world.reconcile()

    # Then it released the lock and did nothing else: v2 still runs, no decision, no notice
    assert summary == _did(summary, services=1, released=["gone-rollback"])
    state = world.ledger.load(web.id)
    assert state is not None and state.in_flight is None
    assert _calls(world, calls)["ecs.UpdateService"] == 0
    assert web.task_definition == web.revisions["v2"]
    assert _rollbacks(world, web) == []
    assert world.notifications() == []

    # and the next pass finds nothing to do
    again = world.reconcile()
    assert again == _did(again, services=1)


def test_a_lock_whose_rollback_failed_is_released(bad_release: tuple[Any, Any]) -> None:
    # Given a rollback ECS refused (FAILED, recorded and told, unlocked) and a lapsed lock for it
    world, web = bad_release
    with attach(world.emulator) as faults:
        faults.add("ecs", "UpdateService", "access_denied", times="always")
        [decision] = world.deliver(web.alarm_fires())["decisions"]
    assert decision["outcome"] == "FAILED"
    [record] = _rollbacks(world, web)
    world.notifications()
    _lock_again(world, web, record.rollback_id, record.record_key)

    # When the reconciler runs
    calls = len(world.calls)
    summary = world.reconcile()

    # Then it released the lock, tried no UpdateService, told nothing again
    assert summary == _did(summary, services=1, released=[record.rollback_id])
    state = world.ledger.load(web.id)
    assert state is not None and state.in_flight is None
    assert _calls(world, calls)["ecs.UpdateService"] == 0
    assert web.task_definition == web.revisions["v2"]
    assert [r.outcome for r in _rollbacks(world, web)] == [Outcome.FAILED]
    assert world.notifications() == []


def test_a_lock_whose_rollback_completed_is_released(bad_release: tuple[Any, Any]) -> None:
    # Given a rollback carried out and completed (ROLLED_BACK, result COMPLETED) and a lapsed lock for it
    world, web = bad_release
    world.deliver(web.alarm_fires())
    world.run_ecs()
    [record] = _rollbacks(world, web)
    assert record.result == "COMPLETED" and record.update_service_at is not None
    world.notifications()
    world.clock.advance(timedelta(minutes=2))
    _lock_again(world, web, record.rollback_id, record.record_key)

    # When the reconciler runs
    calls = len(world.calls)
    summary = world.reconcile()

    # Then it released the lock and did nothing else
    assert summary == _did(summary, services=1, released=[record.rollback_id])
    state = world.ledger.load(web.id)
    assert state is not None and state.in_flight is None
    assert _calls(world, calls)["ecs.UpdateService"] == 0
    assert world.notifications() == []


# -- 6. cost per pass ---------------------------------------------------------------------------


@pytest.mark.parametrize("services", [1, 10, 23])
def test_an_idle_pass_costs_one_describe_per_ten_services_and_a_query_per_100(
    make_world: Callable[..., Any], make_service: Callable[..., Any], services: int
) -> None:
    # Given N services, each on a GOOD release, nothing lost
    world = make_world()
    fleet = []
    for index in range(services):
        service = make_service(world, name=f"svc{index:02d}", pinned=True)
        service.revision("v2", sha=SHA_V2, pinned=True)
        fleet.append(service)
    for service in fleet:
        service.deploy("v2")
    fleet[0].bake()
    assert {service.status_of("v2") for service in fleet} == {"GOOD"}
    world.clock.advance(timedelta(minutes=5))
    world.reconcile()

    # When the reconciler runs with nothing to do
    calls = len(world.calls)
    summary = world.reconcile()
    made = _calls(world, calls)

    # Then it did nothing, and made a bounded number of calls: one DescribeServices per ten
    # services, the state items by Query (one per 100) and the outbox by one more, no Scan, no write
    assert summary == _did(summary, services=services)
    assert made["ecs.DescribeServices"] == math.ceil(services / 10)
    assert made["dynamodb.Query"] <= math.ceil(services / 100) + 2
    assert made["dynamodb.GetItem"] + made["dynamodb.BatchGetItem"] <= services
    assert sum(made.values()) <= 2 * services + math.ceil(services / 100) + 2, made
    assert not any(made[f"dynamodb.{write}"] for write in WRITES)
    assert made["sns.Publish"] == 0 and made["ecs.UpdateService"] == 0
    assert world.count("dynamodb.Scan") == 0


def test_a_pass_reads_the_services_100_at_a_time(
    make_world: Callable[..., Any], make_service: Callable[..., Any]
) -> None:
    # Given 101 services in the ledger that ECS no longer has (deleted): no deployments to read
    world = make_world()
    make_service(world)  # the cluster exists; its services below do not
    for index in range(101):
        state = lifecycle.new_state(world.ecs.service_id("prod", f"gone{index:03d}"))
        world.ledger.commit(LedgerChange(state=replace(state, version=1), expected_version=0))

    # When the reconciler runs
    calls = len(world.calls)
    summary = world.reconcile()
    made = _calls(world, calls)

    # Then it paged the state items with two Queries (100 a page) plus the outbox's, no Scan
    assert summary == _did(summary, services=101)
    assert made["dynamodb.Query"] <= math.ceil(101 / 100) + 1
    assert made["ecs.DescribeServices"] == math.ceil(100 / 10) + 1  # ten to a call, per page
    assert made["dynamodb.Scan"] == 0
    assert not any(made[f"dynamodb.{write}"] for write in WRITES)


def test_an_alarm_whose_event_was_lost_is_decided_by_the_reconciler_once(
    make_world: Callable[..., Any], make_service: Callable[..., Any]
) -> None:
    # Given v2 just deployed, and its alarm went into ALARM but the event never reached the function
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.deploy("v2")
    world.clock.advance(timedelta(minutes=1))
    web.alarm_fires()  # CloudWatch's state is ALARM; the event is dropped
    world.notifications()

    # When the reconciler runs within the grace, then after it
    early = world.reconcile()
    world.clock.advance(timedelta(minutes=3))
    late = world.reconcile()

    # Then it waited for the event first, then rolled the service back to v1 as the event would have
    assert early["lost_alarms"] == []
    assert late["lost_alarms"] == ["prod/web: web-cpu-high ROLLED_BACK"]
    assert web.task_definition == web.revisions["v1"]
    assert world.count("ecs.UpdateService") == 1
    assert [n["body"]["outcome"] for n in world.notifications()] == ["ROLLED_BACK"]

    # And later passes, with the alarm still in ALARM, decide nothing again
    world.run_ecs()
    world.clock.advance(timedelta(minutes=1))
    again = world.reconcile()
    assert again["lost_alarms"] == []
    assert world.count("ecs.UpdateService") == 1


def test_an_alarm_whose_event_arrived_is_left_to_it(
    make_world: Callable[..., Any], make_service: Callable[..., Any]
) -> None:
    # Given v2 rolled back by its alarm's event, the alarm still in ALARM
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.deploy("v2")
    world.clock.advance(timedelta(minutes=1))
    world.deliver(web.alarm_fires())
    world.run_ecs()
    rollbacks = len(world.ledger.rollbacks(web.id).items)

    # When the reconciler runs long after
    world.clock.advance(timedelta(minutes=10))
    summary = world.reconcile()

    # Then it decides nothing more: the service saw that alarm go off
    assert summary["lost_alarms"] == []
    assert len(world.ledger.rollbacks(web.id).items) == rollbacks
    assert world.count("ecs.UpdateService") == 1
