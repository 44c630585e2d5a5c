"""The ledger's item layout: domain objects to and from plain DynamoDB items.

This is the public, versioned contract documented in ``docs/ledger.md`` and
``docs/ledger.schema.json``. Changing an attribute's meaning means bumping ``SCHEMA_VERSION``;
every reader here also reads the items of version 1, so an installed ledger upgrades in place.

Keys (one table, ``pk``/``sk``):

- ``SVC#<service arn>`` / ``STATE``             the service: current, GOOD releases, lock, loop guard
- ``SVC#<service arn>`` / ``DEP#<deployment>``  one deployment record
- ``SVC#<service arn>`` / ``REL#<release id>``  one release: its verdict, revisions, rollback revision
- ``SVC#<service arn>`` / ``REV#<family>:<rev>`` one revision: its release and verdict (a target lookup)
- ``SVC#<service arn>`` / ``RB#<time>#<id>``    one decision (rollback, dry-run, skip, refusal)
- ``SVC#<service arn>`` / ``ALARMS``            the alarm names seen linked to the service
- ``SVC#<service arn>`` / ``OUT#<key>``         one notification, written with its decision (outbox)
- ``IMG#<digest>``      / ``<time>#<arn>#<deployment>#<container>``  one container that ran a digest

Sparse index keys: one attribute pair per index of ``contract.LEDGER_INDEXES``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ecs_rollback.contract import (
    GIT_INDEX,
    HISTORY_INDEX,
    KIND_INDEX,
    PARTITION_KEY,
    RELEASE_INDEX,
    REVISION_INDEX,
    SERVICE_GIT_INDEX,
    SORT_KEY,
)
from ecs_rollback.domain.lifecycle import new_release
from ecs_rollback.domain.model import (
    ContainerImage,
    Deployment,
    Origin,
    Outcome,
    Release,
    ReleaseRef,
    RevisionId,
    RollbackRecord,
    ServiceId,
    Status,
    StatusChange,
    TriggerKind,
    Verdict,
    iso,
    parse_iso,
    provisional_release_id,
)
from ecs_rollback.domain.state import Halt, InFlight, ServiceState, Step
from ecs_rollback.ports import ImageUse, LedgerChange, OutboxEntry

SCHEMA_VERSION = 2
STATE_SK = "STATE"
ALARMS_SK = "ALARMS"
SERVICE_KIND = "SERVICE"
OUTBOX_KIND = "OUTBOX"  # the by_kind key of an outbox entry until it is published (sparse)
ROLLBACK_SK_PREFIX = "RB#"
OUTBOX_SK_PREFIX = "OUT#"
# Every item a commit writes carries the commit's token: a retried commit recognises its own write.
WRITE_TOKEN = "write_token"  # noqa: S105 (an attribute name, not a secret)
# One read unit per strongly consistent read: the service state never grows past this.
STATE_ITEM_LIMIT_BYTES = 4096
_STATE_BUDGET_BYTES = 3800  # headroom for the attribute-size rounding DynamoDB applies
_HALT_REASON_LIMIT = 300

Item = dict[str, Any]


def service_pk(service: ServiceId) -> str:
    return f"SVC#{service.arn}"


def _prefixed(prefix: str) -> Callable[[str], str]:
    """A key of one entity: its prefix, then the value that names it."""
    return f"{prefix}#{{}}".format


deployment_sk = _prefixed("DEP")
release_sk = release_pk = _prefixed("REL")  # a release's own item, and its partition in by_release
image_pk = _prefixed("IMG")


def revision_sk(revision: RevisionId) -> str:
    return f"REV#{revision.family}:{revision.revision:010d}"


def git_pk(git_sha: str) -> str:
    return f"GIT#{git_sha.lower()}"


def good_pk(service: ServiceId) -> str:
    """Partition of the ``by_release`` index that lists a service's GOOD releases."""
    return f"GOOD#{service.arn}"


def revision_sort_prefix(family: str, revision: int) -> str:
    return f"{family}:{revision:010d}#"


