"""A state machine over one emulated account: releases, alarms, redeliveries, faults, the
reconciler, ECS and time, in any order Hypothesis picks; the rollback service must stay honest.

Each example is a fresh world (the emulator emptied, a new ledger) with one or two services, each
created on v1, its first deployment reported by ECS, baked to GOOD, and then v2 deployed. (The
ledger knows every service before any alarm: an event that reaches a service the ledger has not
seen yet, delivered again once it has, is covered by the test at the end of this file, which this
machine found.) Rules a step may take:

- a person deploys a new release of a service: it completes, fails (ECS's FAILED event is
  delivered), or stays IN_PROGRESS (a later rule lets ECS complete or fail it);
- a linked alarm fires (the event is delivered);
- EventBridge delivers again an event it delivered before (a duplicate);
- an alarm event is delivered while one AWS operation (ECS UpdateService, DynamoDB GetItem,
  TransactWriteItems or UpdateItem, SNS Publish) fails transiently, once or on every attempt; an
  invocation that raises is what Lambda retries, so the event is kept and a later rule redelivers
  it once the fault is over;
- the reconciler's schedule fires (optionally after the lease of any run lapsed), then ECS acts;
- ECS starts (and completes, or leaves IN_PROGRESS) the deployments UpdateService asked for;
- time passes and Scheduler fires the due bake timers.

Invariants, after every step:

- a product ``UpdateService`` never targets a release the ledger records BAD;
- per decision, once ECS answered a rollback's ``UpdateService`` with success, the product does
  not call it again for that service until a new ROLLED_BACK decision is recorded (a retry after a
  lost answer is allowed: the client never saw the success), and no step makes two successful
  ones for one service;
- no rollback record is notified twice (but where SNS lost a Publish answer: SNS has no
  idempotency key);
- an in-flight lock names a ROLLED_BACK record of the ledger;

after every reconciler run followed by ECS: the ledger's current task definition is what ECS runs;
and at the end of every example (faults lifted, leases lapsed, the reconciler and ECS run): the
same, no unfinished rollback is left, and every rollback record was notified exactly once.

Size: 15 examples of up to 8 steps each (``max_examples=15, stateful_step_count=8``): 60 to 100 s
on 2 cores (most of it the emulator, and boto3 clients built for each example's functions); about
two thirds of the examples roll back at least once. botocore's retry backoff is zeroed for this
test (the number of attempts is unchanged): the clock is manual, and the real sleeps of
``times="always"`` faults would dominate. Nothing is written to a Hypothesis database.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import hypothesis
import pytest
from botocore.retries import standard
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ecs_rollback.domain.model import Outcome, ServiceId, Verdict
from ecs_rollback.domain.notices import NoticeKind
from ecs_rollback_sandbox.clock import ManualClock
from ecs_rollback_sandbox.emulator import Emulator
from ecs_rollback_sandbox.faults import FaultInjector, attach
from ecs_rollback_sandbox.world import World
from tests.integration.conftest import SHA_V1, Service

pytestmark = [pytest.mark.emulator, pytest.mark.timeout(300)]

SERVICE_NAMES = ("web", "api")
OPERATIONS = (
    ("ecs", "UpdateService"),
    ("dynamodb", "GetItem"),
    ("dynamodb", "TransactWriteItems"),
    ("dynamodb", "UpdateItem"),
    ("sns", "Publish"),
)
TRANSIENT = ("throttle", "server_error", "connection_error", "lost_answer")
CLOCK_STEPS = (timedelta(seconds=30), timedelta(minutes=3), timedelta(minutes=11), timedelta(minutes=61))

SETTINGS = settings(
    max_examples=15,
    stateful_step_count=8,
    deadline=None,
    database=None,  # nothing written into the checkout; a failure prints its steps
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _make_service(world: World, name: str) -> Service:
    """As ``make_service`` does: a service on v1 (pinned images) with a CPU alarm on its dimensions."""
    service = Service(
        world, world.ecs.service_id("prod", name), world.repository_uri(name), {}, f"{name}-cpu-high"
    )
    v1 = service.revision("v1", sha=SHA_V1, pinned=True)
    world.ecs.create_service("prod", name, v1)
    world.cloudwatch.create_service_alarm(service.alarm, "prod", name)
    return service


class RollbackMachine(RuleBasedStateMachine):
    events = Bundle("events")

    def __init__(self, emulator: Emulator) -> None:
        super().__init__()
        emulator.reset()
        # Every kind of decision notifies, so "each record told exactly once" covers the skips too.
        self.world = World.direct(emulator, ManualClock(), notify_on=list(NoticeKind))
        self.services: dict[str, Service] = {}
        self.releases = {name: itertools.count(2) for name in SERVICE_NAMES}
        self.failed: list[dict[str, Any]] = []  # invocations Lambda will retry
        self.notices: list[dict[str, Any]] = []  # every decision notice published so far
        self.sns_lost_answer = False
        self.harness_requests: set[int] = set()  # indices in the history of the harness's own calls
        self.checked = 0  # requests in the history already checked
        self.succeeded: dict[ServiceId, int] = {}  # ROLLED_BACK records when ECS last answered one
        self.faults: FaultInjector = attach(emulator)  # last: teardown detaches it

    # -- set-up -------------------------------------------------------------------------

    @initialize(count=st.integers(min_value=1, max_value=len(SERVICE_NAMES)))
    def create_services(self, count: int) -> None:
        for name in SERVICE_NAMES[:count]:
            start = len(self.faults.history)
            service = self.services[name] = _make_service(self.world, name)
            self._harness_since(start)
            # CreateService's own deployment, reported as ECS reports it: the ledger knows v1 from
            # here (see test_an_alarm_redelivered_after_the_service_became_known_... for why the
            # machine never lets an event reach a service the ledger has not seen yet)
            self.world.deliver(self.world.ecs.first_deployment(service.id))
            self.world.clock.advance(timedelta(minutes=2))
            self.world.deliver(self.world.ecs.complete(service.id))
        # v1's bake time passes with no alarm: GOOD, the target of the rollbacks to come
        self.world.clock.advance(timedelta(seconds=self.world.settings["bake_timer"].bake_time_seconds + 1))
        self.world.fire_timers()
        for service in self.services.values():
            assert service.status_of("v1") == "GOOD"
            # and v2 deployed: the release the first alarm (or failure) blames
            self.deploy_release(service, "completes")
        self.world.clock.advance(timedelta(minutes=1))

    def _harness_since(self, start: int) -> None:
        history = self.faults.history
        self.harness_requests.update(range(start, len(history)))

    def _service(self, data: st.DataObject) -> Service:
        return self.services[data.draw(st.sampled_from(sorted(self.services)), label="service")]

    # -- a person, CloudWatch, EventBridge -----------------------------------------------

    @rule(target=events, data=st.data(), outcome=st.sampled_from(("completes", "fails", "in_progress")))
    def a_person_deploys_a_new_release(self, data: st.DataObject, outcome: str) -> Any:
        failed = self.deploy_release(self._service(data), outcome)
        return multiple() if failed is None else failed

    def deploy_release(self, service: Service, outcome: str) -> dict[str, Any] | None:
        """UpdateService by a deploy tool, then ECS's part; the FAILED event when it ``fails``."""
        label = f"v{next(self.releases[service.id.name])}"
        start = len(self.faults.history)
        service.revision(label, pinned=True, content=f"{service.id.name}-{label}")
        self.world.clock.advance(timedelta(minutes=1))
        self.world.emulator.client("ecs").update_service(
            cluster=service.id.cluster, service=service.id.name, taskDefinition=service.revisions[label]
        )
        self._harness_since(start)
        self.world.run_ecs(complete=outcome == "completes")
        if outcome != "fails":
            return None
        self.world.clock.advance(timedelta(minutes=2))
        failed = self.world.ecs.fail(service.id)
        self.world.deliver(failed)
        return failed

    @rule(target=events, data=st.data())
    def alarm_fires(self, data: st.DataObject) -> dict[str, Any]:
        service = self._service(data)
        self.world.clock.advance(timedelta(seconds=30))
        event = service.alarm_fires()
        self.world.deliver(event)
        return event

    @rule(event=events)
    def duplicate_delivery(self, event: dict[str, Any]) -> None:
        self.world.deliver(event)

    @rule(
        target=events,
        data=st.data(),
        operation=st.sampled_from(OPERATIONS),
        kind=st.sampled_from(TRANSIENT),
        always=st.booleans(),
    )
    def alarm_fires_during_a_fault(
        self, data: st.DataObject, operation: tuple[str, str], kind: str, always: bool
    ) -> dict[str, Any]:
        service = self._service(data)
        self.world.clock.advance(timedelta(seconds=30))
        alarm = service.alarm_fires()
        if operation == ("sns", "Publish") and kind == "lost_answer":
            self.sns_lost_answer = True
        self.faults.add(*operation, kind, times="always" if always else 1)  # type: ignore[arg-type]
        try:
            self.world.deliver(alarm)
            hypothesis.event("a fault was absorbed by the SDK's retries")
        except Exception:  # the invocation failed: Lambda retries it later
            self.failed.append(alarm)
            hypothesis.event("a fault failed the invocation")
        finally:
            self.faults.lift()
        return alarm

    @precondition(lambda self: bool(self.failed))
    @rule()
    def lambda_retries_a_failed_invocation(self) -> None:
        self.world.clock.advance(timedelta(minutes=1))
        self.world.deliver(self.failed.pop(0))

    # -- the platform ---------------------------------------------------------------------

    @rule(lapse=st.booleans())
    def reconciler_runs(self, lapse: bool) -> None:
        if lapse:  # the lease of any run that died lapses first
            self.world.clock.advance(timedelta(seconds=self.world.settings["reconciler"].lease_seconds + 1))
        self.world.reconcile()
        self.world.run_ecs()
        for service in self.services.values():
            self._assert_ledger_matches_ecs(service)

    @rule(complete=st.booleans())
    def ecs_deploys_what_update_service_asked(self, complete: bool) -> None:
        self.world.run_ecs(complete=complete)

    @precondition(lambda self: any(self._in_progress(s) for s in self.services.values()))
    @rule(target=events, data=st.data(), fail=st.booleans())
    def ecs_ends_a_deployment_in_progress(self, data: st.DataObject, fail: bool) -> Any:
        candidates = sorted(name for name, s in self.services.items() if self._in_progress(s))
        service = self.services[data.draw(st.sampled_from(candidates), label="deploying")]
        self.world.clock.advance(timedelta(minutes=2))
        event = self.world.ecs.fail(service.id) if fail else self.world.ecs.complete(service.id)
        self.world.deliver(event)
        return event if fail else multiple()

    @rule(step=st.sampled_from(CLOCK_STEPS))
    def time_passes(self, step: timedelta) -> None:
        self.world.clock.advance(step)
        self.world.fire_timers()

    def _in_progress(self, service: Service) -> bool:
        described = self.world.emulator.client("ecs").describe_services(
            cluster=service.id.cluster, services=[service.id.name]
        )["services"][0]
        primary = described["deployments"][0] if described["deployments"] else {}
        return bool(
            primary.get("rolloutState") == "IN_PROGRESS" and not self.world.ecs.pending_update(service.id)
        )

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def update_service_only_to_good_releases_and_once_per_decision(self) -> None:
        history = self.faults.history
        ordered = [
            call
            for index, call in enumerate(history[self.checked :], start=self.checked)
            if (call.service, call.operation) == ("ecs", "UpdateService")
            and index not in self.harness_requests
        ]
        self.checked = len(history)
        if not ordered:
            return
        # A verdict never goes from BAD back in these rules: read after the step, it covers the
        # decisions the step made.
        bad = {service.id: self._bad_task_definitions(service.id) for service in self.services.values()}
        successes: set[ServiceId] = set()
        for call in ordered:
            service = self._by_name(call.body["service"])
            target = call.body["taskDefinition"]
            assert target not in bad[service.id], (
                f"UpdateService of {service.id.name} to {target}, recorded BAD"
            )
            assert service.id not in successes, f"a second UpdateService of {service.id.name} in one step"
            decisions = self._rolled_back(service.id)
            answered = self.succeeded.get(service.id)
            assert answered is None or decisions > answered, (
                f"UpdateService of {service.id.name} called again after ECS answered it, "
                f"with no new decision ({decisions} ROLLED_BACK records)"
            )
            if call.fault is None:  # ECS answered it, and the client read the answer
                successes.add(service.id)
                self.succeeded[service.id] = decisions

    @invariant()
    def no_decision_is_notified_twice_and_locks_name_their_decision(self) -> None:
        self._drain()
        for service in self.services.values():
            records = self._records(service.id)
            for record in records:
                told = [n for n in self.notices if n["rollback_id"] == record.rollback_id]
                if not self.sns_lost_answer:
                    assert len(told) <= 1, (record.rollback_id, told)
            state = self.world.ledger.load(service.id)
            if state is not None and state.in_flight is not None:
                owner = [r for r in records if r.rollback_id == state.in_flight.rollback_id]
                assert [r.outcome for r in owner] == [Outcome.ROLLED_BACK], (state.in_flight, owner)

    def teardown(self) -> None:
        try:
            self.faults.lift()
            while self.failed:  # what Lambda's retries still owe
                self.lambda_retries_a_failed_invocation()
            self.world.clock.advance(timedelta(seconds=self.world.settings["reconciler"].lease_seconds + 1))
            self.world.reconcile()
            self.world.run_ecs()
            self.world.reconcile()  # publishes what the stream path left unsent
            self.update_service_only_to_good_releases_and_once_per_decision()
            self._drain()
            outcomes = sorted(
                record.outcome.value
                for service in self.services.values()
                for record in self._records(service.id)
            )
            hypothesis.event(f"rolled back {outcomes.count('ROLLED_BACK')} time(s)")
            for service in self.services.values():
                self._assert_ledger_matches_ecs(service)
                state = self.world.ledger.load(service.id)
                in_flight = state.in_flight if state is not None else None
                assert in_flight is None or not in_flight.unfinished, in_flight
                for record in self._records(service.id):
                    told = [n for n in self.notices if n["rollback_id"] == record.rollback_id]
                    if self.sns_lost_answer:
                        assert told, record.rollback_id
                    else:
                        assert len(told) == 1, (record.rollback_id, record.outcome, told)
        finally:
            self.faults.detach()

    # -- reading the world ----------------------------------------------------------------

    def _assert_ledger_matches_ecs(self, service: Service) -> None:
        state = self.world.ledger.load(service.id)
        if state is None:  # never heard of: adopted on its first deployment event; nothing decided
            assert self._records(service.id) == []
            return
        assert state.current is not None
        running = service.task_definition
        assert state.current.task_definition_arn == running, (service.id.name, state.current, running)

    def _drain(self) -> None:
        for note in self.world.notifications():
            body = note["body"]
            if body.get("rollback_id") and "result" not in body:
                self.notices.append(body)

    def _records(self, service: ServiceId) -> list[Any]:
        return list(self.world.ledger.rollbacks(service, limit=100).items)

    def _rolled_back(self, service: ServiceId) -> int:
        return sum(1 for record in self._records(service) if record.outcome == Outcome.ROLLED_BACK)

    def _bad_task_definitions(self, service: ServiceId) -> set[str]:
        ledger = self.world.ledger
        bad: set[str] = set()
        seen: set[str] = set()
        for deployment in ledger.history(service, limit=100).items:
            if deployment.status.is_bad:
                bad.add(deployment.task_definition_arn)
            if deployment.release in seen:
                continue
            seen.add(deployment.release)
            release = ledger.get_release(service, deployment.release)
            if release is not None and release.verdict == Verdict.BAD:
                bad.update({*release.revisions, release.rollback_task_definition_arn})
        return bad

    def _by_name(self, name_or_arn: str) -> Service:
        return self.services[name_or_arn.rsplit("/", 1)[-1]]


