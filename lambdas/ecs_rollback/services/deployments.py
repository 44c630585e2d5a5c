"""Recording ECS deployment events in the ledger; rolling back failed deployments and deployments
of releases already recorded BAD."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ecs_rollback.domain import lifecycle
from ecs_rollback.domain.decision import Trigger
from ecs_rollback.domain.errors import DuplicateTrigger
from ecs_rollback.domain.model import (
    Deployment,
    Origin,
    Release,
    RollbackRecord,
    ServiceId,
    TriggerKind,
)
from ecs_rollback.domain.state import ServiceState
from ecs_rollback.events.ecs_deployment import EcsDeploymentEvent
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies, LedgerChange, ServiceSnapshot
from ecs_rollback.services import capture, executor, place, releases, retry
from ecs_rollback.services.alarm_links import alarms_of
from ecs_rollback.services.notifications import (
    known_bad_notification,
    outbox_entries,
    rollback_result_notification,
)


@dataclass(frozen=True)
class Recorded:
    """What a deployment event did, for the handler's log line and the tests."""

    action: str
    deployment: Deployment | None = None
    rollback: RollbackRecord | None = None
    known_bad: Release | None = None  # the deployment runs a release recorded BAD


def handle_deployment_event(deps: Dependencies, event: EcsDeploymentEvent) -> Recorded:
    placed = place.for_event(deps, event)
    if placed is None:
        return Recorded("other_account_or_region")
    deps = placed
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
    ecs_rolling_back = detail.ecs_rollback_source is not None or snapshot.ecs_rollback_enabled
    if detail.event_name == "SERVICE_DEPLOYMENT_FAILED" and recorded.deployment is not None:
        trigger = Trigger(
            kind=TriggerKind.DEPLOYMENT_FAILED,
            trigger_id=event.id,
            at=event.time.astimezone(UTC),
            source=detail.deployment_id,
            reason=f"deployment {detail.deployment_id} failed: {detail.reason}",
            deployment_id=detail.deployment_id,
            ecs_rolling_back=ecs_rolling_back,
        )
        return replace(recorded, rollback=executor.execute(deps, trigger, service))
    if recorded.known_bad is not None and recorded.deployment is not None:
        return _known_bad(deps, event, recorded, recorded.deployment, recorded.known_bad)
    return recorded


def _known_bad(
    deps: Dependencies,
    event: EcsDeploymentEvent,
    recorded: Recorded,
    deployment: Deployment,
    release: Release,
) -> Recorded:
    """ECS started deploying a release recorded BAD: say so at once, and (by default) roll it back."""
    rolls_back = deps.settings.rollback_known_bad_releases
    logger.warning(
        "a release recorded BAD is being deployed",
        extra={
            "service": str(deployment.service),
            "release_id": release.release_id,
            "rolls_back": rolls_back,
        },
    )
    deps.telemetry.event("KnownBadReleaseDeployed")
    told = outbox_entries(
        deps.settings,
        deployment.service,
        deps.clock.now(),
        known_bad_notification(deployment, release, rolls_back),
    )
    if told:
        with contextlib.suppress(DuplicateTrigger):  # a redelivery of the event: told already
            deps.ledger.commit(LedgerChange(state=None, expected_version=0, notifications=told))
    if not rolls_back:
        return recorded
    trigger = Trigger(
        kind=TriggerKind.KNOWN_BAD_RELEASE,
        trigger_id=event.id,
        at=event.time.astimezone(UTC),
        source=deployment.deployment_id,
        reason=f"{deployment.revision} runs release {release.release_id}, recorded BAD "
        f"({release.verdict_reason or 'no reason recorded'})",
        deployment_id=deployment.deployment_id,
    )
    return replace(recorded, rollback=executor.execute(deps, trigger, deployment.service))


