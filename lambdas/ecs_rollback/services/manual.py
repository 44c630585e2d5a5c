"""The manual rollback contract: validate the request, resolve the target, decide, answer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ecs_rollback.config import Settings
from ecs_rollback.domain.decision import NOT_DEPLOYED_BY_ECS, ManualOptions
from ecs_rollback.domain.errors import InvalidRequest
from ecs_rollback.domain.model import ReleaseRef, RevisionId, ServiceId
from ecs_rollback.domain.release import release_id_of
from ecs_rollback.domain.state import ServiceState
from ecs_rollback.domain.targets import GitShaTarget, LastGood, RevisionTarget, TargetSpec
from ecs_rollback.events.manual import (
    CLUSTER_ARN,
    MAX_PAYLOAD_BYTES,
    GroupRollbackRequest,
    ManualRollbackRequest,
    Request,
)
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies
from ecs_rollback.services import adoption, executor, group_rollback, place
from ecs_rollback.services.capture import images_of
from ecs_rollback.services.executor import Loaded
from ecs_rollback.services.notifications import record_view


def error_response(code: str, message: str) -> dict[str, Any]:
    return {"error": code, "message": message}


def parse_request(event: object) -> ManualRollbackRequest | GroupRollbackRequest:
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
    model: type[ManualRollbackRequest | GroupRollbackRequest] = ManualRollbackRequest
    if "group" in event:
        if "cluster" in event or "service" in event:
            raise InvalidRequest(
                "group_and_service",
                "give either 'group' (a configured group of services) or 'cluster' and 'service', not both",
            )
        model = GroupRollbackRequest
    try:
        request = model.model_validate(dict(event))
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
        "group": "the name of a group of services configured in the stack (groups)",
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


def service_of(
    request: ManualRollbackRequest, partition: str, region: str, account: str, settings: Settings
) -> ServiceId:
    """The service asked for: in this function's account and region, or, by its cluster ARN, in a
    member account of a central installation (a cluster ARN of any other account is refused)."""
    match = CLUSTER_ARN.match(request.cluster)
    if match is not None and settings.member(match["account"], match["region"]) is not None:
        return ServiceId(
            match["partition"], match["region"], match["account"], match["name"], request.service
        )
    if match is not None:
        if match["account"] != account:
            raise InvalidRequest(
                "cluster_other_account",
                f"the cluster ARN is in account {match['account']}; this function acts in account {account} "
                "(and its member accounts) only: give the cluster name, invoke the installation of that "
                "account, or add the account to the stack's members",
            )
        if match["region"] != region:
            raise InvalidRequest(
                "cluster_other_region",
                f"the cluster ARN is in region {match['region']}; this function acts in {region} only",
            )
    return ServiceId(partition, region, account, request.cluster_name, request.service)


def _loader(
    deps: Dependencies, service: ServiceId, spec: TargetSpec, request: Request, label: str | None = None
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
        target_label=label or request.target,
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
            code_deploy=executor.through_code_deploy_configured(deps, service),
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
        requested_by = request.requested_by or UNVERIFIED_CALLER
        if isinstance(request, GroupRollbackRequest):
            return _group(deps, request, (partition, region, account), request_id, requested_by)
        service = service_of(request, partition, region, account, deps.settings)
        acting = place.acting_in(deps, service.account, service.region)
        if acting is None:  # a member the settings name but this function has no way into
            raise InvalidRequest(
                "cluster_other_account",
                f"this function cannot act in account {service.account} ({service.region}); redeploy the "
                "stack with the account in members",
            )
        deps = acting
        spec = request.target_spec
        trigger = executor.manual_trigger(deps, request_id, requested_by, request.reason)
        options = executor.ManualRequestOptions(
            load=lambda: _loader(deps, service, spec, request), requested_by=requested_by
        )
        record = executor.execute(deps, trigger, service, manual=options)
    except InvalidRequest as error:
        return error_response(error.code, error.message)
    return record_view(record)


def _group(
    deps: Dependencies,
    request: GroupRollbackRequest,
    place: tuple[str, str, str],
    request_id: str,
    requested_by: str,
) -> dict[str, Any]:
    group = deps.settings.group(request.group)
    if group is None:
        known = ", ".join(sorted(g.name for g in deps.settings.groups)) or "none are configured"
        raise InvalidRequest(
            "unknown_group",
            f"no group {request.group!r} is configured (groups: {known}); add it to the stack's groups",
        )
    members = group_rollback.members_of(group, *place)
    return group_rollback.roll_back_group(
        deps,
        request,
        members,
        lambda acting, service, sha, label: _loader(acting, service, sha, request, label),
        request_id=request_id,
        requested_by=requested_by,
    )


UNVERIFIED_CALLER = "unknown (not given)"


def _place_of(function_arn: str) -> tuple[str, str, str]:
    parts = function_arn.split(":")
    if len(parts) > 4:
        return parts[1], parts[3], parts[4]
    return "aws", "", ""