def test_an_alarm_redelivered_after_the_service_became_known_is_recorded_and_notified(
    make_world: Any, make_service: Any
) -> None:
    # Given an alarm event delivered while the ledger has not seen the service (told: unknown_service)
    world = make_world()
    web = make_service(world, pinned=True)
    alarm = web.alarm_fires()
    first = world.deliver(alarm)
    assert first["decisions"][0]["code"] == "unknown_service"
    # and then v2 deployed: the ledger adopts v1 as GOOD and records v2
    web.revision("v2", pinned=True)
    web.deploy("v2")
    world.notifications()
    world.clock.advance(timedelta(minutes=1))

    # When EventBridge delivers the alarm event again, and later the reconciler and ECS run
    world.deliver(alarm)
    world.clock.advance(timedelta(seconds=world.settings["reconciler"].lease_seconds + 1))
    world.reconcile()
    world.run_ecs()
    world.reconcile()

    # Then whatever was decided is carried through: the ledger matches ECS, the lock is free, and
    # a rollback ECS carried out is recorded and notified once
    state = world.ledger.load(web.id)
    assert state is not None and state.current is not None
    assert state.in_flight is None, state.in_flight
    assert state.current.task_definition_arn == web.task_definition
    if world.count("ecs.UpdateService"):
        assert web.status_of("v2") == "ROLLED_BACK"
        (record,) = [r for r in world.ledger.rollbacks(web.id).items if r.outcome == Outcome.ROLLED_BACK]
        assert record.update_service_at is not None
        told = [
            n["body"] for n in world.notifications() if n["body"].get("rollback_id") == record.rollback_id
        ]
        assert [body["outcome"] for body in told if "result" not in body] == ["ROLLED_BACK"]


def test_the_rollback_service_stays_honest_whatever_happens(
    aws: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given botocore's retries without their real sleeps (the attempts are as in AWS)
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)

    # When Hypothesis plays the rules in many orders, Then every invariant holds after every step
    run_state_machine_as_test(lambda: RollbackMachine(aws), settings=SETTINGS)
