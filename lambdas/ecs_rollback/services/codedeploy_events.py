"""Following a rollback through CodeDeploy to its end.

ECS sends no deployment events for a CODE_DEPLOY-controlled service, so the rollback's CodeDeploy
deployment says when it ended: its ``CodeDeploy Deployment State-change Notification`` (or, when
that event was lost, the reconciler's ``GetDeployment``). Its end finishes the rollback as the
ECS path does when the rollback's own deployment ends (``lifecycle.finish_in_flight``): the record
gets its ``result``, the service's lock is released and ROLLBACK_RESULT is told, in one commit; a
FAILED one also halts automatic rollbacks, as a failed rollback deployment does on the ECS path.
(The release left was recorded ROLLED_BACK when CodeDeploy was asked.) Any other deployment of
the group, such as a new release, is ignored here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ecs_rollback.config import CodeDeployGroup
from ecs_rollback.domain import lifecycle
from ecs_rollback.domain.codedeploy import rollback_result
from ecs_rollback.domain.decision import Path
from ecs_rollback.domain.model import SERVICE_ARN, RollbackRecord, ServiceId
from ecs_rollback.domain.state import ServiceState
from ecs_rollback.events.codedeploy_deployment import CodeDeployDeploymentEvent
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies, LedgerChange
from ecs_rollback.services import deployments, retry
from ecs_rollback.services.notifications import outbox_entries, rollback_result_notification


@dataclass(frozen=True)
class Followed:
    """What a CodeDeploy deployment's end did, for the handler's answer and the tests."""

    action: str
    service: ServiceId | None = None
    rollback: RollbackRecord | None = None


def handle_codedeploy_event(deps: Dependencies, event: CodeDeployDeploymentEvent) -> Followed:
    detail = event.detail
    group = _configured_group(deps, detail.application, detail.deployment_group)
    if group is None or event.account != deps.settings.home_account:
        logger.info(
            "CodeDeploy event of a deployment group not configured ignored",
            extra={"application": detail.application, "deployment_group": detail.deployment_group},
        )
        return Followed("not_configured")
    service = _service_of(group, event)
    if detail.state not in ("SUCCESS", "FAILURE", "STOP"):
        return Followed("not_ended", service)
    return retry.on_conflict(
        lambda: finish(deps, service, detail.deployment_id, detail.state),
        what=f"the ledger state of {service}",
    )


def finish(deps: Dependencies, service: ServiceId, deployment_id: str, state: str) -> Followed:
    """CodeDeploy deployment ``deployment_id`` ended in ``state`` (SUCCESS, FAILURE, STOP): when it is
    the in-flight rollback's, finish that rollback. A redelivery finds the lock released: a no-op."""
    loaded = deps.ledger.load(service)
    record = in_flight_codedeploy_rollback(deps, loaded)
    if loaded is None or record is None or record.codedeploy_deployment_id != deployment_id:
        logger.info(
            "CodeDeploy deployment that is no rollback in flight ignored",
            extra={"service": str(service), "codedeploy_deployment": deployment_id, "state": state},
        )
        return Followed("not_a_rollback", service)
    result = rollback_result(state, stopped=record.codedeploy_stopped)
    if result is None:
        return Followed("not_ended", service, record)
    if loaded.in_flight is not None and loaded.in_flight.ended is not None:
        return Followed("awaiting_resume", service, record)  # told before; the resuming run records it
    now = deps.clock.now()
    transition = lifecycle.finish_in_flight(lifecycle.Transition(loaded), record.rollback_id, result)
    finished = deployments.finished_rollback(deps, service, transition, now)
    changed = transition.state
    if result == "FAILED":
        changed = lifecycle.halt(
            changed,
            f"the rollback's own CodeDeploy deployment {deployment_id} ended {state}; not cascading, "
            "a person must decide",
            now,
            record.rollback_id,
        )
    deps.ledger.commit(
        LedgerChange(
            state=replace(changed, version=loaded.version + 1, updated_at=now),
            expected_version=loaded.version,
            rollback_updates=[finished] if finished else [],
            notifications=outbox_entries(deps.settings, service, now, rollback_result_notification(finished))
            if finished
            else [],
        )
    )
    log = logger.warning if result == "FAILED" else logger.info
    log(
        "rollback through CodeDeploy ended",
        extra={
            "service": str(service),
            "rollback_id": record.rollback_id,
            "codedeploy_deployment": deployment_id,
            "state": state,
            "result": result,
        },
    )
    deps.telemetry.event("CodeDeployRollbackEnded")
    return Followed(result.lower(), service, finished or record)


def in_flight_codedeploy_rollback(deps: Dependencies, state: ServiceState | None) -> RollbackRecord | None:
    """The record of the service's rollback in flight, when CodeDeploy carries it out."""
    if state is None or state.in_flight is None:
        return None
    record = deps.ledger.get_rollback(state.service, state.in_flight.record_key)
    if record is None or record.path != Path.CODEDEPLOY.value or record.codedeploy_deployment_id is None:
        return None
    return record


def _configured_group(deps: Dependencies, application: str, deployment_group: str) -> CodeDeployGroup | None:
    return next(
        (
            group
            for group in deps.settings.code_deploy or ()
            if (group.application, group.deployment_group) == (application, deployment_group)
        ),
        None,
    )


def _service_of(group: CodeDeployGroup, event: CodeDeployDeploymentEvent) -> ServiceId:
    """The service the group deploys: named by its ARN, or ``cluster/service`` of the home account
    in the event's region (and partition, from the ARNs the event lists)."""
    if SERVICE_ARN.match(group.service):
        return ServiceId.from_arn(group.service)
    cluster, name = group.pair()
    partition = next(
        (arn.split(":")[1] for arn in event.resources if arn.startswith("arn:") and arn.count(":") >= 5),
        "aws",
    )
    return ServiceId(partition, event.region, event.account, cluster, name)
