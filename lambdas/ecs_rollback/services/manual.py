"""The manual rollback contract: validate the request, resolve the target, decide, answer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ecs_rollback.domain.decision import NOT_DEPLOYED_BY_ECS, ManualOptions, Trigger
from ecs_rollback.domain.errors import InvalidRequest
from ecs_rollback.domain.model import ReleaseRef, RevisionId, ServiceId, TriggerKind
from ecs_rollback.domain.release import release_id_of
from ecs_rollback.domain.state import ServiceState
from ecs_rollback.domain.targets import GitShaTarget, LastGood, RevisionTarget, TargetSpec
from ecs_rollback.events.manual import CLUSTER_ARN, MAX_PAYLOAD_BYTES, ManualRollbackRequest
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies
from ecs_rollback.services import adoption, executor
from ecs_rollback.services.capture import images_of
from ecs_rollback.services.executor import Loaded
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
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, int digits
            raise InvalidRequest(
                "invalid_json", f"the request is not valid JSON this function accepts: {str(exc)[:200]}"
            ) from exc
    if not isinstance(event, Mapping):
        raise InvalidRequest(
            "invalid_request",
            'the request must be one JSON object: {"cluster", "service", "target", "reason", ...}',
        )
    try:
        size = len(json.dumps(event, default=str))
    except (ValueError, RecursionError) as exc:  # nested too deep, or an int too long to print
        raise InvalidRequest("invalid_request", f"the request cannot be read: {str(exc)[:200]}") from exc
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
        "requested_by": "who asks: your IAM ARN or e-mail (optional; recorded as given, unverified)",
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


def service_of(request: ManualRollbackRequest, partition: str, region: str, account: str) -> ServiceId:
    """The service asked for, in this function's account and region (a cluster ARN of another is refused)."""
    match = CLUSTER_ARN.match(request.cluster)
    if match is not None:
        if match["account"] != account:
            raise InvalidRequest(
                "cluster_other_account",
                f"the cluster ARN is in account {match['account']}; this function acts in account {account} only: "
                "give the cluster name, or invoke the installation of that account",
            )
        if match["region"] != region:
            raise InvalidRequest(
                "cluster_other_region",
                f"the cluster ARN is in region {match['region']}; this function acts in {region} only",
            )
    return ServiceId(partition, region, account, request.cluster_name, request.service)


def _loader(
    deps: Dependencies, service: ServiceId, spec: TargetSpec, request: ManualRollbackRequest
) -> Loaded:
    """Read the state and resolve the target: one read for ``last-good`` and ``family:revision``."""
    if isinstance(spec, RevisionTarget):
        _check_place(spec, service)
        state, ref = deps.ledger.load_with_revision(service, spec.revision)
        state = state or _adopted_on_day_one(deps, service)
        _check_family(state, spec.revision, service)
        target = ref or _from_ecs(deps, service, spec.revision)
    elif isinstance(spec, GitShaTarget):
        state, target = _by_git_sha(deps, service, spec.prefix)
        state = state or _adopted_on_day_one(deps, service)
    else:
        state = deps.ledger.load(service) or _adopted_on_day_one(deps, service)
        target = None
    options = ManualOptions(
        last_good=isinstance(spec, LastGood),
        target=target,
        target_label=request.target,
        force=request.force,
        dry_run=request.dry_run,
    )
    return state, options


def _check_place(spec: RevisionTarget, service: ServiceId) -> None:
    if spec.account is not None and spec.account != service.account:
        raise InvalidRequest(
            "target_other_account",
            f"the target is a task definition of account {spec.account}; only revisions of this service's "
            f"account {service.account} can be deployed to it (give family:revision)",
        )
    if spec.region is not None and spec.region != service.region:
        raise InvalidRequest(
            "target_other_region",
            f"the target is a task definition of region {spec.region}; only revisions of this service's "
            f"region {service.region} can be deployed to it (give family:revision)",
        )


