"""Every ordinary AWS fault, on every call a rollback makes, on both paths: nothing is lost or false.

Each cell takes a bad release (v1 GOOD, v2 deployed and COMPLETED), injects one fault kind on one
operation in the emulator's request path (once, or on every attempt), and plays what the platform
does: EventBridge's asynchronous invoke retries an automatic rollback twice, a minute apart; an
operator repeats a manual request that answered ``aws_unavailable`` (or ``access_denied``, once the
permission is fixed). Then the fault is lifted, the
lease lapses, and the reconciler and ECS run. Whatever happened in between, the cell must end in
one of three honest states:

- **rolled back**: ECS runs v1, the ledger says v2 ROLLED_BACK and records one ROLLED_BACK
  decision, notified once (at least once when SNS lost its answer: SNS has no idempotency key);
- **failed, recorded**: a permanent refusal (access denied on UpdateService): ECS still runs v2,
  the decision is FAILED and notified, the service is unlocked;
- **never started**: every attempt failed before the ledger took the service's lock (access
  denied, or a fault on every attempt, on the first reads): nothing changed, nothing recorded, the
  event is in the function's failure queue for a redrive.

And in every cell: ECS carries out ``UpdateService`` only for the decision's target, and the product
never calls it again once ECS answered it (a call whose answer was lost is retried by botocore with
the identical request, and a resumed rollback asks ECS first); the ledger's current release is what
ECS runs, and no lock outlives the cell.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest

from ecs_rollback.domain.model import Outcome, RevisionId
from ecs_rollback_sandbox.faults import FaultKind, attach

pytestmark = [pytest.mark.emulator, pytest.mark.timeout(120)]

# The calls a rollback makes on either path that a fault can hit (the test below checks that a
# clean run makes each of them, so no cell passes by faulting a call nobody makes).
OPERATIONS = (
    ("dynamodb", "GetItem"),
    ("dynamodb", "TransactWriteItems"),
    ("dynamodb", "UpdateItem"),
    ("ecs", "UpdateService"),
    ("sns", "Publish"),
)
FAULTS = ("throttle", "server_error", "connection_error", "lost_answer", "access_denied")
TIMES = ("once", "always")
PATHS = ("automatic", "manual")
PLATFORM_RETRIES = 2  # Lambda's asynchronous invoke: two retries after the first attempt


def _automatic(world: Any, web: Any) -> list[Any]:
    """The alarm fires; the asynchronous invoke is retried on error, a minute, then two, later."""
    event = web.alarm_fires()
    answers: list[Any] = []
    for attempt in range(1 + PLATFORM_RETRIES):
        try:
            answers.append(world.deliver(event))
            return answers
        except Exception as error:  # what Lambda sees as a failed invocation
            answers.append(error)
            world.clock.advance(timedelta(minutes=attempt + 1))
    return answers


def _manual(world: Any, web: Any) -> list[Any]:
    """The operator's request: a synchronous invoke, always answered (an error is an answer)."""
    answer = world.manual(cluster="prod", service="web")
    assert answer.get("error") in (None, "aws_unavailable", "access_denied"), answer
    return [answer]


def _run(
    world: Any, web: Any, path: str, fault: str, times: str, service: str, operation: str
) -> list[dict[str, Any]]:
    """Play the cell; the UpdateService requests ECS carried out, in order."""
    with attach(world.emulator) as faults:
        faults.add(service, operation, cast(FaultKind, fault), times="always" if times == "always" else 1)
        answers = _automatic(world, web) if path == "automatic" else _manual(world, web)
        # The fault is over. The lease of any run that died lapses; the reconciler and ECS run.
        faults.lift()
        world.clock.advance(timedelta(minutes=3))
        world.reconcile()
        world.run_ecs()
        if path == "manual" and web.task_definition != web.revisions["v1"]:
            last = answers[-1]
            if last.get("error") in ("aws_unavailable", "access_denied"):
                answers.append(world.manual(cluster="prod", service="web"))  # the operator repeats it
                world.run_ecs()
        world.reconcile()  # publishes whatever the stream path left unsent
        return [
            call.body
            for call in faults.history
            if (call.service, call.operation, call.carried_out) == ("ecs", "UpdateService", True)
        ]


def _rollbacks(world: Any, web: Any) -> list[Any]:
    return list(world.ledger.rollbacks(web.id, limit=50).items)


CELLS = [
    pytest.param(path, fault, times, service, operation, id=f"{path}-{service}.{operation}-{fault}-{times}")
    for path in PATHS
    for service, operation in OPERATIONS
    for fault in FAULTS
    for times in TIMES
    if not (fault == "access_denied" and times == "once")  # a refusal is never retried: "always" covers it
]