def item_size(item: Item) -> int:
    """DynamoDB's item size: attribute names plus values (numbers and booleans counted generously)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return 21
    if isinstance(value, list):
        return 3 + sum(1 + _value_size(entry) for entry in value)
    if isinstance(value, dict):
        return 3 + sum(1 + len(name.encode()) + _value_size(entry) for name, entry in value.items())
    return len(str(value).encode())


def _opt_time(value: datetime | None) -> str | None:
    return iso(value) if value else None


def _time(value: Any) -> datetime | None:
    return parse_iso(str(value)) if value else None


def _compact(item: Item) -> Item:
    """DynamoDB keeps no NULLs here: an absent attribute means unknown."""
    return {key: value for key, value in item.items() if value is not None and value != ""}


def _task_definition_text(task_definition: dict[str, object] | None) -> str | None:
    """A whole task definition, kept as one JSON string (keys sorted, so equal ones are equal)."""
    return json.dumps(task_definition, sort_keys=True, default=str) if task_definition is not None else None


def _task_definition_from(item: Item) -> dict[str, object] | None:
    text = item.get("task_definition")
    return json.loads(text) if text else None


def _meta(pk: str, sk: str, entity: str) -> Item:
    return {PARTITION_KEY: pk, SORT_KEY: sk, "entity": entity, "schema_version": SCHEMA_VERSION}


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
    """The deployment attributes shared by full records and the copies on decisions."""
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
            "release_id": deployment.release,
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
            "allow_bad_release": deployment.allow_bad_release or None,
            "reason": deployment.reason,
            **_how_ecs_deploys(deployment),
        }
    )


def deployment_to_item(deployment: Deployment) -> Item:
    started = iso(deployment.started_at)
    revision = deployment.revision
    item = _meta(service_pk(deployment.service), deployment_sk(deployment.deployment_id), "deployment")
    item.update(deployment_summary_to_item(deployment))
    item.update(
        {
            HISTORY_INDEX.sort_key: f"{started}#{deployment.deployment_id}",
            REVISION_INDEX.sort_key: f"{revision_sort_prefix(revision.family, revision.revision)}{started}",
            RELEASE_INDEX.partition_key: release_pk(deployment.release),
            RELEASE_INDEX.sort_key: f"{started}#{deployment.service.arn}",
            "status_history": [
                _compact({"status": change.status.value, "at": iso(change.at), "reason": change.reason})
                for change in deployment.history
            ],
            "digests_complete": deployment.digests_complete,
        }
    )
    task_definition = _task_definition_text(deployment.task_definition)
    if task_definition is not None:
        item["task_definition"] = task_definition
    if deployment.git_sha:
        item[SERVICE_GIT_INDEX.sort_key] = f"{deployment.git_sha}#{started}"
        item[GIT_INDEX.partition_key] = git_pk(deployment.git_sha)
        item[GIT_INDEX.sort_key] = f"{started}#{deployment.service.arn}"
    return item


def deployment_from_item(item: Item) -> Deployment:
    return Deployment(
        service=ServiceId.from_arn(item["service_arn"]),
        deployment_id=item["deployment_id"],
        task_definition_arn=item["task_definition_arn"],
        status=Status(item["status"]),
        started_at=parse_iso(item["started_at"]),
        updated_at=parse_iso(str(item.get("updated_at", item["started_at"]))),
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
        task_definition=_task_definition_from(item),
        adopted=bool(item.get("adopted", False)),
        reason=item.get("reason"),
        completed_at=_time(item.get("completed_at")),
        good_at=_time(item.get("good_at")),
        release_id=item.get("release_id"),  # absent on version-1 items: the revision is its own release
        allow_bad_release=bool(item.get("allow_bad_release", False)),
        **_how_ecs_deploys_from(item),
    )


_HOW_ECS_DEPLOYS = (
    "controller",
    "strategy",
    "service_deployment_arn",
    "ecs_rollback_to",
    "ecs_rollback_release",
    "ecs_bake_time_minutes",
)


def _how_ecs_deploys(deployment: Deployment) -> Item:
    """Controller, strategy, ECS's bake and its own service deployment (None: not recorded)."""
    return {name: getattr(deployment, name) for name in _HOW_ECS_DEPLOYS}


def _how_ecs_deploys_from(item: Item) -> dict[str, Any]:
    found = {name: item.get(name) for name in _HOW_ECS_DEPLOYS}
    bake = found["ecs_bake_time_minutes"]
    found["ecs_bake_time_minutes"] = int(bake) if bake is not None else None  # a Decimal from DynamoDB
    return found


