"""One contract, two ledgers: the DynamoDB adapter on the emulator and the in-memory fake.

Every item the DynamoDB ledger writes is also validated against docs/ledger.schema.json, so the
published schema matches what the code writes.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from boto3.dynamodb.types import TypeDeserializer

from ecs_rollback.adapters.ledger_dynamodb import DynamoDBLedger
from ecs_rollback.contract import table_definition
from ecs_rollback.domain.errors import ConcurrentUpdate, DuplicateTrigger
from ecs_rollback.domain.model import (
    ContainerImage,
    Deployment,
    Halt,
    InFlight,
    Origin,
    Outcome,
    RevisionId,
    RollbackRecord,
    ServiceId,
    ServiceState,
    Status,
    StatusChange,
    TriggerKind,
)
from ecs_rollback.ports import LedgerChange
from tests.ledger_fake import InMemoryLedger

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "ledger.schema.json").read_text())
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
WEB = ServiceId("aws", "us-east-1", "123456789012", "prod", "web")
API = ServiceId("aws", "us-east-1", "123456789012", "prod", "api")


def digest(n: int) -> str:
    return "sha256:" + f"{n:x}".rjust(64, "0")


def deployment(
    service: ServiceId,
    n: int,
    *,
    status: Status = Status.COMPLETED,
    sha: str | None = None,
    minutes: int | None = None,
    revision: int | None = None,
) -> Deployment:
    started = T0 + timedelta(minutes=n if minutes is None else minutes)
    rev = revision or n
    return Deployment(
        service=service,
        deployment_id=f"ecs-svc/{n:05d}",
        task_definition_arn=f"arn:aws:ecs:us-east-1:123456789012:task-definition/{service.name}:{rev}",
        status=status,
        started_at=started,
        updated_at=started,
        images=(
            ContainerImage("app", f"repo/{service.name}:{sha or 'latest'}", digest(n), "ecs-task"),
            ContainerImage("envoy", "envoy:v1.30", None, None),
        ),
        git_sha=sha,
        commit_message=f"commit {n}" if sha else None,
        history=(
            StatusChange(Status.IN_PROGRESS, started),
            StatusChange(status, started + timedelta(minutes=1)),
        ),
        task_definition={"family": service.name, "containerDefinitions": [{"name": "app", "image": "x"}]},
        completed_at=started + timedelta(minutes=1) if status != Status.IN_PROGRESS else None,
    )


def rollback(service: ServiceId, n: int, *, outcome: Outcome = Outcome.ROLLED_BACK) -> RollbackRecord:
    at = T0 + timedelta(minutes=n)
    return RollbackRecord(
        rollback_id=f"rb-{n}",
        service=service,
        trigger=TriggerKind.ALARM,
        trigger_id=f"event-{n}",
        triggered_at=at,
        created_at=at,
        outcome=outcome,
        code="rollback",
        message=f"decision {n}",
        requested_by="ecs-rollback",
        reason="alarm",
        source="web-5xx",
        from_deployment=deployment(service, n).summary(),
        to_deployment=deployment(service, 1).summary(),
    )


@pytest.fixture(params=["memory", "dynamodb"])
def ledger(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return InMemoryLedger()
    emulator = request.getfixturevalue("aws")
    client = emulator.client("dynamodb")
    client.create_table(**table_definition("contract"))
    return DynamoDBLedger(client, "contract")


def test_unknown_service_loads_as_none(ledger):
    assert ledger.load(WEB) is None
    assert ledger.get_deployment(WEB, "ecs-svc/1") is None


def test_state_round_trips_with_its_version(ledger):
    # Given a full service state
    current = deployment(WEB, 3, status=Status.IN_PROGRESS)
    state = ServiceState(
        service=WEB,
        version=1,
        current=current.summary(),
        good=(deployment(WEB, 2, status=Status.GOOD).summary(),),
        in_flight=InFlight(
            "rb-1",
            "RB#x#rb-1",
            current.task_definition_arn,
            current.task_definition_arn,
            None,
            T0,
            T0 + timedelta(minutes=30),
            True,
        ),
        automatic_rollbacks=(T0,),
        halted=Halt("stop", T0, "rb-1"),
        alarms=("web-5xx",),
        last_alarm_at=T0,
        updated_at=T0,
    )
    # When it is committed as new and read back
    ledger.commit(LedgerChange(state=state, expected_version=0))
    # Then it is the same
    assert ledger.load(WEB) == state


def test_stale_version_is_a_concurrent_update(ledger):
    state = ServiceState(service=WEB, version=1)
    ledger.commit(LedgerChange(state=state, expected_version=0))
    ledger.commit(LedgerChange(state=replace(state, version=2), expected_version=1))

    with pytest.raises(ConcurrentUpdate):
        ledger.commit(LedgerChange(state=replace(state, version=2, alarms=("x",)), expected_version=1))
    with pytest.raises(ConcurrentUpdate):
        ledger.commit(LedgerChange(state=replace(state, version=1), expected_version=0))
    assert ledger.load(WEB).version == 2
    assert ledger.load(WEB).alarms == ()


def test_duplicate_decision_writes_nothing_at_all(ledger):
    # Given a decision already recorded
    state = ServiceState(service=WEB, version=1)
    ledger.commit(LedgerChange(state=state, expected_version=0, new_rollback=rollback(WEB, 5)))

    # When the same trigger is committed again with other changes
    with pytest.raises(DuplicateTrigger):
        ledger.commit(
            LedgerChange(
                state=replace(state, version=2, alarms=("again",)),
                expected_version=1,
                deployments=[deployment(WEB, 9)],
                new_rollback=rollback(WEB, 5),
            )
        )

    # Then the transaction wrote none of them
    assert ledger.load(WEB).version == 1
    assert ledger.get_deployment(WEB, "ecs-svc/00009") is None


def test_history_is_newest_first_and_paged(ledger):
    # Given 25 deployments
    ledger.commit(
        LedgerChange(
            state=ServiceState(service=WEB, version=1),
            expected_version=0,
            deployments=[deployment(WEB, n) for n in range(1, 26)],
        )
    )
    # When read 10 at a time
    pages, cursor = [], None
    while True:
        page = ledger.history(WEB, limit=10, cursor=cursor)
        pages.append([d.deployment_id for d in page.items])
        cursor = page.cursor
        if cursor is None:
            break
    # Then three pages, newest first, nothing lost
    flat = [d for page in pages for d in page]
    assert [len(p) for p in pages][:2] == [10, 10]
    assert flat == [f"ecs-svc/{n:05d}" for n in range(25, 0, -1)]


def test_full_deployment_round_trips(ledger):
    record = deployment(WEB, 4, sha="abcdef1234567")
    ledger.commit(LedgerChange(state=None, expected_version=0, deployments=[record]))
    assert ledger.get_deployment(WEB, record.deployment_id) == record
    assert ledger.get_deployment(WEB, record.deployment_id).task_definition == record.task_definition


def test_find_revision_returns_the_newest_deployment_of_it(ledger):
    old = deployment(WEB, 1, revision=7, status=Status.GOOD)
    newer = replace(deployment(WEB, 2, revision=7), status=Status.ROLLED_BACK)
    other = deployment(WEB, 3, revision=70)
    ledger.commit(LedgerChange(state=None, expected_version=0, deployments=[old, newer, other]))

    found = ledger.find_revision(WEB, RevisionId("web", 7))

    assert found is not None and found.deployment_id == newer.deployment_id
    assert found.status == Status.ROLLED_BACK
    assert ledger.find_revision(WEB, RevisionId("web", 8)) is None


def test_git_sha_lookups_by_prefix_in_a_service_and_across_services(ledger):
    sha = "0123456789abcdef0123456789abcdef01234567"
    ledger.commit(
        LedgerChange(
            state=None,
            expected_version=0,
            deployments=[
                deployment(WEB, 1, sha=sha),
                deployment(API, 2, sha=sha),
                deployment(WEB, 3, sha="fedcba9876543"),
            ],
        )
    )

    in_service = ledger.find_git_sha(WEB, sha[:7])
    across = ledger.deployments_of_git_sha(sha).items

    assert [d.deployment_id for d in in_service] == ["ecs-svc/00001"]
    assert {d.service for d in across} == {WEB, API}
    assert [d.deployment_id for d in across] == ["ecs-svc/00002", "ecs-svc/00001"]


def test_image_digest_lookup_across_services(ledger):
    shared = replace(
        deployment(API, 8), images=(ContainerImage("app", "repo/web:latest", digest(1), "ecs-task"),)
    )
    ledger.commit(LedgerChange(state=None, expected_version=0, deployments=[deployment(WEB, 1), shared]))

    uses = ledger.deployments_of_digest(digest(1)).items

    assert [(u.service, u.deployment_id, u.container) for u in uses] == [
        (API, "ecs-svc/00008", "app"),
        (WEB, "ecs-svc/00001", "app"),
    ]
    assert ledger.deployments_of_digest(digest(999)).items == []


def test_rollbacks_newest_first_and_updates(ledger):
    ledger.commit(LedgerChange(state=None, expected_version=0, new_rollback=rollback(WEB, 1)))
    ledger.commit(
        LedgerChange(state=None, expected_version=0, new_rollback=rollback(WEB, 2, outcome=Outcome.SKIPPED))
    )
    finished = replace(rollback(WEB, 1), result="COMPLETED", result_at=T0 + timedelta(hours=1))
    ledger.commit(LedgerChange(state=None, expected_version=0, rollback_updates=[finished]))

    records = ledger.rollbacks(WEB).items

    assert [r.rollback_id for r in records] == ["rb-2", "rb-1"]
    assert records[1].result == "COMPLETED"
    assert ledger.get_rollback(WEB, finished.record_key) == finished


def test_services_lists_every_service(ledger):
    for service in (WEB, API):
        ledger.commit(LedgerChange(state=ServiceState(service=service, version=1), expected_version=0))
    assert {state.service for state in ledger.services().items} == {WEB, API}


def test_every_item_written_matches_the_published_schema(aws):
    # Given a DynamoDB ledger holding every kind of item
    client = aws.client("dynamodb")
    client.create_table(**table_definition("schema"))
    ledger = DynamoDBLedger(client, "schema")
    current = deployment(WEB, 2, sha="abcdef1234567")
    state = ServiceState(
        service=WEB,
        version=1,
        current=current.summary(),
        good=(deployment(WEB, 1, status=Status.GOOD).summary(),),
        in_flight=InFlight(
            "rb-1",
            "RB#x",
            current.task_definition_arn,
            current.task_definition_arn,
            current.task_definition_arn,
            T0,
            T0 + timedelta(minutes=5),
            False,
        ),
        automatic_rollbacks=(T0,),
        halted=Halt("stop", T0),
        alarms=("a",),
        last_alarm_at=T0,
        updated_at=T0,
    )
    adopted = replace(deployment(WEB, 1, status=Status.GOOD), origin=Origin.ADOPTED, adopted=True, good_at=T0)
    ledger.commit(
        LedgerChange(
            state=state,
            expected_version=0,
            deployments=[adopted, current],
            new_rollback=replace(rollback(WEB, 3), pinned_images=current.images[:1]),
        )
    )

    # When the table is read raw
    deserializer = TypeDeserializer()
    raw = client.scan(TableName="schema")["Items"]
    plain = [
        json.loads(json.dumps({k: deserializer.deserialize(v) for k, v in item.items()}, default=int))
        for item in raw
    ]

    # Then every item validates, and every kind was written
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for item in plain:
        errors = sorted(validator.iter_errors(item), key=str)
        assert not errors, f"{item['entity']} item does not match the schema: {errors[0].message}"
    assert {item["entity"] for item in plain} == {"service", "deployment", "rollback", "image_use"}