@pytest.mark.parametrize(("path", "fault", "times", "service", "operation"), CELLS)
def test_a_fault_leaves_a_rolled_back_a_recorded_failure_or_an_untouched_service(
    bad_release: tuple[Any, Any], path: str, fault: str, times: str, service: str, operation: str
) -> None:
    world, web = bad_release
    world.calls.clear()

    # When the rollback meets the fault and the platform plays its part
    updates = _run(world, web, path, fault, times, service, operation)

    # Then ECS updated the service only to one target, and was not asked again once it had answered
    assert len({update["taskDefinition"] for update in updates}) <= 1, updates
    assert world.calls_after_success("ecs.UpdateService") == 0
    running = web.task_definition
    assert running in (web.revisions["v1"], web.revisions["v2"])

    # the ledger's current deployment is what ECS runs, and no lock is left
    state = world.ledger.load(web.id)
    assert state is not None
    assert state.current is not None
    assert state.current.task_definition_arn == running
    assert state.in_flight is None, state.in_flight

    records = _rollbacks(world, web)
    outcomes = [record.outcome for record in records]
    notices = [note["body"] for note in world.notifications()]
    decided = [note for note in notices if note.get("rollback_id") and "result" not in note]
    results = [note for note in notices if note.get("rollback_id") and "result" in note]

    if running == web.revisions["v1"]:
        # rolled back: one ROLLED_BACK decision, v2 recorded ROLLED_BACK, told once (or more, on a
        # lost SNS answer)
        assert outcomes.count(Outcome.ROLLED_BACK) == 1, outcomes
        assert web.status_of("v2") == "ROLLED_BACK"
        rolled = [note for note in decided if note["outcome"] == "ROLLED_BACK"]
        if (service, operation, fault) == ("sns", "Publish", "lost_answer"):
            assert len(rolled) >= 1
            assert len(results) >= 1
        else:
            assert len(rolled) == 1, notices
            assert [note["result"] for note in results] == ["COMPLETED"], notices
    elif Outcome.FAILED in outcomes:
        # failed, recorded: only a permanent refusal of the update itself
        assert (service, operation, fault) == ("ecs", "UpdateService", "access_denied")
        assert [note["outcome"] for note in decided] == ["FAILED"]
        assert web.status_of("v2") != "ROLLED_BACK"
    else:
        # never started: nothing recorded, nothing told, nothing changed
        assert times == "always" or fault == "access_denied", (outcomes, notices)
        assert outcomes == []
        assert decided == [] and results == []
        assert web.status_of("v2") != "ROLLED_BACK"
        assert world.count("ecs.UpdateService") == 0

    # a transient fault that clears is never an excuse: the rollback happened
    if times == "once":
        assert running == web.revisions["v1"]
    # every decision recorded was told
    for record in records:
        assert any(note["rollback_id"] == record.rollback_id for note in decided), record.rollback_id


@pytest.mark.parametrize("path", PATHS)
def test_the_matrix_faults_calls_a_clean_rollback_makes(bad_release: tuple[Any, Any], path: str) -> None:
    # Given a clean rollback on this path, counted at the emulator
    world, web = bad_release
    with attach(world.emulator) as faults:
        _automatic(world, web) if path == "automatic" else _manual(world, web)
        made = set(faults.counts)

    # Then it rolled back, and made every call the matrix faults
    assert web.task_definition == web.revisions["v1"]
    assert set(OPERATIONS) <= made, sorted(set(OPERATIONS) - made)


def test_a_resumed_rollback_asks_ecs_first_and_survives_a_fault_there(bad_release: tuple[Any, Any]) -> None:
    # Given the finish commit of an alarm rollback always fails after UpdateService landed
    world, web = bad_release
    with attach(world.emulator) as faults:
        faults.add("dynamodb", "TransactWriteItems", "server_error", times="always", when=_finishes_update)
        _automatic(world, web)
    assert web.task_definition == web.revisions["v1"]
    assert world.count("ecs.UpdateService") == 1

    # When the reconciler resumes it and ECS's DescribeServices throttles once
    world.clock.advance(timedelta(minutes=3))
    with attach(world.emulator) as faults:
        faults.add("ecs", "DescribeServices", "throttle", times=1)
        world.reconcile()
        assert faults.calls("ecs", "DescribeServices") >= 2

    # Then it found the update done and only recorded it: no second UpdateService
    world.run_ecs()
    assert world.count("ecs.UpdateService") == 1
    assert web.status_of("v2") == "ROLLED_BACK"
    state = world.ledger.load(web.id)
    assert state is not None and state.in_flight is None
    assert state.current is not None
    assert RevisionId.from_arn(state.current.task_definition_arn) == RevisionId.from_arn(web.revisions["v1"])


def _finishes_update(body: dict[str, Any]) -> bool:
    """The transaction that records an UpdateService as done: the state's in-flight step ``updated``."""
    for item in body.get("TransactItems", []):
        in_flight = item.get("Put", {}).get("Item", {}).get("in_flight", {}).get("M", {})
        if in_flight.get("step", {}).get("S") == "updated":
            return True
    return False


@pytest.mark.parametrize(
    ("fault", "code", "advice"),
    [
        ("throttle", "aws_unavailable", "repeat the request"),
        ("connection_error", "aws_unavailable", "repeat the request"),
        ("access_denied", "access_denied", "Redeploy the stack"),
    ],
)
def test_a_manual_request_the_ledger_cannot_serve_answers_what_happened_and_what_to_do(
    bad_release: tuple[Any, Any], fault: str, code: str, advice: str
) -> None:
    # Given the ledger fails every read of the manual function
    world, web = bad_release
    with attach(world.emulator) as faults:
        faults.add("dynamodb", "GetItem", cast(FaultKind, fault), times="always")

        # When an operator asks for a rollback
        answer = world.manual(cluster="prod", service="web")

    # Then the answer names the fault and the way on, and nothing changed
    assert answer["error"] == code
    assert "GetItem" in answer["message"] or fault == "connection_error"
    assert advice in answer["message"]
    assert web.task_definition == web.revisions["v2"]
    assert world.count("ecs.UpdateService") == 0