def _current_to_item(deployment: Deployment) -> Item:
    """What runs now, as the state item keeps it: what a decision reads, nothing that grows."""
    return _compact(
        {
            "deployment_id": deployment.deployment_id,
            "task_definition_arn": deployment.task_definition_arn,
            "release_id": deployment.release,
            "status": deployment.status.value,
            "origin": deployment.origin.value,
            "started_at": iso(deployment.started_at),
            "completed_at": _opt_time(deployment.completed_at),
            "good_at": _opt_time(deployment.good_at),
            "rollback_id": deployment.rollback_id,
            "source_task_definition_arn": deployment.source_task_definition_arn,
            "git_sha": deployment.git_sha,
            "adopted": deployment.adopted or None,
            **_how_ecs_deploys(deployment),
        }
    )


def _current_from_item(item: Item, service: ServiceId) -> Deployment:
    if "service_arn" in item:  # version 1 kept a whole deployment summary
        return deployment_from_item(item)
    started = parse_iso(item["started_at"])
    return Deployment(
        service=service,
        deployment_id=item["deployment_id"],
        task_definition_arn=item["task_definition_arn"],
        status=Status(item["status"]),
        started_at=started,
        updated_at=started,
        git_sha=item.get("git_sha"),
        origin=Origin(item.get("origin", Origin.DEPLOY.value)),
        rollback_id=item.get("rollback_id"),
        source_task_definition_arn=item.get("source_task_definition_arn"),
        adopted=bool(item.get("adopted", False)),
        completed_at=_time(item.get("completed_at")),
        good_at=_time(item.get("good_at")),
        release_id=item.get("release_id"),
        **_how_ecs_deploys_from(item),
    )


def image_use_items(deployment: Deployment) -> list[Item]:
    """One index item per container whose digest is known: 'who ran this digest'."""
    started = iso(deployment.started_at)
    items = []
    for image in deployment.images:
        if not image.digest:
            continue
        item = _meta(
            image_pk(image.digest),
            f"{started}#{deployment.service.arn}#{deployment.deployment_id}#{image.container}",
            "image_use",
        )
        item.update(
            _compact(
                {
                    "digest": image.digest,
                    "service_arn": deployment.service.arn,
                    "deployment_id": deployment.deployment_id,
                    "task_definition_arn": deployment.task_definition_arn,
                    "release_id": deployment.release,
                    "container": image.container,
                    "image": image.image,
                    "started_at": started,
                    "git_sha": deployment.git_sha,
                }
            )
        )
        items.append(item)
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
        release_id=item.get("release_id"),
    )


# -- releases -----------------------------------------------------------------------------


def ref_to_item(ref: ReleaseRef) -> Item:
    revision = ref.revision
    return _compact(
        {
            "release_id": ref.release_id,
            "task_definition_arn": ref.task_definition_arn,
            "family": revision.family,
            "revision": revision.revision,
            # Omitted when it is the revision itself (all its images are named by digest).
            "deploy_task_definition_arn": ref.deploy_task_definition_arn
            if ref.deploy_task_definition_arn != ref.task_definition_arn
            else None,
            "verdict": ref.verdict.value if ref.verdict else None,
            "deployment_id": ref.deployment_id,
            "deployed_at": _opt_time(ref.deployed_at),
            "good_at": _opt_time(ref.good_at),
            "git_sha": ref.git_sha,
            "commit_subject": ref.commit_subject,
            "images_missing": list(ref.images_missing) or None,
            "digests_recorded": None if ref.digests_recorded else False,
        }
    )


def ref_from_item(item: Item) -> ReleaseRef:
    arn = item["task_definition_arn"]
    return ReleaseRef(
        release_id=item["release_id"],
        task_definition_arn=arn,
        deploy_task_definition_arn=str(item.get("deploy_task_definition_arn", arn)),
        verdict=Verdict(item["verdict"]) if item.get("verdict") else None,
        deployment_id=item.get("deployment_id"),
        deployed_at=_time(item.get("deployed_at")),
        good_at=_time(item.get("good_at")),
        git_sha=item.get("git_sha"),
        commit_subject=item.get("commit_subject"),
        images_missing=tuple(item.get("images_missing", [])),
        digests_recorded=bool(item.get("digests_recorded", True)),
    )


def ref_of_deployment(deployment: Deployment) -> ReleaseRef:
    """What a deployment record alone says of its release (no revision item: written by version 1):
    the release the ledger would first see in it, judged by the deployment's status."""
    status = deployment.status
    verdict = Verdict.BAD if status.is_bad else Verdict.GOOD if status == Status.GOOD else None
    release = new_release(deployment, deployment.started_at)
    return replace(release, verdict=verdict, good_at=deployment.good_at).ref()


