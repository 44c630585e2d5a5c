"""The executor: decide, take the service's lock, restore exactly what was good, record, notify.

Exactly-once: the decision record's key derives from the trigger (EventBridge event id and time),
and is written in the same transaction as the lock, conditioned on not existing. A duplicate
delivery loses that race and returns the first decision without acting or notifying again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ecs_rollback.domain import lifecycle
from ecs_rollback.domain.decision import (
    Decision,
    ManualOptions,
    Policy,
    Refuse,
    RollBack,
    Skip,
    Trigger,
    decide,
)
from ecs_rollback.domain.errors import (
    DuplicateTrigger,
    EcsUpdateFailed,
    ImageMissing,
    TaskDefinitionUnavailable,
)
from ecs_rollback.domain.gitsha import COMMIT_MESSAGE_TAG, GIT_SHA_TAG, tag_safe
from ecs_rollback.domain.model import (
    Deployment,
    Outcome,
    RollbackRecord,
    ServiceId,
    ServiceState,
    TriggerKind,
)
from ecs_rollback.domain.pinning import ROLLBACK_ID_TAG, SOURCE_REVISION_TAG, PinPlan, plan
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies, LedgerChange
from ecs_rollback.services import retry
from ecs_rollback.services.notifications import notification_for

# Longer than the functions' timeout: a lock this old without UpdateService belongs to a dead run.
STALLED_AFTER = timedelta(minutes=3)
_ID_NAMESPACE = uuid.UUID("6f1f3c8e-0b7a-4d0e-9a57-5d2b1c3e4f60")

StatePatch = Callable[[ServiceState], ServiceState]


@dataclass(frozen=True)
class ManualRequestOptions:
    """A manual request, resolved against the ledger inside each attempt."""

    resolve: Callable[[ServiceState | None], ManualOptions]
    requested_by: str


def rollback_id_for(service: ServiceId, trigger_id: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{service.arn}|{trigger_id}"))


def policy_for(deps: Dependencies, service: ServiceId) -> Policy:
    settings = deps.settings
    return Policy(
        bake_time=settings.bake_time,
        watch_window=settings.watch_window,
        loop_guard_limit=settings.loop_guard_limit,
        loop_guard_period=settings.loop_guard_period,
        dry_run=settings.is_dry_run(service),
        in_scope=settings.scope.contains(service),
    )


def execute(
    deps: Dependencies,
    trigger: Trigger,
    service: ServiceId,
    manual: ManualRequestOptions | None = None,
    patch: StatePatch | None = None,
) -> RollbackRecord:
    """Decide on one trigger for one service and carry the decision out."""
    rollback_id = rollback_id_for(service, trigger.trigger_id)
    policy = policy_for(deps, service)
    requested_by = manual.requested_by if manual else "ecs-rollback"

    def attempt() -> RollbackRecord:
        now = deps.clock.now()
        state = deps.ledger.load(service)
        options = manual.resolve(state) if manual else None
        decision = decide(trigger, state, policy, now, options)
        record = _record(rollback_id, service, trigger, decision, now, requested_by)
        try:
            if isinstance(decision, RollBack):
                return _roll_back(deps, trigger, state, decision, record, now, patch)
            tracked = state is not None and state.current is not None and policy.in_scope
            return _record_only(deps, state if tracked else None, decision, record, now, patch)
        except DuplicateTrigger:
            existing = deps.ledger.get_rollback(service, record.record_key)
            if existing is not None and _stalled(existing, deps.ledger.load(service), deps.clock.now()):
                return _resume(deps, trigger, existing)
            logger.info(
                "duplicate trigger ignored",
                extra={"trigger_id": trigger.trigger_id, "rollback_id": rollback_id},
            )
            deps.telemetry.event("DuplicateTrigger")
            return existing or record

    return retry.on_conflict(attempt, what=f"the ledger state of {service}")


def _record(
    rollback_id: str,
    service: ServiceId,
    trigger: Trigger,
    decision: Decision,
    now: datetime,
    requested_by: str,
) -> RollbackRecord:
    # Automatic triggers key on the event's own time, so a duplicate delivery has the same key.
    created_at = now if trigger.kind == TriggerKind.MANUAL else trigger.at
    base = RollbackRecord(
        rollback_id=rollback_id,
        service=service,
        trigger=trigger.kind,
        trigger_id=trigger.trigger_id,
        triggered_at=trigger.at,
        created_at=created_at,
        outcome=Outcome.SKIPPED,
        code=decision.code,
        message=decision.message,
        requested_by=requested_by,
        reason=trigger.reason,
        source=trigger.source,
    )
    if isinstance(decision, RollBack):
        return replace(
            base,
            outcome=Outcome.DRY_RUN if decision.dry_run else Outcome.ROLLED_BACK,
            from_deployment=decision.current.summary() if decision.current else None,
            to_deployment=decision.target.summary(),
            dry_run=decision.dry_run,
        )
    if isinstance(decision, Refuse):
        return replace(base, outcome=Outcome.REFUSED)
    return base


def _state_change(
    state: ServiceState | None, new_state: ServiceState | None, patch: StatePatch | None
) -> tuple[ServiceState | None, int]:
    if state is None:
        return None, 0
    updated = new_state or state
    if patch is not None:
        updated = patch(updated)
    if updated == state:
        return None, state.version
    return replace(updated, version=state.version + 1), state.version


def _record_only(
    deps: Dependencies,
    state: ServiceState | None,
    decision: Skip | Refuse,
    record: RollbackRecord,
    now: datetime,
    patch: StatePatch | None,
) -> RollbackRecord:
    if state is None:
        # Nothing is written for services the ledger does not track (out of scope, or never seen).
        _notify_and_count(deps, record)
        return record
    new_state = None
    if isinstance(decision, Refuse) and decision.halts_automation:
        new_state = lifecycle.halt(
            state, decision.message, now, state.current.rollback_id if state.current else None
        )
    changed, expected = _state_change(state, new_state, patch)
    deps.ledger.commit(LedgerChange(state=changed, expected_version=expected, new_rollback=record))
    _notify_and_count(deps, record)
    return record


def _roll_back(
    deps: Dependencies,
    trigger: Trigger,
    state: ServiceState | None,
    decision: RollBack,
    record: RollbackRecord,
    now: datetime,
    patch: StatePatch | None,
) -> RollbackRecord:
    assert state is not None  # decide() never rolls back a service the ledger does not know
    try:
        restore = _plan_restore(deps, decision.target)
    except (ImageMissing, TaskDefinitionUnavailable) as error:
        refused = replace(
            record, outcome=Outcome.REFUSED, code=error.code, message=str(error), dry_run=decision.dry_run
        )
        changed, expected = _state_change(state, None, patch)
        deps.ledger.commit(LedgerChange(state=changed, expected_version=expected, new_rollback=refused))
        _notify_and_count(deps, refused)
        return refused
    record = replace(record, pinned_images=restore.images)
    if restore.unpinned:
        record = replace(
            record,
            message=record.message
            + f" (no digest was ever recorded for {', '.join(restore.unpinned)}: deployed by tag)",
        )
    if decision.dry_run:
        changed, expected = _state_change(state, None, patch)
        deps.ledger.commit(LedgerChange(state=changed, expected_version=expected, new_rollback=record))
        _notify_and_count(deps, record)
        return record

    target_arn = decision.target.task_definition_arn
    locked = lifecycle.lock(
        state,
        lifecycle.LockRequest(
            rollback_id=record.rollback_id,
            record_key=record.record_key,
            target_task_definition_arn=target_arn,
            from_task_definition_arn=decision.current.task_definition_arn if decision.current else None,
            automatic=trigger.kind != TriggerKind.MANUAL,
            lease=deps.settings.lock_ttl,
            loop_guard_period=deps.settings.loop_guard_period,
        ),
        now,
    )
    changed, expected = _state_change(state, locked, patch)
    deps.ledger.commit(LedgerChange(state=changed, expected_version=expected, new_rollback=record))
    logger.info(
        "rollback started",
        extra={"rollback_id": record.rollback_id, "service": str(record.service), "target": target_arn},
    )
    return _carry_out(deps, trigger, decision, record, restore)


def _carry_out(
    deps: Dependencies, trigger: Trigger, decision: RollBack, record: RollbackRecord, restore: PinPlan
) -> RollbackRecord:
    """Register the pinned copy if needed and update the service. The lock is held; failures release it."""
    try:
        deployed_arn = decision.target.task_definition_arn
        if restore.needs_registration:
            deployed_arn = deps.ecs.register_task_definition(
                restore.registration or {}, _copy_tags(decision.target, record.rollback_id)
            )
            _update_state(
                deps, record.service, lambda s: lifecycle.retarget(s, record.rollback_id, deployed_arn)
            )
        deps.ecs.update_service(record.service, deployed_arn)
    except EcsUpdateFailed as error:
        failed = replace(record, outcome=Outcome.FAILED, code=error.code, message=str(error))
        _update_state(
            deps,
            record.service,
            lambda s: lifecycle.release(s, record.rollback_id),
            rollback_updates=[failed],
        )
        _notify_and_count(deps, failed)
        return failed

    updated_at = deps.clock.now()
    deps.telemetry.trigger_to_update_service(max(0.0, (updated_at - trigger.at).total_seconds()))
    done = replace(record, deployed_task_definition_arn=deployed_arn, update_service_at=updated_at)
    rolled_back, full_records = _roll_back_from(deps, decision, done.message)
    _update_state(deps, record.service, rolled_back, rollback_updates=[done], deployments=full_records)
    logger.info(
        "rollback deployed",
        extra={"rollback_id": record.rollback_id, "service": str(record.service), "deployed": deployed_arn},
    )
    _notify_and_count(deps, done)
    return done


def _stalled(record: RollbackRecord, state: ServiceState | None, now: datetime) -> bool:
    """A run took the lock, then died before UpdateService (timeout, crash): its retry resumes it."""
    return (
        record.outcome == Outcome.ROLLED_BACK
        and record.update_service_at is None
        and state is not None
        and state.in_flight is not None
        and state.in_flight.rollback_id == record.rollback_id
        and state.in_flight.active(now)
        and now - state.in_flight.started_at >= STALLED_AFTER
    )


def _resume(deps: Dependencies, trigger: Trigger, record: RollbackRecord) -> RollbackRecord:
    assert record.to_deployment is not None
    logger.warning(
        "resuming a rollback whose first run stopped before UpdateService",
        extra={"rollback_id": record.rollback_id},
    )
    decision = RollBack(record.to_deployment, record.from_deployment, dry_run=False, message=record.message)
    return _carry_out(deps, trigger, decision, record, _plan_restore(deps, record.to_deployment))


def _plan_restore(deps: Dependencies, target: Deployment) -> PinPlan:
    """Pin the target's images to recorded digests; confirm ECR still has them (read-only)."""
    snapshot = deps.ecs.describe_task_definition(target.task_definition_arn)
    if snapshot is not None and snapshot.status == "ACTIVE":
        definition, must_register = snapshot.definition, False
    else:
        stored = target.task_definition
        if stored is None:
            full = deps.ledger.get_deployment(target.service, target.deployment_id)
            stored = full.task_definition if full else None
        if stored is None:
            raise TaskDefinitionUnavailable(
                f"{target.revision} is no longer registered in ECS and the ledger holds no copy of it; "
                "choose another target revision"
            )
        definition, must_register = stored, True
    pin = plan(definition, target.images, must_register=must_register)
    missing = [
        f"{reference.repository}@{digest}"
        for reference, digest in pin.ecr_checks()
        if deps.registry.digest_exists(reference, digest) is False
    ]
    if missing:
        raise ImageMissing(missing)
    return pin


