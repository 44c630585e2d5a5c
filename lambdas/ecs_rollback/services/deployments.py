"""Recording ECS deployment events in the ledger, and rolling back failed deployments."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ecs_rollback.domain import lifecycle
from ecs_rollback.domain.decision import Trigger
from ecs_rollback.domain.model import (
    Deployment,
    Origin,
    RollbackRecord,
    ServiceId,
    ServiceState,
    Status,
    TriggerKind,
)
from ecs_rollback.events.ecs_deployment import EcsDeploymentEvent
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies, LedgerChange, ServiceSnapshot
from ecs_rollback.services import capture, executor, retry
from ecs_rollback.services.alarm_links import alarms_of
from ecs_rollback.services.notifications import rollback_result_notification


@dataclass(frozen=True)
class Recorded:
    """What a deployment event did, for the handler's log line and the tests."""

    action: str
    deployment: Deployment | None = None
    rollback: RollbackRecord | None = None


def handle_deployment_event(deps: Dependencies, event: EcsDeploymentEvent) -> Recorded:
    service = event.service
    detail = event.detail
    if not deps.settings.scope.contains(service):
        logger.info(
            "deployment event for a service outside the scope ignored", extra={"service": service.arn}
        )
        deps.telemetry.event("OutOfScopeEvent")
        return Recorded("out_of_scope")
    snapshot = deps.ecs.describe_service(service)
    if snapshot is None:
        logger.warning("the service no longer exists in ECS; event ignored", extra={"service": service.arn})
        return Recorded("service_not_found")

    recorded = retry.on_conflict(
        lambda: _record(deps, event, service, snapshot), what=f"the ledger state of {service}"
    )

    if detail.event_name == "SERVICE_DEPLOYMENT_FAILED" and recorded.deployment is not None:
        trigger = Trigger(
            kind=TriggerKind.DEPLOYMENT_FAILED,
            trigger_id=event.id,
            at=event.time.astimezone(UTC),
            source=detail.deployment_id,
            reason=f"deployment {detail.deployment_id} failed: {detail.reason}",
            deployment_id=detail.deployment_id,
            ecs_rolling_back=detail.ecs_rollback_source is not None or snapshot.ecs_rollback_enabled,
        )
        return replace(recorded, rollback=executor.execute(deps, trigger, service))
    return recorded


def _record(
    deps: Dependencies, event: EcsDeploymentEvent, service: ServiceId, snapshot: ServiceSnapshot
) -> Recorded:
    detail = event.detail
    now = deps.clock.now()
    state = deps.ledger.load(service)
    expected = state.version if state else 0
    adopted: list[Deployment] = []
    if state is None:
        state, adopted = _adopt_baseline(deps, service, snapshot, detail.deployment_id, now)

    deployment = deps.ledger.get_deployment(service, detail.deployment_id)
    if deployment is None:
        deployment = _capture(deps, event, service, snapshot, now)
        if deployment is None:
            logger.warning(
                "deployment unknown to ECS and to the ledger; nothing to record",
                extra={"service": service.arn, "deployment_id": detail.deployment_id},
            )
            return Recorded("deployment_not_found")
    transition = lifecycle.record_started(state, deployment, now)
    deployment = transition.deployments[0]

    if detail.event_name == "SERVICE_DEPLOYMENT_COMPLETED":
        deployment = capture.fill_digests(deps.ecs, deployment)
        transition = lifecycle.record_completed(
            transition.state, deployment, now, bake_time_zero=_bake_is_zero_and_quiet(deps, transition.state)
        )
    elif detail.event_name == "SERVICE_DEPLOYMENT_FAILED":
        transition = lifecycle.record_failed(transition.state, deployment, now, detail.reason)

    finished = _finished_rollback(deps, service, transition, now)
    new_state = replace(transition.state, version=expected + 1)
    deps.ledger.commit(
        LedgerChange(
            state=new_state,
            expected_version=expected,
            deployments=[*adopted, *transition.deployments],
            rollback_updates=[finished] if finished else [],
        )
    )
    recorded_deployment = transition.deployments[-1] if transition.deployments else deployment
    logger.info(
        "deployment recorded",
        extra={
            "service": str(service),
            "deployment_id": detail.deployment_id,
            "event": detail.event_name,
            "status": recorded_deployment.status.value,
            "revision": str(recorded_deployment.revision),
        },
    )
    if transition.schedule_bake_for is not None:
        _schedule_bake(deps, transition.schedule_bake_for, now)
    if finished is not None:
        deps.notifier.publish(rollback_result_notification(finished))
    return Recorded(detail.event_name.removeprefix("SERVICE_DEPLOYMENT_").lower(), recorded_deployment)