def ref_from_v1_summary(item: Item) -> ReleaseRef:
    """A version-1 deployment summary (good list, decision ``to``) read as the release it ran: known
    by the revision it was first seen as, under a release id made from its revision."""
    deployment = deployment_from_item(item)
    return replace(
        ref_of_deployment(deployment),
        release_id=provisional_release_id(deployment.task_definition_arn),
        task_definition_arn=deployment.source_task_definition_arn or deployment.task_definition_arn,
    )


def release_to_item(release: Release) -> Item:
    item = _meta(service_pk(release.service), release_sk(release.release_id), "release")
    item.update(
        _compact(
            {
                "service_arn": release.service.arn,
                "release_id": release.release_id,
                "source_task_definition_arn": release.source_task_definition_arn,
                "rollback_task_definition_arn": release.rollback_task_definition_arn,
                "revisions": list(release.revisions),
                "images": [image_to_item(image) for image in release.images],
                "verdict": release.verdict.value if release.verdict else None,
                "verdict_at": _opt_time(release.verdict_at),
                "verdict_reason": release.verdict_reason,
                "good_at": _opt_time(release.good_at),
                "bad_at": _opt_time(release.bad_at),
                "first_seen_at": iso(release.first_seen_at),
                "last_deployed_at": iso(release.last_deployed_at),
                "last_deployment_id": release.last_deployment_id,
                "images_missing": list(release.images_missing),
                "git_sha": release.git_sha,
                "commit_message": release.commit_message,
                "adopted": release.adopted or None,
                "task_definition": _task_definition_text(release.task_definition),
            }
        )
    )
    if release.is_good:
        item[RELEASE_INDEX.partition_key] = good_pk(release.service)
        item[RELEASE_INDEX.sort_key] = f"{iso(release.last_deployed_at)}#{release.release_id}"
    return item


def release_from_item(item: Item) -> Release:
    return Release(
        release_id=item["release_id"],
        service=ServiceId.from_arn(item["service_arn"]),
        source_task_definition_arn=item["source_task_definition_arn"],
        rollback_task_definition_arn=item["rollback_task_definition_arn"],
        first_seen_at=parse_iso(item["first_seen_at"]),
        last_deployed_at=parse_iso(item["last_deployed_at"]),
        revisions=tuple(item.get("revisions", [])),
        images=tuple(image_from_item(image) for image in item.get("images", [])),
        verdict=Verdict(item["verdict"]) if item.get("verdict") else None,
        verdict_at=_time(item.get("verdict_at")),
        verdict_reason=item.get("verdict_reason"),
        good_at=_time(item.get("good_at")),
        bad_at=_time(item.get("bad_at")),
        last_deployment_id=item.get("last_deployment_id"),
        images_missing=tuple(item.get("images_missing", [])),
        git_sha=item.get("git_sha"),
        commit_message=item.get("commit_message"),
        adopted=bool(item.get("adopted", False)),
        task_definition=_task_definition_from(item),
    )


def revision_items(release: Release) -> list[Item]:
    """One ``REV#`` item per revision of the release: its verdict, one key away from a target."""
    items = []
    for arn in release.revisions or (release.source_task_definition_arn,):
        item = _meta(service_pk(release.service), revision_sk(RevisionId.from_arn(arn)), "revision")
        item.update({"service_arn": release.service.arn, **ref_to_item(release.ref(arn))})
        items.append(item)
    return items


# -- service state ------------------------------------------------------------------------


def state_to_item(state: ServiceState) -> Item:
    """The state item, never over ``STATE_ITEM_LIMIT_BYTES``: the oldest GOOD entries give way first
    (they stay in the ledger; ``good_truncated`` says so)."""
    good = list(state.good)
    truncated = state.good_truncated
    while True:
        item = _state_item(state, good, truncated)
        if item_size(item) <= _STATE_BUDGET_BYTES or len(good) <= 1:
            return item
        good.pop()
        truncated = True


