"""The ledger's item layout: a public, versioned contract; domain -> item -> domain loses nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecs_rollback.adapters import ledger_items as items
from ecs_rollback.domain.model import (
    ContainerImage,
    Deployment,
    Origin,
    Outcome,
    RevisionId,
    ServiceId,
    Status,
    StatusChange,
    TriggerKind,
    iso,
    parse_iso,
)
from ecs_rollback.domain.state import Halt
from tests.unit.builders import (
    ECR_REPO,
    NOW,
    SERVICE,
    deployment,
    digest,
    lock,
    minutes,
    rollback_record,
    state,
    task_definition,
    td_arn,
)

SHA = "3f2c1ab9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3"


def full_deployment() -> Deployment:
    """A deployment with every optional attribute set."""
    return deployment(
        3,
        Status.GOOD,
        started_at=NOW - minutes(30),
        completed_at=NOW - minutes(25),
        good_at=NOW - minutes(15),
        images=(
            ContainerImage("app", f"{ECR_REPO}:v3", digest(3), "ecs-task"),
            ContainerImage("envoy", "public.ecr.aws/envoy:v1.30", None, None),
        ),
        git_sha=SHA,
        commit_message="Fix checkout totals",
        history=(
            StatusChange(Status.IN_PROGRESS, NOW - minutes(30), "ECS deployment in progress."),
            StatusChange(Status.COMPLETED, NOW - minutes(25), "ECS reports steady state"),
            StatusChange(Status.GOOD, NOW - minutes(15), None),
        ),
        origin=Origin.MANUAL_ROLLBACK,
        actor="ecs-rollback",
        rollback_id="rb-1",
        source_task_definition_arn=td_arn(1),
        task_definition=task_definition(("app", f"{ECR_REPO}:v3"), revision=3),
        adopted=True,
        reason="requested by oncall",
    )


def test_deployment_round_trip_keeps_everything() -> None:
    # Given a deployment with every attribute, the full task definition included
    original = full_deployment()

    # When writing it as an item and reading it back
    restored = items.deployment_from_item(items.deployment_to_item(original))

    # Then nothing is lost, the task definition JSON included
    assert restored == original
    assert restored.task_definition == original.task_definition


def test_minimal_deployment_round_trip() -> None:
    # Given a deployment with only what ECS always gives
    original = deployment(1, Status.IN_PROGRESS, images=())

    # When writing and reading it
    item = items.deployment_to_item(original)
    restored = items.deployment_from_item(item)

    # Then it comes back equal, and absent attributes are absent, not null
    assert restored == original
    assert restored.task_definition is None
    assert None not in item.values()
    for absent in (
        "git_sha",
        "commit_message",
        "completed_at",
        "good_at",
        "rollback_id",
        "adopted",
        "task_definition",
    ):
        assert absent not in item


def test_service_state_round_trip() -> None:
    # Given a service item with current revision, good list, lock, halt and loop-guard history
    current = deployment(3, Status.COMPLETED, started_at=NOW - minutes(30), completed_at=NOW - minutes(25))
    original = state(
        current,
        [deployment(2, git_sha=SHA), deployment(1, adopted=True, origin=Origin.ADOPTED)],
        in_flight=lock(4, source_revision=2, rollback_id="rb-2"),
        automatic_rollbacks=[NOW - minutes(40), NOW - minutes(5)],
        halted=Halt("the rollback's own deployment failed", NOW - minutes(3), "rb-1"),
        version=7,
        last_alarm_at=NOW - minutes(6),
        updated_at=NOW,
    )

    # When writing and reading it
    item = items.state_to_item(original)
    restored = items.state_from_item(item)

    # Then nothing is lost, and the last GOOD revision is readable with one key lookup
    assert restored == original
    assert item["last_good_task_definition_arn"] == td_arn(2)
    assert (item["pk"], item["sk"]) == (f"SVC#{SERVICE.arn}", "STATE")


def test_empty_service_state_round_trip() -> None:
    # Given a service the ledger knows nothing about yet
    original = state(None, [], version=0)

    # When writing and reading it
    item = items.state_to_item(original)

    # Then it comes back equal, with no lock, halt or last-good attribute
    assert items.state_from_item(item) == original
    for absent in ("current", "in_flight", "halted", "last_good_task_definition_arn"):
        assert absent not in item


def test_rollback_record_round_trip() -> None:
    # Given a rollback record with its revisions, pinned images and result
    original = rollback_record(
        trigger=TriggerKind.MANUAL,
        requested_by="arn:aws:iam::123456789012:user/oncall",
        from_deployment=deployment(3, Status.ROLLED_BACK, git_sha=SHA),
        to_deployment=deployment(1),
        deployed_task_definition_arn=td_arn(4),
        pinned_images=(ContainerImage("app", f"{ECR_REPO}@{digest(1)}", digest(1), "recorded"),),
        dry_run=False,
        update_service_at=NOW,
        result="COMPLETED",
        result_at=NOW + minutes(4),
    )

    # When writing and reading it
    item = items.rollback_to_item(original)

    # Then nothing is lost, and its key sorts by time
    assert items.rollback_from_item(item) == original
    assert item["sk"] == f"RB#{iso(original.created_at)}#{original.rollback_id}"


@pytest.mark.parametrize("outcome", list(Outcome))
def test_decision_records_without_revisions_round_trip(outcome: Outcome) -> None:
    # Given a decision of any outcome with no revisions (skipped, refused...)
    original = rollback_record(outcome=outcome, code="no_known_good", dry_run=outcome == Outcome.DRY_RUN)

    # When writing and reading it
    restored = items.rollback_from_item(items.rollback_to_item(original))

    # Then it comes back equal
    assert restored == original


def all_items() -> dict[str, dict[str, Any]]:
    deployed = full_deployment()
    return {
        "deployment": items.deployment_to_item(deployed),
        "service": items.state_to_item(state(deployed.summary(), [deployed.summary()])),
        "rollback": items.rollback_to_item(rollback_record()),
        "image_use": items.image_use_items(deployed)[0],
    }


@pytest.mark.parametrize("entity", ["deployment", "service", "rollback", "image_use"])
def test_every_item_has_schema_version_and_entity(entity: str) -> None:
    # Given one item of each kind
    item = all_items()[entity]

    # When reading its contract attributes, then they are there, and no attribute is null or empty
    assert item["schema_version"] == items.SCHEMA_VERSION
    assert item["entity"] == entity
    assert item["pk"] and item["sk"]
    assert all(value is not None and value != "" for value in item.values())


def test_git_keys_only_when_the_git_sha_is_known() -> None:
    # Given the same deployment with and without a git SHA
    known = items.deployment_to_item(deployment(3, git_sha=SHA))
    unknown = items.deployment_to_item(deployment(3))

    # When looking at the index keys, then the git indexes are sparse
    started = iso(deployment(3).started_at)
    assert known["git_sort"] == f"{SHA}#{started}"
    assert known["gsi1pk"] == f"GIT#{SHA}"
    assert known["gsi1sk"] == f"{started}#{SERVICE.arn}"
    assert not {"git_sort", "gsi1pk", "gsi1sk"} & set(unknown)
    assert unknown["hist_sort"] == f"{started}#{deployment(3).deployment_id}"


def test_image_use_items_only_for_containers_with_a_digest() -> None:
    # Given a deployment whose app digest is known and whose envoy digest is not
    deployed = full_deployment()

    # When listing the "who ran this digest" items
    uses = items.image_use_items(deployed)

    # Then there is exactly one, keyed by the digest, and it reads back
    assert [use["pk"] for use in uses] == [f"IMG#{digest(3)}"]
    use = items.image_use_from_item(uses[0])
    assert (use.digest, use.container, use.service, use.git_sha) == (digest(3), "app", SERVICE, SHA)
    assert use.started_at == deployed.started_at
    assert items.image_use_items(deployment(1, images=(ContainerImage("app", "nginx:1"),))) == []


def test_revision_sort_key_orders_revisions_numerically() -> None:
    # Given web:9 and web:10

    # When building their revision sort keys
    nine = items.deployment_to_item(deployment(9))["rev_sort"]
    ten = items.deployment_to_item(deployment(10))["rev_sort"]

    # Then 9 sorts before 10 and each starts with its lookup prefix
    assert nine < ten
    assert nine.startswith(items.revision_sort_prefix("web", 9))
    assert items.revision_sort_prefix("web", 10) == "web:0000000010#"


def test_history_keys_sort_as_time() -> None:
    # Given deployments started at times that sort differently as naive text
    times = [
        datetime(2026, 1, 9, 9, 0, 0, tzinfo=UTC),
        datetime(2026, 1, 9, 9, 0, 0, 5, tzinfo=UTC),
        datetime(2026, 1, 9, 10, 0, 0, tzinfo=timezone(timedelta(hours=2))),  # 08:00 UTC
        datetime(2026, 1, 10, 0, 0, 0, tzinfo=UTC),
    ]

    # When building their history sort keys
    keys = [items.deployment_to_item(deployment(1, started_at=at))["hist_sort"] for at in times]

    # Then string order is time order
    assert sorted(keys) == [keys[2], keys[0], keys[1], keys[3]]


MOMENTS = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2099, 12, 31),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7)), timezone(timedelta(hours=5, minutes=30))]),
)


@settings(max_examples=200, deadline=None)
@given(MOMENTS, MOMENTS)
def test_iso_is_fixed_width_and_sorts_as_time(first: datetime, second: datetime) -> None:
    # Given any two moments, in any time zone

    # When formatting them for sort keys
    a, b = iso(first), iso(second)

    # Then the text is fixed width, UTC, reads back exactly, and sorts like the moments
    assert len(a) == len(b) == len("2026-01-01T00:00:00.000000Z")
    assert a.endswith("Z")
    assert parse_iso(a) == first
    assert (a < b) is (first < second)
    assert (a == b) is (first == second)


# -- Hypothesis round trip of a deployment ------------------------------------------------------

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=20)
TEXT = st.text(min_size=1, max_size=40)
HEX_SHA = st.text(alphabet="0123456789abcdef", min_size=7, max_size=40)
DIGESTS = st.binary(min_size=32, max_size=32).map(lambda raw: "sha256:" + raw.hex())
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
SERVICES = st.builds(
    ServiceId,
    st.sampled_from(["aws", "aws-cn", "aws-us-gov"]),
    st.sampled_from(["us-east-1", "eu-west-1"]),
    st.integers(min_value=0, max_value=10**12 - 1).map(lambda number: f"{number:012d}"),
    NAMES,
    NAMES,
)
IMAGES = st.builds(
    ContainerImage,
    NAMES,
    st.builds(lambda name, tag: f"{ECR_REPO}/{name}:{tag}", NAMES, NAMES),
    st.none() | DIGESTS,
    st.none() | st.sampled_from(["reference", "ecs-task", "ecr", "recorded"]),
)
CHANGES = st.builds(StatusChange, st.sampled_from(Status), MOMENTS, st.none() | TEXT)


@st.composite
def deployments(draw: st.DrawFn) -> Deployment:
    revision = RevisionId(draw(NAMES), draw(st.integers(min_value=1, max_value=10**9)))
    service = draw(SERVICES)
    return Deployment(
        service=service,
        deployment_id=draw(st.text(min_size=1, max_size=60)),
        task_definition_arn=f"arn:{service.partition}:ecs:{service.region}:{service.account}:task-definition/{revision}",
        status=draw(st.sampled_from(Status)),
        started_at=draw(MOMENTS),
        updated_at=draw(MOMENTS),
        images=tuple(draw(st.lists(IMAGES, max_size=4))),
        git_sha=draw(st.none() | HEX_SHA),
        commit_message=draw(st.none() | TEXT),
        history=tuple(draw(st.lists(CHANGES, max_size=5))),
        origin=draw(st.sampled_from(Origin)),
        actor=draw(TEXT),
        rollback_id=draw(st.none() | TEXT),
        source_task_definition_arn=draw(st.none() | st.just(td_arn(1))),
        task_definition=draw(st.none() | st.dictionaries(st.text(max_size=10), JSON, max_size=5)),
        adopted=draw(st.booleans()),
        reason=draw(st.none() | TEXT),
        completed_at=draw(st.none() | MOMENTS),
        good_at=draw(st.none() | MOMENTS),
    )


@settings(max_examples=200, deadline=None)
@given(deployments())
def test_any_deployment_round_trips(original: Deployment) -> None:
    # Given any deployment

    # When writing it as an item and reading it back
    item = items.deployment_to_item(original)
    restored = items.deployment_from_item(item)

    # Then it is equal (a deployment read without a release id runs its own provisional release, and
    # is written with it), full task definition included, and the item is sparse
    assert restored == replace(original, release_id=original.release)
    assert restored.task_definition == original.task_definition
    assert None not in item.values()
    assert ("gsi1pk" in item) is (original.git_sha is not None)
    assert len(items.image_use_items(original)) == sum(1 for image in original.images if image.digest)
    # and the copy kept on a decision record is the summary
    assert items.deployment_from_item(items.deployment_summary_to_item(original)) == replace(
        original.summary(), release_id=original.release
    )
