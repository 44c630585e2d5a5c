"""One contract, two ledgers: the DynamoDB adapter on the emulator and the in-memory fake.

Every item the DynamoDB ledger writes is also validated against docs/ledger.schema.json, so the
published schema matches what the code writes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from ecs_rollback.adapters.ledger_dynamodb import DynamoDBLedger
from ecs_rollback.contract import table_definition
from ecs_rollback.domain.errors import ConcurrentUpdate, DuplicateTrigger
from ecs_rollback.domain.model import (
    ContainerImage,
    Deployment,
    Origin,
    Outcome,
    Release,
    RevisionId,
    RollbackRecord,
    ServiceId,
    Status,
    StatusChange,
    TriggerKind,
    Verdict,
)
from ecs_rollback.domain.state import Halt, InFlight, ServiceState
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
        release_id=release_id_for(service, rev),
    )


def release_id_for(service: ServiceId, revision: int) -> str:
    """A well-formed release id, distinct per service and revision."""
    return "rel-" + hashlib.sha1(f"{service.arn}:{revision}".encode()).hexdigest()


def release(
    service: ServiceId, n: int, *, verdict: Verdict | None = Verdict.GOOD, copy: int | None = None
) -> Release:
    """The release of ``deployment(service, n)``; ``copy`` is the revision of its pinned copy."""
    source = deployment(service, n)
    copy_arn = (
        source.task_definition_arn.rsplit(":", 1)[0] + f":{copy}" if copy else source.task_definition_arn
    )
    return Release(
        release_id=source.release,
        service=service,
        source_task_definition_arn=source.task_definition_arn,
        rollback_task_definition_arn=copy_arn,
        first_seen_at=source.started_at,
        last_deployed_at=source.started_at,
        revisions=tuple(dict.fromkeys((source.task_definition_arn, copy_arn))),
        images=source.images,
        verdict=verdict,
        verdict_at=source.started_at if verdict else None,
        verdict_reason="baked with no alarm"
        if verdict == Verdict.GOOD
        else ("rolled back" if verdict else None),
        good_at=source.started_at if verdict == Verdict.GOOD else None,
        bad_at=source.started_at if verdict == Verdict.BAD else None,
        last_deployment_id=source.deployment_id,
        git_sha=source.git_sha,
        task_definition=source.task_definition,
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
        to_release=release(service, 1).ref(),
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
        current=current.compact(),
        good=(release(WEB, 2).ref(),),
        families=("web",),
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
        ledger.commit(LedgerChange(state=replace(state, version=2, last_alarm_at=T0), expected_version=1))
    with pytest.raises(ConcurrentUpdate):
        ledger.commit(LedgerChange(state=replace(state, version=1), expected_version=0))
    assert ledger.load(WEB).version == 2
    assert ledger.load(WEB).last_alarm_at is None


def test_duplicate_decision_writes_nothing_at_all(ledger):
    # Given a decision already recorded
    state = ServiceState(service=WEB, version=1)
    ledger.commit(LedgerChange(state=state, expected_version=0, new_rollback=rollback(WEB, 5)))

    # When the same trigger is committed again with other changes
    with pytest.raises(DuplicateTrigger):
        ledger.commit(
            LedgerChange(
                state=replace(state, version=2, last_alarm_at=T0),
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
        current=current.compact(),
        good=(release(WEB, 1, copy=9).ref(),),
        families=("web",),
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
        last_alarm_at=T0,
        updated_at=T0,
    )
    adopted = replace(deployment(WEB, 1, status=Status.GOOD), origin=Origin.ADOPTED, adopted=True, good_at=T0)
    ledger.commit(
        LedgerChange(
            state=state,
            expected_version=0,
            deployments=[adopted, current],
            releases=[release(WEB, 1, copy=9), release(WEB, 2, verdict=Verdict.BAD)],
            new_rollback=replace(rollback(WEB, 3), pinned_images=current.images[:1]),
            alarm_seen=(WEB, "web-5xx"),
        )
    )

    # When the table is read raw
    deserializer = TypeDeserializer()
    raw = client.scan(TableName="schema")["Items"]
    plain = [
        json.loads(json.dumps({k: deserializer.deserialize(v) for k, v in item.items()}, default=_plain))
        for item in raw
    ]

    # Then every item validates, and every kind was written
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for item in plain:
        errors = sorted(validator.iter_errors(item), key=str)
        assert not errors, f"{item['entity']} item does not match the schema: {errors[0].message}"
    assert {item["entity"] for item in plain} == {
        "service",
        "deployment",
        "rollback",
        "image_use",
        "release",
        "revision",
        "alarms",
    }


def test_a_release_is_one_key_away_by_any_of_its_revisions(ledger):
    # Given web:1's release GOOD, with its pinned copy web:9
    good = release(WEB, 1, copy=9)
    ledger.commit(
        LedgerChange(state=ServiceState(service=WEB, version=1), expected_version=0, releases=[good])
    )

    # When reading the state with each revision, and the release itself
    _, by_source = ledger.load_with_revision(WEB, RevisionId("web", 1))
    state, by_copy = ledger.load_with_revision(WEB, RevisionId("web", 9))

    # Then both name the same release, its verdict and what to deploy, and the state came along
    assert state is not None and state.version == 1
    assert by_source is not None and by_copy is not None
    assert by_source.release_id == by_copy.release_id == good.release_id
    assert by_source.verdict == by_copy.verdict == Verdict.GOOD
    assert (
        by_source.deploy_task_definition_arn
        == by_copy.deploy_task_definition_arn
        == good.rollback_task_definition_arn
    )
    assert ledger.get_release(WEB, good.release_id) == good
    assert ledger.load_with_revision(WEB, RevisionId("web", 5)) == (state, None)


def test_good_releases_newest_first_and_a_bad_one_leaves_the_list(ledger):
    # Given three GOOD releases
    releases = [release(WEB, n) for n in (1, 2, 3)]
    ledger.commit(LedgerChange(state=None, expected_version=0, releases=releases))

    # When the newest turns BAD
    ledger.commit(
        LedgerChange(state=None, expected_version=0, releases=[release(WEB, 3, verdict=Verdict.BAD)])
    )

    # Then the GOOD ones remain, newest first
    assert [ref.release_id for ref in ledger.good_releases(WEB)] == [
        release_id_for(WEB, 2),
        release_id_for(WEB, 1),
    ]


def test_every_deployment_of_a_release_across_services(ledger):
    # Given one release deployed on two services, and another release
    shared = release_id_for(API, 99)
    ledger.commit(
        LedgerChange(
            state=None,
            expected_version=0,
            deployments=[
                replace(deployment(WEB, 1), release_id=shared),
                replace(deployment(API, 2), release_id=shared),
                deployment(WEB, 3),
            ],
        )
    )

    # When asking for every deployment of the release (one Query)
    found = ledger.deployments_of_release(shared).items

    # Then both are listed, newest first
    assert [(d.service, d.deployment_id) for d in found] == [(API, "ecs-svc/00002"), (WEB, "ecs-svc/00001")]


def test_alarms_seen_accumulate_once_each(ledger):
    # Given alarms seen linked to a service, one of them twice
    for name in ("web-5xx", "web-cpu", "web-5xx"):
        ledger.commit(LedgerChange(state=None, expected_version=0, alarm_seen=(WEB, name)))

    # Then each is listed once
    assert sorted(ledger.linked_alarms(WEB)) == ["web-5xx", "web-cpu"]
    assert ledger.linked_alarms(API) == ()


def _plain(value: object) -> object:
    """DynamoDB numbers are Decimals; string sets are sets: as JSON, integers and sorted arrays."""
    if isinstance(value, set):
        return sorted(value)
    return int(value)  # type: ignore[call-overload]


def _put_raw(ledger: Any, item: dict[str, Any]) -> None:
    """Write an item as a previous release of the project wrote it, bypassing today's writer."""
    if isinstance(ledger, InMemoryLedger):
        ledger._items[(item["pk"], item["sk"])] = item
        return
    serializer = TypeSerializer()
    ledger._client.put_item(
        TableName=ledger._table, Item={k: serializer.serialize(v) for k, v in item.items()}
    )