def _check_family(state: ServiceState | None, revision: RevisionId, service: ServiceId) -> None:
    """A target must be a revision of a family this service has run (per the ledger)."""
    families = state.families if state is not None else ()
    if families and revision.family not in families:
        raise InvalidRequest(
            "target_other_family",
            f"{revision} is not a revision of a family {service} has run; allowed: "
            + ", ".join(f"{family}:<revision>" for family in families),
        )


def _adopted_on_day_one(deps: Dependencies, service: ServiceId) -> ServiceState | None:
    """An in-scope service the ledger has never seen: adopt what it runs (as ``adopt`` does), then go on."""
    if not deps.settings.scope.contains(service):
        return None
    try:
        adoption.adopt_running(
            deps.ledger,
            deps.ecs,
            deps.registry,
            service,
            deps.clock.now(),
            "manual rollback (first request for this service)",
        )
    except InvalidRequest as error:
        if error.code in NOT_DEPLOYED_BY_ECS:
            raise  # no rollback of this service can work: say why, and what to do instead
        logger.info("day-one adoption not possible", extra={"service": str(service), "why": error.message})
        return None
    return deps.ledger.load(service)


def _by_git_sha(
    deps: Dependencies, service: ServiceId, prefix: str
) -> tuple[ServiceState | None, ReleaseRef | None]:
    """The state and the release of the newest deployment of the commit: one Query, one read."""
    found = deps.ledger.find_git_sha(service, prefix)
    shas = sorted({deployment.git_sha for deployment in found if deployment.git_sha})
    if len(shas) > 1:
        raise InvalidRequest(
            "ambiguous_target",
            f"git SHA prefix {prefix!r} matches {len(shas)} commits ({', '.join(sha[:12] for sha in shas[:5])}); "
            "give more characters",
        )
    if not found:
        return deps.ledger.load(service), None
    newest = max(found, key=lambda deployment: deployment.started_at)
    return deps.ledger.load_with_revision(service, newest.revision)


def _from_ecs(deps: Dependencies, service: ServiceId, revision: RevisionId) -> ReleaseRef | None:
    """A revision ECS knows but the ledger never saw deployed on this service."""
    snapshot = deps.ecs.describe_task_definition(str(revision))
    if snapshot is None:
        return None
    images = images_of(snapshot, {}, None)
    release_id = release_id_of(snapshot.definition, images, snapshot.arn)
    known = deps.ledger.get_release(service, release_id)
    if known is not None:
        return known.ref(snapshot.arn)
    return ReleaseRef(
        release_id=release_id,
        task_definition_arn=snapshot.arn,
        deploy_task_definition_arn=snapshot.arn,
        digests_recorded=all(image.digest for image in images),
    )


def handle_manual_request(
    deps: Dependencies, event: object, *, request_id: str, function_arn: str
) -> dict[str, Any]:
    """The whole contract: one JSON object in, one JSON object out, never a stack trace."""
    partition, region, account = _place_of(function_arn)
    try:
        request = parse_request(event)
        service = service_of(request, partition, region, account)
        spec = request.target_spec
        requested_by = request.requested_by or UNVERIFIED_CALLER
        trigger = Trigger(
            kind=TriggerKind.MANUAL,
            trigger_id=request_id,
            at=deps.clock.now(),
            source=requested_by,
            reason=request.reason,
        )
        options = executor.ManualRequestOptions(
            load=lambda: _loader(deps, service, spec, request), requested_by=requested_by
        )
        record = executor.execute(deps, trigger, service, manual=options)
    except InvalidRequest as error:
        return error_response(error.code, error.message)
    return record_view(record)


UNVERIFIED_CALLER = "unknown (not given)"


def _place_of(function_arn: str) -> tuple[str, str, str]:
    parts = function_arn.split(":")
    if len(parts) > 4:
        return parts[1], parts[3], parts[4]
    return "aws", "", ""
