"""The bake timer: promote a COMPLETED revision to GOOD once it has stayed quiet through the bake time."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ecs_rollback.domain import lifecycle
from ecs_rollback.domain.model import Release, Status
from ecs_rollback.events.bake_timer import BakeTimerPayload
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies, LedgerChange
from ecs_rollback.services import place, releases, retry
from ecs_rollback.services.alarm_links import alarms_of


@dataclass(frozen=True)
class Promotion:
    outcome: str  # promoted, superseded, not_completed, alarmed, rescheduled, unknown
    message: str


def promote_if_quiet(deps: Dependencies, payload: BakeTimerPayload, *, reschedule: bool = True) -> Promotion:
    """``reschedule``: while alarms fire, set a new timer (the reconciler, which looks again every
    minute anyway, does not)."""
    service = payload.service
    placed = place.acting_in(deps, service.account, service.region)  # a member's alarms and registry
    if placed is None:
        return Promotion("unknown", "the service is in an account this installation does not act in")
    deps = placed
    prepared: dict[str, Release] = {}  # registered once, whatever the retries: never two pinned copies
    return retry.on_conflict(
        lambda: _promote_once(deps, payload, prepared, reschedule), what=f"the ledger state of {service}"
    )


def _promote_once(
    deps: Dependencies, payload: BakeTimerPayload, prepared: dict[str, Release], reschedule: bool
) -> Promotion:
    service = payload.service
    now = deps.clock.now()
    state = deps.ledger.load(service)
    deployment = deps.ledger.get_deployment(service, payload.deployment_id)
    if state is None or deployment is None:
        return Promotion("unknown", "the ledger does not know this deployment; nothing to promote")
    if state.current is None or state.current.deployment_id != deployment.deployment_id:
        return Promotion("superseded", "another deployment replaced this one before its bake time ended")
    if deployment.status != Status.COMPLETED:
        return Promotion("not_completed", f"the deployment is {deployment.status}, not COMPLETED")
    completed_at = deployment.completed_at or deployment.started_at
    if state.last_alarm_at is not None and state.last_alarm_at >= completed_at:
        return Promotion(
            "alarmed", "an alarm fired during the bake time; the revision is not promoted to GOOD"
        )
    firing = deps.alarms.in_alarm(alarms_of(deps.settings, service, deps.ledger.linked_alarms(service)))
    if firing:
        if reschedule and now - completed_at < deps.settings.watch_window and deps.bake_timer is not None:
            deps.bake_timer.schedule(service, deployment.deployment_id, now + deps.settings.bake_time)
            return Promotion("rescheduled", f"alarms in ALARM ({', '.join(firing)}); checking again later")
        return Promotion("alarmed", f"alarms in ALARM ({', '.join(firing)}); not promoted")
    release = releases.release_of(deps.ledger, deployment, now)
    if not release.is_good:  # a GOOD release already has its rollback revision
        if release.release_id not in prepared:
            prepared[release.release_id] = releases.prepared_for_rollback(
                deps.ecs, deps.registry, release, deployment
            )
        ready = prepared[release.release_id]
        release = replace(
            release,
            rollback_task_definition_arn=ready.rollback_task_definition_arn,
            revisions=tuple(dict.fromkeys((*release.revisions, *ready.revisions))),
            images=ready.images,
            images_missing=ready.images_missing,
            task_definition=ready.task_definition,
        )
    transition = lifecycle.promote(state, deployment, release, now)
    deps.ledger.commit(
        LedgerChange(
            state=replace(transition.state, version=state.version + 1),
            expected_version=state.version,
            deployments=transition.deployments,
            releases=transition.releases,
        )
    )
    logger.info(
        "revision promoted to GOOD", extra={"service": str(service), "revision": str(deployment.revision)}
    )
    deps.telemetry.event("RevisionPromoted")
    return Promotion("promoted", f"{deployment.revision} is GOOD (release {release.release_id})")