def _state_item(state: ServiceState, good: list[ReleaseRef], truncated: bool) -> Item:
    in_flight = state.in_flight
    halted = state.halted
    item = _meta(service_pk(state.service), STATE_SK, "service")
    item.update(
        _compact(
            {
                KIND_INDEX.partition_key: SERVICE_KIND,
                "service_arn": state.service.arn,
                "cluster": state.service.cluster,
                "service": state.service.name,
                "version": state.version,
                "current": _current_to_item(state.current) if state.current else None,
                "good": [ref_to_item(ref) for ref in good],
                "good_truncated": truncated or None,
                "last_good_task_definition_arn": good[0].deploy_task_definition_arn if good else None,
                "families": list(state.families),
                "in_flight": _compact(
                    {
                        "rollback_id": in_flight.rollback_id,
                        "record_key": in_flight.record_key,
                        "target_task_definition_arn": in_flight.target_task_definition_arn,
                        "source_task_definition_arn": in_flight.source_task_definition_arn,
                        "from_task_definition_arn": in_flight.from_task_definition_arn,
                        "target_release_id": in_flight.target_release_id,
                        "from_release_id": in_flight.from_release_id,
                        "started_at": iso(in_flight.started_at),
                        "expires_at": iso(in_flight.expires_at),
                        "automatic": in_flight.automatic,
                        "step": in_flight.step,
                        "lease_expires_at": _opt_time(in_flight.lease_expires_at),
                        "ended": in_flight.ended,
                    }
                )
                if in_flight
                else None,
                "automatic_rollbacks": [iso(at) for at in state.automatic_rollbacks],
                "halted": _compact(
                    {
                        "reason": halted.reason[:_HALT_REASON_LIMIT],
                        "at": iso(halted.at),
                        "rollback_id": halted.rollback_id,
                    }
                )
                if halted
                else None,
                "last_alarm_at": _opt_time(state.last_alarm_at),
                "updated_at": _opt_time(state.updated_at),
            }
        )
    )
    return item


def state_from_item(item: Item) -> ServiceState:
    in_flight = item.get("in_flight")
    halted = item.get("halted")
    service = ServiceId.from_arn(item["service_arn"])
    good_items = item.get("good", [])
    good = tuple(
        ref_from_item(entry) if "release_id" in entry else ref_from_v1_summary(entry) for entry in good_items
    )
    current = _current_from_item(item["current"], service) if item.get("current") else None
    families = tuple(item.get("families", ()))
    if not families and current is not None:  # version 1 did not keep them
        families = (current.revision.family,)
    return ServiceState(
        service=service,
        version=int(item["version"]),
        current=current,
        good=good,
        good_truncated=bool(item.get("good_truncated", False)),
        families=families,
        in_flight=InFlight(
            rollback_id=in_flight["rollback_id"],
            record_key=in_flight["record_key"],
            target_task_definition_arn=in_flight["target_task_definition_arn"],
            source_task_definition_arn=in_flight["source_task_definition_arn"],
            from_task_definition_arn=in_flight.get("from_task_definition_arn"),
            started_at=parse_iso(in_flight["started_at"]),
            expires_at=parse_iso(in_flight["expires_at"]),
            automatic=bool(in_flight["automatic"]),
            target_release_id=in_flight.get("target_release_id"),
            from_release_id=in_flight.get("from_release_id"),
            # Written before steps were recorded: a lock without a step had called UpdateService
            # unless its record says otherwise; the executor checks ECS before acting on either.
            step=in_flight.get("step", Step.LOCKED),
            lease_expires_at=_time(in_flight.get("lease_expires_at")),
            ended=in_flight.get("ended"),
        )
        if in_flight
        else None,
        automatic_rollbacks=tuple(parse_iso(at) for at in item.get("automatic_rollbacks", [])),
        halted=Halt(halted["reason"], parse_iso(halted["at"]), halted.get("rollback_id")) if halted else None,
        last_alarm_at=_time(item.get("last_alarm_at")),
        updated_at=_time(item.get("updated_at")),
    )


def alarms_item(service: ServiceId, names: list[str]) -> Item:
    item = _meta(service_pk(service), ALARMS_SK, "alarms")
    item.update({"service_arn": service.arn, "alarms": names})
    return item


def alarms_from_items(alarms: Item | None, state: Item | None) -> tuple[str, ...]:
    """The alarm names seen linked; a version-1 state item kept them itself."""
    if alarms is not None:
        return tuple(alarms.get("alarms", []))
    return tuple(state.get("alarms", [])) if state is not None else ()


# -- rollbacks ----------------------------------------------------------------------------


