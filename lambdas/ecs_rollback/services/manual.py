"""The manual rollback contract: validate the request, resolve the target, decide, answer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ecs_rollback.domain.decision import ManualOptions, Trigger
from ecs_rollback.domain.errors import InvalidRequest
from ecs_rollback.domain.model import (
    Deployment,
    Origin,
    RevisionId,
    ServiceId,
    ServiceState,
    Status,
    StatusChange,
    TriggerKind,
)
from ecs_rollback.domain.targets import GitShaTarget, LastGood, RevisionTarget, TargetSpec
from ecs_rollback.events.manual import MAX_PAYLOAD_BYTES, ManualRollbackRequest
from ecs_rollback.ports import Dependencies
from ecs_rollback.services import executor
from ecs_rollback.services.capture import images_of
from ecs_rollback.services.notifications import record_view


def error_response(code: str, message: str) -> dict[str, Any]:
    return {"error": code, "message": message}


def parse_request(event: object) -> ManualRollbackRequest:
    """The request, or ``InvalidRequest`` naming what is wrong and how to fix it."""
    if isinstance(event, (str, bytes)):
        if len(event) > MAX_PAYLOAD_BYTES:
            raise InvalidRequest("payload_too_large", f"the request is over {MAX_PAYLOAD_BYTES} bytes")
        try:
            event = json.loads(event)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidRequest("invalid_json", f"the request is not valid JSON: {exc}") from exc
    if not isinstance(event, Mapping):
        raise InvalidRequest(
            "invalid_request",
            'the request must be one JSON object: {"cluster", "service", "target", "reason", "requested_by", ...}',
        )
    size = len(json.dumps(event, default=str))
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidRequest(
            "payload_too_large", f"the request is {size} bytes; the limit is {MAX_PAYLOAD_BYTES}"
        )
    try:
        request = ManualRollbackRequest.model_validate(dict(event))
    except ValidationError as exc:
        raise _explain(exc) from exc
    request.target_spec  # noqa: B018  (raises InvalidRequest for an unknown target form)
    return request


def _explain(exc: ValidationError) -> InvalidRequest:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "request"
    kind = error["type"]
    hints = {
        "cluster": "the cluster name or ARN",
        "service": "the service name (letters, digits, '-' and '_')",
        "reason": "why you roll back, in words (1-1024 characters)",
        "requested_by": "who asks: your IAM ARN or e-mail",
        "target": "'last-good', 'family:revision', a task definition ARN, or a git SHA",
        "dry_run": "true or false",
        "force": "true or false",
    }
    if kind == "missing":
        return InvalidRequest("missing_field", f"'{field}' is required: give {hints.get(field, 'a value')}")
    if kind == "extra_forbidden":
        return InvalidRequest(
            "unknown_field",
            f"'{field[:64]}' is not part of the request; allowed: {', '.join(sorted(hints))}",
        )
    return InvalidRequest(
        "invalid_field", f"'{field}' is invalid ({error['msg']}): give {hints.get(field, 'a valid value')}"
    )


def service_of(request: ManualRollbackRequest, region: str, account: str) -> ServiceId:
    partition = "aws"
    if request.cluster.startswith("arn:"):
        parts = request.cluster.split(":")
        partition, region, account = parts[1], parts[3], parts[4]
    return ServiceId(partition, region, account, request.cluster_name, request.service)


def _resolver(deps: Dependencies, service: ServiceId, spec: TargetSpec, request: ManualRollbackRequest):  # type: ignore[no-untyped-def]
    def resolve(state: ServiceState | None) -> ManualOptions:
        target: Deployment | None = None
        if isinstance(spec, RevisionTarget):
            target = deps.ledger.find_revision(service, spec.revision) or _from_ecs(
                deps, service, spec.revision
            )
        elif isinstance(spec, GitShaTarget):
            target = _by_git_sha(deps, service, spec.prefix)
        return ManualOptions(
            last_good=isinstance(spec, LastGood),
            target=target,
            target_label=request.target,
            force=request.force,
            dry_run=request.dry_run,
        )

    return resolve


def _by_git_sha(deps: Dependencies, service: ServiceId, prefix: str) -> Deployment | None:
    found = deps.ledger.find_git_sha(service, prefix)
    shas = sorted({deployment.git_sha for deployment in found if deployment.git_sha})
    if len(shas) > 1:
        raise InvalidRequest(
            "ambiguous_target",
            f"git SHA prefix {prefix!r} matches {len(shas)} commits ({', '.join(sha[:12] for sha in shas[:5])}); "
            "give more characters",
        )
    if not found:
        return None
    return max(found, key=lambda deployment: deployment.started_at)


def _from_ecs(deps: Dependencies, service: ServiceId, revision: RevisionId) -> Deployment | None:
    """A revision ECS knows but the ledger never saw deployed on this service."""
    snapshot = deps.ecs.describe_task_definition(str(revision))
    if snapshot is None:
        return None
    now = deps.clock.now()
    return Deployment(
        service=service,
        deployment_id="(never deployed on this service)",
        task_definition_arn=snapshot.arn,
        status=Status.COMPLETED,
        started_at=now,
        updated_at=now,
        images=images_of(snapshot, {}, None),
        history=(StatusChange(Status.COMPLETED, now, "registered in ECS, not recorded in the ledger"),),
        origin=Origin.DEPLOY,
        task_definition=snapshot.definition,
        reason="not recorded in the ledger; images are used as the revision names them",
    )


def handle_manual_request(
    deps: Dependencies, event: object, *, request_id: str, region: str, account: str
) -> dict[str, Any]:
    """The whole contract: one JSON object in, one JSON object out, never a stack trace."""
    try:
        request = parse_request(event)
        service = service_of(request, region, account)
        trigger = Trigger(
            kind=TriggerKind.MANUAL,
            trigger_id=request_id,
            at=deps.clock.now(),
            source=request.requested_by,
            reason=request.reason,
        )
        options = executor.ManualRequestOptions(
            resolve=_resolver(deps, service, request.target_spec, request), requested_by=request.requested_by
        )
        record = executor.execute(deps, trigger, service, manual=options)
    except InvalidRequest as error:
        return error_response(error.code, error.message)
    return record_view(record)