def _copy_tags(target: Deployment, rollback_id: str) -> dict[str, str]:
    tags = {SOURCE_REVISION_TAG: str(target.revision), ROLLBACK_ID_TAG: rollback_id}
    if target.git_sha:
        tags[GIT_SHA_TAG] = target.git_sha
    if target.commit_message:
        message = tag_safe(target.commit_message)
        if message:
            tags[COMMIT_MESSAGE_TAG] = message
    return tags


def _roll_back_from(
    deps: Dependencies, decision: RollBack, reason: str
) -> tuple[StatePatch, list[Deployment]]:
    """Mark the revision left ROLLED_BACK: on the service item (a patch) and on its full record."""
    if decision.current is None:
        return (lambda state: state), []
    full = deps.ledger.get_deployment(decision.current.service, decision.current.deployment_id)
    left = full or decision.current
    now = deps.clock.now()

    def patch(state: ServiceState) -> ServiceState:
        return lifecycle.mark_rolled_back(state, left, now, reason).state

    # Only a record read from the ledger is written back: a summary lacks the task definition.
    return patch, [lifecycle.rolled_back(full, now, reason)] if full is not None else []


def _update_state(
    deps: Dependencies,
    service: ServiceId,
    change: StatePatch,
    rollback_updates: list[RollbackRecord] | None = None,
    deployments: list[Deployment] | None = None,
) -> None:
    """Read-modify-write of the service item, retried when a deployment event got there first."""

    def attempt() -> None:
        state = deps.ledger.load(service)
        if state is None:
            return
        updated = change(state)
        deps.ledger.commit(
            LedgerChange(
                state=replace(updated, version=state.version + 1) if updated != state else None,
                expected_version=state.version,
                deployments=deployments or [],
                rollback_updates=rollback_updates or [],
            )
        )

    retry.on_conflict(attempt, what=f"the ledger state of {service}")


def _notify_and_count(deps: Dependencies, record: RollbackRecord) -> None:
    deps.telemetry.decision(record.outcome.value, record.trigger.value)
    logger.info(
        "decision",
        extra={
            "outcome": record.outcome.value,
            "code": record.code,
            "service": str(record.service),
            "rollback_id": record.rollback_id,
            "trigger_id": record.trigger_id,
        },
    )
    deps.notifier.publish(notification_for(record))