def rollback_to_item(record: RollbackRecord) -> Item:
    item = _meta(service_pk(record.service), record.record_key, "rollback")
    item.update(
        _compact(
            {
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
                "requested_by_verified": record.requested_by_verified,
                "reason": record.reason,
                "source": record.source,
                "from": deployment_summary_to_item(record.from_deployment)
                if record.from_deployment
                else None,
                "to": ref_to_item(record.to_release) if record.to_release else None,
                "deployed_task_definition_arn": record.deployed_task_definition_arn,
                "pinned_images": [image_to_item(image) for image in record.pinned_images],
                "dry_run": record.dry_run,
                "update_service_at": _opt_time(record.update_service_at),
                "result": record.result,
                "result_at": _opt_time(record.result_at),
                "path": record.path,
                "service_deployment_arn": record.service_deployment_arn,
                "codedeploy_deployment_id": record.codedeploy_deployment_id,
                "codedeploy_stopped": record.codedeploy_stopped or None,
                "group": record.group,
                "group_rollback_id": record.group_rollback_id,
            }
        )
    )
    return item


def rollback_from_item(item: Item) -> RollbackRecord:
    to = item.get("to")
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
        requested_by_verified=bool(item.get("requested_by_verified", False)),
        reason=item.get("reason", ""),
        source=item.get("source", ""),
        from_deployment=deployment_from_item(item["from"]) if item.get("from") else None,
        to_release=(ref_from_v1_summary(to) if "service_arn" in to else ref_from_item(to)) if to else None,
        deployed_task_definition_arn=item.get("deployed_task_definition_arn"),
        pinned_images=tuple(image_from_item(image) for image in item.get("pinned_images", [])),
        dry_run=bool(item.get("dry_run", False)),
        update_service_at=_time(item.get("update_service_at")),
        result=item.get("result"),
        result_at=_time(item.get("result_at")),
        path=item.get("path"),
        service_deployment_arn=item.get("service_deployment_arn"),
        codedeploy_deployment_id=item.get("codedeploy_deployment_id"),
        codedeploy_stopped=bool(item.get("codedeploy_stopped", False)),
        group=item.get("group"),
        group_rollback_id=item.get("group_rollback_id"),
    )


# -- the outbox ---------------------------------------------------------------------------


def outbox_sk(key: str) -> str:
    return f"{OUTBOX_SK_PREFIX}{key}"


def outbox_to_item(entry: OutboxEntry) -> Item:
    item = _meta(service_pk(entry.service), outbox_sk(entry.key), "notification")
    item.update(
        _compact(
            {
                KIND_INDEX.partition_key: OUTBOX_KIND,
                "key": entry.key,
                "service_arn": entry.service.arn,
                "subject": entry.subject,
                "message": entry.message,
                "attributes": dict(entry.attributes),
                "created_at": iso(entry.created_at),
            }
        )
    )
    return item


def outbox_from_item(item: Item) -> OutboxEntry:
    return OutboxEntry(
        service=ServiceId.from_arn(item["service_arn"]),
        key=item["key"],
        subject=item["subject"],
        message=item["message"],
        attributes=dict(item.get("attributes", {})),
        created_at=parse_iso(item["created_at"]),
        claimed_until=_time(item.get("claimed_until")),
    )


# -- what one change writes ---------------------------------------------------------------


@dataclass(frozen=True)
class ItemWrite:
    """One item a ``LedgerChange`` writes, and the condition it is written under.

    ``new``: the item must not exist (a decision: its key derives from the trigger). ``version``:
    the stored state must still have ``expected_version`` (0: must not exist). ``add_alarm``: the
    item is the alarms set, to which ``alarm`` is added.
    """

    item: Item
    condition: str = "none"  # none | new | version | add_alarm
    expected_version: int = 0
    alarm: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.item[PARTITION_KEY], self.item[SORT_KEY])


def change_writes(change: LedgerChange) -> list[ItemWrite]:
    """Every item of one atomic change, at most one write per key (the last one wins)."""
    writes: dict[tuple[str, str], ItemWrite] = {}

    def add(write: ItemWrite) -> None:
        writes[write.key] = write

    if change.state is not None:
        add(ItemWrite(state_to_item(change.state), "version", change.expected_version))
    for deployment in change.deployments:
        for item in (deployment_to_item(deployment), *image_use_items(deployment)):
            add(ItemWrite(item))
    for release in change.releases:
        for item in (release_to_item(release), *revision_items(release)):
            add(ItemWrite(item))
    if change.new_rollback is not None:
        add(ItemWrite(rollback_to_item(change.new_rollback), "new"))
    for record in change.rollback_updates:
        add(ItemWrite(rollback_to_item(record)))
    if change.alarm_seen is not None:
        service, name = change.alarm_seen
        add(ItemWrite(alarms_item(service, []), "add_alarm", alarm=name))
    for entry in change.notifications:
        add(ItemWrite(outbox_to_item(entry), "new"))
    return list(writes.values())