def _v1_summary(n: int, status: str) -> dict[str, Any]:
    at = f"2026-11-02T09:{n:02d}:00.000000Z"
    return {
        "service_arn": WEB.arn,
        "cluster": "prod",
        "service": "web",
        "deployment_id": f"ecs-svc/{n:05d}",
        "task_definition_arn": f"arn:aws:ecs:us-east-1:123456789012:task-definition/web:{n}",
        "family": "web",
        "revision": n,
        "images": [
            {"container": "app", "image": "repo/web:latest", "digest": digest(n), "digest_source": "ecs-task"}
        ],
        "status": status,
        "started_at": at,
        "updated_at": at,
        "origin": "deploy",
        "actor": "ecs",
    }


def test_items_written_by_schema_version_1_are_read(ledger):
    # Given a ledger installed by the previous release: a v1 state (whole summaries, alarm names on
    # it), a v1 deployment (no release id, no revision item) and a v1 decision
    pk = f"SVC#{WEB.arn}"
    current, good = _v1_summary(3, "COMPLETED"), _v1_summary(1, "GOOD")
    _put_raw(
        ledger,
        {
            "pk": pk, "sk": "STATE", "entity": "service", "kind": "SERVICE", "schema_version": 1,
            "service_arn": WEB.arn, "cluster": "prod", "service": "web", "version": 4,
            "current": current, "good": [good], "automatic_rollbacks": [], "alarms": ["web-5xx"],
        },
    )  # fmt: skip
    _put_raw(
        ledger,
        {
            **good, "pk": pk, "sk": "DEP#ecs-svc/00001", "entity": "deployment", "schema_version": 1,
            "hist_sort": f"{good['started_at']}#ecs-svc/00001", "rev_sort": f"web:0000000001#{good['started_at']}",
            "status_history": [], "digests_complete": True,
        },
    )  # fmt: skip
    _put_raw(
        ledger,
        {
            "pk": pk, "sk": "RB#2026-11-02T09:05:00.000000Z#rb-1", "entity": "rollback", "schema_version": 1,
            "rollback_id": "rb-1", "service_arn": WEB.arn, "cluster": "prod", "service": "web",
            "trigger": "alarm", "trigger_id": "e-1", "triggered_at": "2026-11-02T09:05:00.000000Z",
            "created_at": "2026-11-02T09:05:00.000000Z", "outcome": "ROLLED_BACK", "code": "rollback",
            "message": "m", "requested_by": "ecs-rollback", "dry_run": False, "from": current, "to": good,
        },
    )  # fmt: skip

    # When today's code reads them
    state = ledger.load(WEB)
    _, target = ledger.load_with_revision(WEB, RevisionId("web", 1))
    decision = ledger.get_rollback(WEB, "RB#2026-11-02T09:05:00.000000Z#rb-1")

    # Then each v1 revision is its own (provisional) release, GOOD as its status said
    assert state is not None and state.version == 4 and state.families == ("web",)
    assert state.current is not None and state.current.release == "rev:web:3"
    assert [(ref.release_id, ref.verdict) for ref in state.good] == [("rev:web:1", Verdict.GOOD)]
    assert target is not None and (target.release_id, target.verdict) == ("rev:web:1", Verdict.GOOD)
    assert ledger.linked_alarms(WEB) == ("web-5xx",)
    assert decision is not None and decision.to_release is not None
    assert decision.to_release.release_id == "rev:web:1"