def _record(
    deps: Dependencies, event: EcsDeploymentEvent, service: ServiceId, snapshot: ServiceSnapshot
) -> Recorded:
    detail = event.detail
    now = deps.clock.now()
    state = deps.ledger.load(service)
    expected = state.version if state else 0
    adopted: lifecycle.Transition | None = None
    if state is None:
        adopted = _adopt_baseline(deps, service, snapshot, detail.deployment_id, now)
        state = adopted.state if adopted else lifecycle.new_state(service)

    deployment = deps.ledger.get_deployment(service, detail.deployment_id)
    first_sight = deployment is None
    if deployment is None:
        deployment = _capture(deps, event, service, snapshot, now)
        if deployment is None:
            logger.warning(
                "deployment unknown to ECS and to the ledger; nothing to record",
                extra={"service": service.arn, "deployment_id": detail.deployment_id},
            )
            return Recorded("deployment_not_found")
        before = (
            state.current
            if state.current and state.current.deployment_id != deployment.deployment_id
            else None
        )
        deployment = capture.how_ecs_deploys(deployment, snapshot, before)
    pending = {release.release_id: release for release in (adopted.releases if adopted else [])}
    release = pending.get(deployment.release) or releases.release_of(deps.ledger, deployment, now)
    transition = lifecycle.record_started(state, deployment, release, now)
    deployment, release = transition.deployments[0], transition.releases[0]

    if detail.event_name == "SERVICE_DEPLOYMENT_COMPLETED":
        filled = capture.fill_digests(deps.ecs, deployment, snapshot.current_service_revisions)
        if filled.release != deployment.release:  # its digests are known now: its final release
            release = releases.release_of(deps.ledger, filled, now).with_revision(filled.task_definition_arn)
        bake_time_zero = _bake_is_zero_and_quiet(deps, transition.state)
        if bake_time_zero and not release.is_good:
            release = releases.prepared_for_rollback(deps.ecs, deps.registry, release, filled)
        transition = lifecycle.record_completed(transition.state, filled, release, now, bake_time_zero)
    elif detail.event_name == "SERVICE_DEPLOYMENT_FAILED":
        transition = lifecycle.record_failed(transition.state, deployment, release, now, detail.reason)

    finished = finished_rollback(deps, service, transition, now)
    deps.ledger.commit(
        LedgerChange(
            state=replace(transition.state, version=expected + 1),
            expected_version=expected,
            deployments=[*(adopted.deployments if adopted else []), *transition.deployments],
            releases=[*(adopted.releases if adopted else []), *transition.releases],
            rollback_updates=[finished] if finished else [],
            notifications=outbox_entries(deps.settings, service, now, rollback_result_notification(finished))
            if finished
            else [],
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
            "release_id": recorded_deployment.release,
        },
    )
    if transition.schedule_bake_for is not None:
        _schedule_bake(deps, transition.schedule_bake_for, now)
    known_bad = (
        release
        if first_sight
        and release.is_bad
        and recorded_deployment.origin == Origin.DEPLOY
        and not recorded_deployment.allow_bad_release
        and detail.event_name != "SERVICE_DEPLOYMENT_FAILED"
        else None
    )
    action = detail.event_name.removeprefix("SERVICE_DEPLOYMENT_").lower()
    return Recorded(action, recorded_deployment, known_bad=known_bad)


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
        revisions=snapshot.current_service_revisions,
    )


def _adopt_baseline(
    deps: Dependencies, service: ServiceId, snapshot: ServiceSnapshot, deployment_id: str, now: datetime
) -> lifecycle.Transition | None:
    """First sight of a service: the revision it ran before this deployment becomes its baseline GOOD,
    unless its release is recorded BAD (then it is recorded without a GOOD mark, and the log says why)."""
    previous = [
        d for d in snapshot.deployments if d.deployment_id != deployment_id and d.status != "INACTIVE"
    ]
    if not previous:
        logger.info("no earlier revision to adopt as baseline", extra={"service": str(service)})
        return None
    earlier = max(previous, key=lambda d: d.created_at or datetime.min.replace(tzinfo=UTC))
    baseline = capture.baseline(
        deps.ecs,
        service,
        earlier,
        now,
        "running when the service was first seen",
        snapshot.current_service_revisions,
    )
    if baseline is None:
        return None
    release = releases.release_of(deps.ledger, baseline, now)
    state = lifecycle.new_state(service)
    if release.is_bad:
        logger.warning(
            "the revision running when the service was first seen runs a release recorded BAD; not adopted",
            extra={"service": str(service), "release_id": release.release_id, "why": release.verdict_reason},
        )
        return lifecycle.record_started(state, baseline, release, now)
    release = releases.prepared_for_rollback(deps.ecs, deps.registry, release, baseline)
    adopted_state, adopted, judged = lifecycle.adopt(
        state, baseline, release, now, "running when the service was first seen; adopted as baseline"
    )
    logger.info("adopted baseline", extra={"service": str(service), "revision": str(adopted.revision)})
    return lifecycle.Transition(adopted_state, [adopted], [judged])


def _bake_is_zero_and_quiet(deps: Dependencies, state: ServiceState) -> bool:
    if deps.settings.bake_time_seconds > 0:
        return False
    names = alarms_of(deps.settings, state.service, deps.ledger.linked_alarms(state.service))
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


def finished_rollback(
    deps: Dependencies, service: ServiceId, transition: lifecycle.Transition, now: datetime
) -> RollbackRecord | None:
    if transition.finished_rollback_key is None:
        return None
    record = deps.ledger.get_rollback(service, transition.finished_rollback_key)
    if record is None:
        return None
    return replace(record, result=transition.rollback_finished, result_at=now)