def _capture(
    deps: Dependencies,
    event: EcsDeploymentEvent,
    service: ServiceId,
    snapshot: ServiceSnapshot,
    now: datetime,
) -> Deployment | None:
    detail = event.detail
    ecs_deployment = snapshot.deployment(detail.deployment_id)
    if ecs_deployment is None:
        return None
    ecs_rollback = (
        detail.ecs_rollback_source is not None and detail.event_name == "SERVICE_DEPLOYMENT_IN_PROGRESS"
    )
    return capture.capture(
        deps.ecs,
        # Asking ECR what the tag means is only right while ECS is resolving it, i.e. now.
        deps.registry if detail.event_name == "SERVICE_DEPLOYMENT_IN_PROGRESS" else None,
        service,
        detail.deployment_id,
        ecs_deployment.task_definition_arn,
        (ecs_deployment.created_at or detail.updated_at).astimezone(UTC),
        now,
        origin=Origin.ECS_ROLLBACK if ecs_rollback else Origin.DEPLOY,
        reason=detail.reason or None,
    )


def _adopt_baseline(
    deps: Dependencies, service: ServiceId, snapshot: ServiceSnapshot, deployment_id: str, now: datetime
) -> tuple[ServiceState, list[Deployment]]:
    """First sight of a service: the revision it ran before this deployment becomes its baseline GOOD."""
    state = lifecycle.new_state(service)
    previous = [
        d for d in snapshot.deployments if d.deployment_id != deployment_id and d.status != "INACTIVE"
    ]
    if not previous:
        logger.info("no earlier revision to adopt as baseline", extra={"service": str(service)})
        return state, []
    earlier = max(previous, key=lambda d: d.created_at or datetime.min.replace(tzinfo=UTC))
    baseline = capture.capture(
        deps.ecs,
        None,  # the tag may have moved since the baseline was deployed: only ECS's own digests count
        service,
        earlier.deployment_id,
        earlier.task_definition_arn,
        (earlier.created_at or now).astimezone(UTC),
        now,
        status=Status.GOOD,
        origin=Origin.ADOPTED,
        reason="running when the service was first seen; adopted as baseline",
    )
    if baseline is None:
        return state, []
    logger.info("adopted baseline", extra={"service": str(service), "revision": str(baseline.revision)})
    adopted_state, adopted = lifecycle.adopt(state, baseline, now)
    return adopted_state, [adopted]


def _bake_is_zero_and_quiet(deps: Dependencies, state: ServiceState) -> bool:
    if deps.settings.bake_time_seconds > 0:
        return False
    names = alarms_of(deps.settings, state)
    return not (names and deps.alarms.in_alarm(names))


def _schedule_bake(deps: Dependencies, deployment: Deployment, now: datetime) -> None:
    due = (deployment.completed_at or now) + deps.settings.bake_time
    if deps.bake_timer is None:
        logger.error(
            "no bake timer configured: the revision stays COMPLETED and is never promoted to GOOD",
            extra={"service": str(deployment.service), "deployment_id": deployment.deployment_id},
        )
        return
    deps.bake_timer.schedule(deployment.service, deployment.deployment_id, due)
    logger.info(
        "bake timer scheduled", extra={"deployment_id": deployment.deployment_id, "due_at": due.isoformat()}
    )


def _finished_rollback(
    deps: Dependencies, service: ServiceId, transition: lifecycle.Transition, now: datetime
) -> RollbackRecord | None:
    if transition.finished_rollback_key is None:
        return None
    record = deps.ledger.get_rollback(service, transition.finished_rollback_key)
    if record is None:
        return None
    return replace(record, result=transition.rollback_finished, result_at=now)
