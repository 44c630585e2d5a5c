"""docs/ledger.md and docs/ledger.schema.json describe exactly what the code writes."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

from ecs_rollback.adapters import ledger_items as items
from ecs_rollback.contract import table_definition
from ecs_rollback.domain.model import Origin
from ecs_rollback.domain.state import Halt, InFlight, ServiceState
from ecs_rollback.ports import OutboxEntry
from tests.contract.test_ledger_contract import T0, WEB, deployment, release, rollback

DOCS = Path(__file__).parents[2] / "docs"
PAGE = (DOCS / "ledger.md").read_text()
SCHEMA = json.loads((DOCS / "ledger.schema.json").read_text())
DOCUMENTED = set(re.findall(r"`([a-z_0-9]+)`", PAGE))


def _every_kind_of_item() -> dict[str, dict]:
    current = deployment(WEB, 2, sha="abcdef1234567")
    full = replace(
        current,
        origin=Origin.ADOPTED,
        adopted=True,
        good_at=T0,
        source_task_definition_arn=current.task_definition_arn,
        rollback_id="rb-1",
        reason="why",
    )
    good = replace(
        release(WEB, 1, copy=9),
        images_missing=("repo@sha256:gone",),
        adopted=True,
        commit_message="fix checkout",
        bad_at=T0,
    )
    target = replace(good.ref(), digests_recorded=False, commit_subject="fix checkout")
    state = ServiceState(
        service=WEB,
        version=3,
        current=full.compact(),
        good=(target,),
        good_truncated=True,
        families=("web",),
        in_flight=InFlight(
            "rb",
            "RB#x",
            current.task_definition_arn,
            current.task_definition_arn,
            current.task_definition_arn,
            T0,
            T0,
            True,
            target_release_id=good.release_id,
            from_release_id=full.release,
            step="locked",
            lease_expires_at=T0,
        ),
        automatic_rollbacks=(T0,),
        halted=Halt("stop", T0, "rb"),
        last_alarm_at=T0,
        updated_at=T0,
    )
    record = replace(
        rollback(WEB, 3),
        to_release=target,
        requested_by_verified=True,
        pinned_images=current.images,
        deployed_task_definition_arn=current.task_definition_arn,
        update_service_at=T0,
        result="COMPLETED",
        result_at=T0,
        dry_run=False,
    )
    return {
        "service": items.state_to_item(state),
        "deployment": items.deployment_to_item(replace(full, allow_bad_release=True)),
        "rollback": items.rollback_to_item(record),
        "image_use": items.image_use_items(full)[0],
        "release": items.release_to_item(good),
        "revision": items.revision_items(good)[0],
        "alarms": items.alarms_item(WEB, ["web-5xx"]),
        "notification": {
            **items.outbox_to_item(OutboxEntry(WEB, "rb", "subject", "{}", {"outcome": "ROLLED_BACK"}, T0)),
            "claimed_until": "2026-11-02T09:00:00.000000Z",
            "sent_at": "2026-11-02T09:00:00.000000Z",
            items.WRITE_TOKEN: "token",
        },
    }


def _nested_keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for child in value.values() for key in _nested_keys(child)}
    if isinstance(value, list):
        return {key for child in value for key in _nested_keys(child)}
    return set()


def test_every_attribute_written_is_documented_on_the_page():
    written = set().union(*(_nested_keys(item) for item in _every_kind_of_item().values()))
    assert written - DOCUMENTED == set()


def test_every_top_level_attribute_is_in_the_schema_of_its_entity():
    definitions = SCHEMA["$defs"]
    for entity, item in _every_kind_of_item().items():
        definition = definitions[entity]
        properties = set(definition.get("properties", {}))
        for part in definition.get("allOf", []):
            target = part.get("$ref", "").rsplit("/", 1)[-1]
            properties |= (
                set(definitions[target]["properties"]) if target else set(part.get("properties", {}))
            )
        assert set(item) - properties == set(), entity


def test_every_index_is_documented():
    for index in table_definition("t")["GlobalSecondaryIndexes"]:
        assert index["IndexName"] in DOCUMENTED
        for key in index["KeySchema"]:
            assert key["AttributeName"] in DOCUMENTED
    assert f"`{items.SCHEMA_VERSION}`" in PAGE
