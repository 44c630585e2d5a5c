"""The ledger's item layout: domain objects to and from plain DynamoDB items.

This is the public, versioned contract documented in ``docs/ledger.md`` and
``docs/ledger.schema.json``. Changing an attribute means bumping ``SCHEMA_VERSION``.

Keys (one table, ``pk``/``sk``):

- ``SVC#<service arn>`` / ``STATE``             the service: current, good list, lock, loop guard
- ``SVC#<service arn>`` / ``DEP#<deployment>``  one deployment record
- ``SVC#<service arn>`` / ``RB#<time>#<id>``    one decision (rollback, dry-run, skip, refusal)
- ``IMG#<digest>``      / ``<time>#<arn>#<deployment>#<container>``  one container that ran a digest

Sparse index keys: one attribute pair per index of ``contract.LEDGER_INDEXES`` (``history``,
``by_service_revision``, ``by_service_git_sha``, ``by_git_sha``, ``by_kind``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ecs_rollback.contract import (
    GIT_INDEX,
    HISTORY_INDEX,
    KIND_INDEX,
    PARTITION_KEY,
    REVISION_INDEX,
    SERVICE_GIT_INDEX,
    SORT_KEY,
)
from ecs_rollback.domain.model import (
    ContainerImage,
    Deployment,
    Halt,
    InFlight,
    Origin,
    Outcome,
    RollbackRecord,
    ServiceId,
    ServiceState,
    Status,
    StatusChange,
    TriggerKind,
    iso,
    parse_iso,
)
from ecs_rollback.ports import ImageUse

SCHEMA_VERSION = 1
STATE_SK = "STATE"
SERVICE_KIND = "SERVICE"
ROLLBACK_SK_PREFIX = "RB#"

Item = dict[str, Any]


def service_pk(service: ServiceId) -> str:
    return f"SVC#{service.arn}"


def deployment_sk(deployment_id: str) -> str:
    return f"DEP#{deployment_id}"


def image_pk(digest: str) -> str:
    return f"IMG#{digest}"


def git_pk(git_sha: str) -> str:
    return f"GIT#{git_sha.lower()}"


def revision_sort_prefix(family: str, revision: int) -> str:
    return f"{family}:{revision:010d}#"


def _opt_time(value: datetime | None) -> str | None:
    return iso(value) if value else None


def _time(value: Any) -> datetime | None:
    return parse_iso(str(value)) if value else None


def _compact(item: Item) -> Item:
    """DynamoDB keeps no NULLs here: an absent attribute means unknown."""
    return {key: value for key, value in item.items() if value is not None and value != ""}


# -- images -------------------------------------------------------------------------------


def image_to_item(image: ContainerImage) -> Item:
    return _compact(
        {
            "container": image.container,
            "image": image.image,
            "digest": image.digest,
            "digest_source": image.digest_source,
        }
    )


def image_from_item(item: Item) -> ContainerImage:
    return ContainerImage(
        container=item["container"],
        image=item["image"],
        digest=item.get("digest"),
        digest_source=item.get("digest_source"),
    )


# -- deployments --------------------------------------------------------------------------


def deployment_summary_to_item(deployment: Deployment) -> Item:
    """The deployment attributes shared by full records and the copies on the service item."""
    revision = deployment.revision
    return _compact(
        {
            "service_arn": deployment.service.arn,
            "cluster": deployment.service.cluster,
            "service": deployment.service.name,
            "deployment_id": deployment.deployment_id,
            "task_definition_arn": deployment.task_definition_arn,
            "family": revision.family,
            "revision": revision.revision,
            "images": [image_to_item(image) for image in deployment.images],
            "git_sha": deployment.git_sha,
            "commit_message": deployment.commit_message,
            "status": deployment.status.value,
            "started_at": iso(deployment.started_at),
            "updated_at": iso(deployment.updated_at),
            "completed_at": _opt_time(deployment.completed_at),
            "good_at": _opt_time(deployment.good_at),
            "origin": deployment.origin.value,
            "actor": deployment.actor,
            "rollback_id": deployment.rollback_id,
            "source_task_definition_arn": deployment.source_task_definition_arn,
            "adopted": deployment.adopted or None,
            "reason": deployment.reason,
        }
    )


def deployment_to_item(deployment: Deployment) -> Item:
    started = iso(deployment.started_at)
    revision = deployment.revision
    item = deployment_summary_to_item(deployment)
    item.update(
        {
            PARTITION_KEY: service_pk(deployment.service),
            SORT_KEY: deployment_sk(deployment.deployment_id),
            "entity": "deployment",
            "schema_version": SCHEMA_VERSION,
            HISTORY_INDEX.sort_key: f"{started}#{deployment.deployment_id}",
            REVISION_INDEX.sort_key: f"{revision_sort_prefix(revision.family, revision.revision)}{started}",
            "status_history": [
                _compact({"status": change.status.value, "at": iso(change.at), "reason": change.reason})
                for change in deployment.history
            ],
            "digests_complete": deployment.digests_complete,
        }
    )
    if deployment.task_definition is not None:
        item["task_definition"] = json.dumps(deployment.task_definition, sort_keys=True, default=str)
    if deployment.git_sha:
        item[SERVICE_GIT_INDEX.sort_key] = f"{deployment.git_sha}#{started}"
        item[GIT_INDEX.partition_key] = git_pk(deployment.git_sha)
        item[GIT_INDEX.sort_key] = f"{started}#{deployment.service.arn}"
    return item


def deployment_from_item(item: Item) -> Deployment:
    task_definition = item.get("task_definition")
    return Deployment(
        service=ServiceId.from_arn(item["service_arn"]),
        deployment_id=item["deployment_id"],
        task_definition_arn=item["task_definition_arn"],
        status=Status(item["status"]),
        started_at=parse_iso(item["started_at"]),
        updated_at=parse_iso(item["updated_at"]),
        images=tuple(image_from_item(image) for image in item.get("images", [])),
        git_sha=item.get("git_sha"),
        commit_message=item.get("commit_message"),
        history=tuple(
            StatusChange(Status(change["status"]), parse_iso(change["at"]), change.get("reason"))
            for change in item.get("status_history", [])
        ),
        origin=Origin(item.get("origin", Origin.DEPLOY.value)),
        actor=item.get("actor", "ecs"),
        rollback_id=item.get("rollback_id"),
        source_task_definition_arn=item.get("source_task_definition_arn"),
        task_definition=json.loads(task_definition) if task_definition else None,
        adopted=bool(item.get("adopted", False)),
        reason=item.get("reason"),
        completed_at=_time(item.get("completed_at")),
        good_at=_time(item.get("good_at")),
    )


def image_use_items(deployment: Deployment) -> list[Item]:
    """One index item per container whose digest is known: 'who ran this digest'."""
    started = iso(deployment.started_at)
    items = []
    for image in deployment.images:
        if not image.digest:
            continue
        items.append(
            _compact(
                {
                    PARTITION_KEY: image_pk(image.digest),
                    SORT_KEY: f"{started}#{deployment.service.arn}#{deployment.deployment_id}#{image.container}",
                    "entity": "image_use",
                    "schema_version": SCHEMA_VERSION,
                    "digest": image.digest,
                    "service_arn": deployment.service.arn,
                    "deployment_id": deployment.deployment_id,
                    "task_definition_arn": deployment.task_definition_arn,
                    "container": image.container,
                    "image": image.image,
                    "started_at": started,
                    "git_sha": deployment.git_sha,
                }
            )
        )
    return items


def image_use_from_item(item: Item) -> ImageUse:
    return ImageUse(
        digest=item["digest"],
        service=ServiceId.from_arn(item["service_arn"]),
        deployment_id=item["deployment_id"],
        task_definition_arn=item["task_definition_arn"],
        container=item["container"],
        image=item["image"],
        started_at=parse_iso(item["started_at"]),
        git_sha=item.get("git_sha"),
    )


# -- service state ------------------------------------------------------------------------


def state_to_item(state: ServiceState) -> Item:
    in_flight = state.in_flight
    halted = state.halted
    return _compact(
        {
            PARTITION_KEY: service_pk(state.service),
            SORT_KEY: STATE_SK,
            "entity": "service",
            KIND_INDEX.partition_key: SERVICE_KIND,
            "schema_version": SCHEMA_VERSION,
            "service_arn": state.service.arn,
            "cluster": state.service.cluster,
            "service": state.service.name,
            "version": state.version,
            "current": deployment_summary_to_item(state.current) if state.current else None,
            "good": [deployment_summary_to_item(deployment) for deployment in state.good],
            "last_good_task_definition_arn": state.good[0].task_definition_arn if state.good else None,
            "in_flight": _compact(
                {
                    "rollback_id": in_flight.rollback_id,
                    "record_key": in_flight.record_key,
                    "target_task_definition_arn": in_flight.target_task_definition_arn,
                    "source_task_definition_arn": in_flight.source_task_definition_arn,
                    "from_task_definition_arn": in_flight.from_task_definition_arn,
                    "started_at": iso(in_flight.started_at),
                    "expires_at": iso(in_flight.expires_at),
                    "automatic": in_flight.automatic,
                }
            )
            if in_flight
            else None,
            "automatic_rollbacks": [iso(at) for at in state.automatic_rollbacks],
            "halted": _compact(
                {"reason": halted.reason, "at": iso(halted.at), "rollback_id": halted.rollback_id}
            )
            if halted
            else None,
            "alarms": list(state.alarms),
            "last_alarm_at": _opt_time(state.last_alarm_at),
            "updated_at": _opt_time(state.updated_at),
        }
    )


def state_from_item(item: Item) -> ServiceState:
    in_flight = item.get("in_flight")
    halted = item.get("halted")
    return ServiceState(
        service=ServiceId.from_arn(item["service_arn"]),
        version=int(item["version"]),
        current=deployment_from_item(item["current"]) if item.get("current") else None,
        good=tuple(deployment_from_item(entry) for entry in item.get("good", [])),
        in_flight=InFlight(
            rollback_id=in_flight["rollback_id"],
            record_key=in_flight["record_key"],
            target_task_definition_arn=in_flight["target_task_definition_arn"],
            source_task_definition_arn=in_flight["source_task_definition_arn"],
            from_task_definition_arn=in_flight.get("from_task_definition_arn"),
            started_at=parse_iso(in_flight["started_at"]),
            expires_at=parse_iso(in_flight["expires_at"]),
            automatic=bool(in_flight["automatic"]),
        )
        if in_flight
        else None,
        automatic_rollbacks=tuple(parse_iso(at) for at in item.get("automatic_rollbacks", [])),
        halted=Halt(halted["reason"], parse_iso(halted["at"]), halted.get("rollback_id")) if halted else None,
        alarms=tuple(item.get("alarms", [])),
        last_alarm_at=_time(item.get("last_alarm_at")),
        updated_at=_time(item.get("updated_at")),
    )


# -- rollbacks ----------------------------------------------------------------------------


def rollback_to_item(record: RollbackRecord) -> Item:
    return _compact(
        {
            PARTITION_KEY: service_pk(record.service),
            SORT_KEY: record.record_key,
            "entity": "rollback",
            "schema_version": SCHEMA_VERSION,
            "rollback_id": record.rollback_id,
            "service_arn": record.service.arn,
            "cluster": record.service.cluster,
            "service": record.service.name,
            "trigger": record.trigger.value,
            "trigger_id": record.trigger_id,
            "triggered_at": iso(record.triggered_at),
            "created_at": iso(record.created_at),
            "outcome": record.outcome.value,
            "code": record.code,
            "message": record.message,
            "requested_by": record.requested_by,
            "reason": record.reason,
            "source": record.source,
            "from": deployment_summary_to_item(record.from_deployment) if record.from_deployment else None,
            "to": deployment_summary_to_item(record.to_deployment) if record.to_deployment else None,
            "deployed_task_definition_arn": record.deployed_task_definition_arn,
            "pinned_images": [image_to_item(image) for image in record.pinned_images] or None,
            "dry_run": record.dry_run,
            "update_service_at": _opt_time(record.update_service_at),
            "result": record.result,
            "result_at": _opt_time(record.result_at),
        }
    )


def rollback_from_item(item: Item) -> RollbackRecord:
    return RollbackRecord(
        rollback_id=item["rollback_id"],
        service=ServiceId.from_arn(item["service_arn"]),
        trigger=TriggerKind(item["trigger"]),
        trigger_id=item["trigger_id"],
        triggered_at=parse_iso(item["triggered_at"]),
        created_at=parse_iso(item["created_at"]),
        outcome=Outcome(item["outcome"]),
        code=item["code"],
        message=item["message"],
        requested_by=item["requested_by"],
        reason=item.get("reason", ""),
        source=item.get("source", ""),
        from_deployment=deployment_from_item(item["from"]) if item.get("from") else None,
        to_deployment=deployment_from_item(item["to"]) if item.get("to") else None,
        deployed_task_definition_arn=item.get("deployed_task_definition_arn"),
        pinned_images=tuple(image_from_item(image) for image in item.get("pinned_images", [])),
        dry_run=bool(item.get("dry_run", False)),
        update_service_at=_time(item.get("update_service_at")),
        result=item.get("result"),
        result_at=_time(item.get("result_at")),
    )
