"""The executor: decide, take the service's lock, deploy the GOOD release's rollback revision,
record, notify.

A rollback is a durable intent. The decision record (its key derives from the trigger), the
service's lock and, for a decision that ends there, its notification are written in one
transaction; the lock records which step the rollback reached and the lease of the run carrying
it out. A redelivery of the same trigger finds the record: done, it is a duplicate; unfinished
and still leased, another run is on it; unfinished with the lease lapsed (that run failed or
died), it takes the rollback over and finishes the step, asking ECS first whether the service
already runs the target, so a lost ``UpdateService`` answer never leads to a second deployment.
The reconciler resumes the same way (``resume``).

Transient faults (throttling, 5xx, timeouts, dropped connections) release the lease and fail the
invocation so the platform retries it; only what a retry cannot cure is recorded FAILED.
Notifications leave through the outbox: written with the record, published by the notifier.

Nothing stands between the trigger and ``UpdateService`` but one read of the service state and
the lock: the release's rollback revision (its pinned copy) was registered, and its images
checked in ECR, when it became GOOD.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from ecs_rollback.domain import lifecycle
from ecs_rollback.domain.codedeploy import app_spec
from ecs_rollback.domain.decision import (
    Decision,
    ManualOptions,
    Path,
    Policy,
    Refuse,
    RollBack,
    Skip,
    Trigger,
    decide,
    through_code_deploy,
)
from ecs_rollback.domain.errors import (
    CodeDeployRefused,
    DuplicateTrigger,
    EcsUpdateFailed,
    TaskDefinitionUnavailable,
)
from ecs_rollback.domain.model import (
    ContainerImage,
    Deployment,
    ImageReference,
    Outcome,
    Release,
    RollbackRecord,
    ServiceId,
    TriggerKind,
)
from ecs_rollback.domain.notices import NoticeKind
from ecs_rollback.domain.pinning import ROLLBACK_ID_TAG, plan
from ecs_rollback.domain.state import InFlight, ServiceState
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies, LedgerChange, OutboxEntry
from ecs_rollback.services import retry
from ecs_rollback.services.notifications import notification_for, outbox_entries, rollback_result_notification
from ecs_rollback.services.releases import copy_tags

_ID_NAMESPACE = uuid.UUID("6f1f3c8e-0b7a-4d0e-9a57-5d2b1c3e4f60")

StatePatch = Callable[[ServiceState], ServiceState]
Loaded = tuple[ServiceState | None, ManualOptions | None]


@dataclass(frozen=True)
class GroupTag:
    """A member's rollback of a group rollback: recorded on it; the group tells of its decision."""

    group: str
    group_rollback_id: str


@dataclass(frozen=True)
class ManualRequestOptions:
    """A manual request: how to read the state and resolve the target, in as few reads as it takes."""

    load: Callable[[], Loaded]
    requested_by: str
    group: GroupTag | None = None


def manual_trigger(deps: Dependencies, request_id: str, requested_by: str, reason: str) -> Trigger:
    """An operator's request as the decision's trigger (its id: the Lambda request id)."""
    return Trigger(
        kind=TriggerKind.MANUAL,
        trigger_id=request_id,
        at=deps.clock.now(),
        source=requested_by,
        reason=reason,
    )


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
        code_deploy=through_code_deploy_configured(deps, service),
    )


def through_code_deploy_configured(deps: Dependencies, service: ServiceId) -> bool:
    """A CODE_DEPLOY-controlled ``service`` can be rolled back through CodeDeploy: its deployment
    group is configured (``codeDeploy``) and CodeDeploy is one of the ports."""
    return deps.codedeploy is not None and deps.settings.code_deploy_group(service) is not None


def execute(
    deps: Dependencies,
    trigger: Trigger,
    service: ServiceId,
    manual: ManualRequestOptions | None = None,
    patch: StatePatch | None = None,
    alarm_seen: str | None = None,
) -> RollbackRecord:
    """Decide on one trigger for one service and carry the decision out."""
    rollback_id = rollback_id_for(service, trigger.trigger_id)
    policy = policy_for(deps, service)
    requested_by = manual.requested_by if manual else "ecs-rollback"
    seen = (service, alarm_seen) if alarm_seen else None

    def attempt() -> RollbackRecord:
        now = deps.clock.now()
        state, options = manual.load() if manual else (deps.ledger.load(service), None)
        state = _with_older_good(deps, state)
        decision = decide(trigger, state, policy, now, options)
        if isinstance(decision, RollBack) and decision.path == Path.CODEDEPLOY:
            decision = _asking_code_deploy(deps, service, decision)
        dry_run = policy.dry_run or (options is not None and options.dry_run)
        record = _record(rollback_id, service, trigger, decision, state, now, requested_by, dry_run)
        if manual is not None and manual.group is not None:
            record = replace(
                record, group=manual.group.group, group_rollback_id=manual.group.group_rollback_id
            )
        try:
            if isinstance(decision, RollBack):
                assert state is not None  # decide() never rolls back a service the ledger does not know
                return _roll_back(deps, trigger, state, decision, record, now, patch, seen)
            tracked = state is not None and state.current is not None and policy.in_scope
            return _record_only(deps, state if tracked else None, decision, record, now, patch, seen)
        except DuplicateTrigger:
            return _redelivered(deps, record)

    return retry.on_conflict(attempt, what=f"the ledger state of {service}")


def _with_older_good(deps: Dependencies, state: ServiceState | None) -> ServiceState | None:
    """The state item keeps the newest GOOD releases; when none of them is a target and older ones
    exist, they are read from the ledger (one more read, only then)."""
    if state is None or state.current is None or not state.good_truncated:
        return state
    if state.newest_good_except(state.current.release) is not None:
        return state
    known = {entry.release_id for entry in state.good}
    older = [ref for ref in deps.ledger.good_releases(state.service) if ref.release_id not in known]
    return replace(state, good=(*state.good, *older))


def _record(
    rollback_id: str,
    service: ServiceId,
    trigger: Trigger,
    decision: Decision,
    state: ServiceState | None,
    now: datetime,
    requested_by: str,
    dry_run: bool,
) -> RollbackRecord:
    """The decision as a record; one under a dry run says so whatever it decided."""
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
        from_deployment=state.current if state is not None else None,
        dry_run=dry_run,
    )
    if isinstance(decision, RollBack):
        return replace(
            base,
            outcome=Outcome.DRY_RUN if decision.dry_run else Outcome.ROLLED_BACK,
            to_release=decision.target,
            dry_run=decision.dry_run,
            path=decision.path.value,
            service_deployment_arn=decision.current.service_deployment_arn
            if decision.path == Path.STOP_SERVICE_DEPLOYMENT and decision.current
            else None,
            codedeploy_deployment_id=decision.code_deploy_stop,
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
    seen: tuple[ServiceId, str] | None,
) -> RollbackRecord:
    if state is None:
        # Services the ledger does not track (out of scope, or never seen) get no record: only the
        # notification. Its outbox key names this decision (a duplicate delivery is a no-op), apart
        # from the rollback id's own notice: a redelivery decided once the service is known writes
        # that one, with its record.
        untracked = replace(
            notification_for(record, decision.notice), key=f"{record.rollback_id}#{record.code}"
        )
        told = outbox_entries(deps.settings, record.service, deps.clock.now(), untracked)
        if told:
            deps.ledger.commit(LedgerChange(state=None, expected_version=0, notifications=told))
        _count(deps, record)
        return record
    new_state = None
    if isinstance(decision, Refuse) and decision.halts_automation:
        new_state = lifecycle.halt(
            state, decision.message, now, state.current.rollback_id if state.current else None
        )
    return _record_decision(deps, state, new_state, patch, record, seen, decision.notice)


def _record_decision(
    deps: Dependencies,
    state: ServiceState,
    new_state: ServiceState | None,
    patch: StatePatch | None,
    record: RollbackRecord,
    seen: tuple[ServiceId, str] | None,
    notice: NoticeKind,
) -> RollbackRecord:
    """A decision that changes nothing in ECS: its record and notice, and the state's own change."""
    changed, expected = _state_change(state, new_state, patch)
    deps.ledger.commit(
        LedgerChange(
            state=changed,
            expected_version=expected,
            new_rollback=record,
            alarm_seen=seen,
            notifications=_told(deps, record, notice),
        )
    )
    _count(deps, record)
    return record


def _roll_back(
    deps: Dependencies,
    trigger: Trigger,
    state: ServiceState,
    decision: RollBack,
    record: RollbackRecord,
    now: datetime,
    patch: StatePatch | None,
    seen: tuple[ServiceId, str] | None,
) -> RollbackRecord:
    if decision.dry_run:
        return _record_decision(deps, state, None, patch, _with_images(deps, record), seen, decision.notice)

    target = decision.target
    locked = lifecycle.lock(
        state,
        lifecycle.LockRequest(
            rollback_id=record.rollback_id,
            record_key=record.record_key,
            target_task_definition_arn=decision.deploys,
            source_task_definition_arn=target.task_definition_arn,
            from_task_definition_arn=decision.current.task_definition_arn if decision.current else None,
            target_release_id=target.release_id,
            from_release_id=decision.current.release if decision.current else None,
            automatic=trigger.kind != TriggerKind.MANUAL,
            lock_ttl=deps.settings.lock_ttl,
            lease=deps.settings.lease,
            loop_guard_period=deps.settings.loop_guard_period,
        ),
        now,
    )
    changed, expected = _state_change(state, locked, patch)
    deps.ledger.commit(
        LedgerChange(state=changed, expected_version=expected, new_rollback=record, alarm_seen=seen)
    )
    logger.info(
        "rollback started",
        extra={
            "rollback_id": record.rollback_id,
            "service": str(record.service),
            "target": decision.deploys,
            "path": decision.path.value,
        },
    )
    return _carry_out(deps, trigger.at, decision, record, decision.deploys)


def _carry_out(
    deps: Dependencies,
    triggered_at: datetime,
    decision: RollBack,
    record: RollbackRecord,
    target_arn: str,
    *,
    resumed: bool = False,
    ended: str | None = None,
) -> RollbackRecord:
    """Update the service to the target's rollback revision, the lease held. A resumed rollback
    asks ECS first: a service already on the target only needs the record (and, when its
    deployment already ended, ``ended``, the rollback's result as well)."""
    service = record.service
    rollback_id = record.rollback_id
    deployed_arn = target_arn
    registered: Release | None = None
    try:
        if resumed and _already_runs(deps, service, deployed_arn):
            logger.info(
                "ECS already runs the rollback's target; recording it",
                extra={"rollback_id": rollback_id, "service": str(service), "deployed": deployed_arn},
            )
        elif record.path == Path.STOP_SERVICE_DEPLOYMENT and record.service_deployment_arn:
            if not deps.ecs.stop_service_deployment(record.service_deployment_arn):
                # ECS finished that deployment meanwhile: nothing of its own to roll back any more.
                deployed_arn = decision.target.deploy_task_definition_arn
                logger.info(
                    "the service deployment is no longer ongoing; updating the service instead",
                    extra={"rollback_id": rollback_id, "service_deployment": record.service_deployment_arn},
                )
                _update_state(deps, service, lambda s: lifecycle.retarget(s, rollback_id, deployed_arn))
                record = replace(record, path=Path.UPDATE_SERVICE.value)
                deps.ecs.update_service(service, deployed_arn)
        elif record.path == Path.CODEDEPLOY.value:
            deployed_arn, record = _through_code_deploy(deps, decision, record, deployed_arn, resumed=resumed)
        else:
            try:
                deps.ecs.update_service(service, deployed_arn)
            except EcsUpdateFailed:
                registered = _registered_again(deps, record, decision)
                if registered is None:
                    raise
                deployed_arn = registered.rollback_task_definition_arn
                _update_state(
                    deps,
                    service,
                    lambda s: lifecycle.retarget(s, rollback_id, deployed_arn),
                    releases=[registered],
                )
                deps.ecs.update_service(service, deployed_arn)
    except (EcsUpdateFailed, TaskDefinitionUnavailable, CodeDeployRefused) as error:
        failed = replace(record, outcome=Outcome.FAILED, code=error.code, message=str(error))
        _update_state(
            deps,
            service,
            lambda s: lifecycle.unlock(s, rollback_id),
            rollback_updates=[failed],
            notifications=_told(deps, failed),
        )
        _count(deps, failed)
        return failed
    except Exception:
        # A retry may cure it (throttling, 5xx, a dropped connection): keep the intent, free the
        # lease so the platform's retry or the reconciler can take over at once, and fail.
        _release_lease(deps, service, rollback_id)
        raise

    updated_at = deps.clock.now()
    deps.telemetry.trigger_to_update_service(max(0.0, (updated_at - triggered_at).total_seconds()))
    done = replace(
        _with_images(deps, record, registered),
        deployed_task_definition_arn=deployed_arn,
        update_service_at=record.update_service_at or updated_at,
    )
    rolled_back, left, judged = _roll_back_from(deps, decision, done.message)
    done = replace(done, from_deployment=left[0].summary() if left else done.from_deployment)
    notices = _told(deps, done)
    if ended is not None:
        done = replace(done, result=ended, result_at=updated_at)
        notices += outbox_entries(deps.settings, service, updated_at, rollback_result_notification(done))
    _update_state(
        deps,
        service,
        lambda s: lifecycle.mark_updated(rolled_back(s), rollback_id),
        rollback_updates=[done],
        deployments=left,
        releases=[*judged, *([registered] if registered is not None else [])],
        notifications=notices,
    )
    logger.info(
        "rollback deployed",
        extra={"rollback_id": rollback_id, "service": str(service), "deployed": deployed_arn},
    )
    _count(deps, done)
    return done


def _asking_code_deploy(deps: Dependencies, service: ServiceId, decision: RollBack) -> RollBack | Refuse:
    """A rollback through CodeDeploy: whether CodeDeploy is still deploying (one ListDeployments of
    the service's deployment group, and GetDeployment of what it lists) decides stop or create."""
    group = deps.settings.code_deploy_group(service)
    assert group is not None and deps.codedeploy is not None  # the policy allowed the path
    ongoing = deps.codedeploy.ongoing_deployment(group.application, group.deployment_group)
    return through_code_deploy(decision, ongoing)


def _through_code_deploy(
    deps: Dependencies, decision: RollBack, record: RollbackRecord, target_arn: str, *, resumed: bool
) -> tuple[str, RollbackRecord]:
    """StopDeployment with rollback of CodeDeploy's ongoing deployment, or CreateDeployment of the
    target's rollback revision (with an ECS AppSpec naming the service's load balancer container).
    Returns what the service deploys and the record with CodeDeploy's deployment id."""
    service = record.service
    group = deps.settings.code_deploy_group(service)
    if group is None or deps.codedeploy is None:
        raise CodeDeployRefused(f"no CodeDeploy deployment group is configured for {service} any more")
    codedeploy = deps.codedeploy
    stop = decision.code_deploy_stop
    if stop is not None:
        if codedeploy.stop_deployment(stop):
            return target_arn, replace(record, codedeploy_deployment_id=stop, codedeploy_stopped=True)
        # CodeDeploy finished that deployment meanwhile: deploy the target instead.
        target_arn = decision.target.deploy_task_definition_arn
        logger.info(
            "the CodeDeploy deployment is already complete; creating a deployment of the target instead",
            extra={"rollback_id": record.rollback_id, "codedeploy_deployment": stop},
        )
        _update_state(deps, service, lambda s: lifecycle.retarget(s, record.rollback_id, target_arn))
    elif resumed:
        # A lost CreateDeployment answer: the deployment CodeDeploy is carrying out may be ours.
        ongoing = codedeploy.ongoing_deployment(group.application, group.deployment_group)
        if ongoing is not None and ongoing.task_definition_arn == target_arn:
            return target_arn, replace(record, codedeploy_deployment_id=ongoing.deployment_id)
    snapshot = deps.ecs.describe_service(service)
    balancers = snapshot.load_balancers if snapshot is not None else ()
    if not balancers:
        raise CodeDeployRefused(
            f"{service} has no load balancer (loadBalancers) for an ECS AppSpec to name; "
            "CodeDeploy deploys ECS services behind a load balancer only"
        )
    deployment_id = codedeploy.create_deployment(
        group.application,
        group.deployment_group,
        app_spec(target_arn, balancers[0]),
        description=f"ecs-rollback {record.rollback_id}: {record.message}",
    )
    return target_arn, replace(record, codedeploy_deployment_id=deployment_id)


def _already_runs(deps: Dependencies, service: ServiceId, task_definition_arn: str) -> bool:
    snapshot = deps.ecs.describe_service(service)
    return snapshot is not None and snapshot.task_definition_arn == task_definition_arn


def _release_lease(deps: Dependencies, service: ServiceId, rollback_id: str) -> None:
    """Best effort: when this write fails too, the lease lapses on its own within the function
    timeout and its margin."""
    now = deps.clock.now()
    try:
        _update_state(deps, service, lambda s: lifecycle.release_lease(s, rollback_id, now))
    except Exception:  # the original fault is what the platform must see
        logger.warning("could not release the rollback's lease", extra={"rollback_id": rollback_id})


def _registered_again(deps: Dependencies, record: RollbackRecord, decision: RollBack) -> Release | None:
    """ECS refused the update: if the rollback revision is no longer ACTIVE (deregistered or deleted),
    register it again from the task definition the ledger keeps, pinned to the recorded digests."""
    snapshot = deps.ecs.describe_task_definition(decision.target.deploy_task_definition_arn)
    if snapshot is not None and snapshot.status == "ACTIVE":
        return None  # the refusal is about something else
    release = deps.ledger.get_release(record.service, decision.target.release_id)
    if release is None or release.task_definition is None:
        raise TaskDefinitionUnavailable(
            f"{decision.target.revision} is no longer registered in ECS and the ledger holds no copy of it; "
            "choose another target"
        )
    pin = plan(dict(release.task_definition), release.images, must_register=True)
    assert pin.registration is not None  # must_register
    arn = deps.ecs.register_task_definition(
        pin.registration, {**copy_tags(release), ROLLBACK_ID_TAG: record.rollback_id}
    )
    logger.warning(
        "the rollback revision was no longer registered; registered it again from the ledger",
        extra={"rollback_id": record.rollback_id, "registered": arn},
    )
    return replace(release, rollback_task_definition_arn=arn).with_revision(arn)


def _with_images(
    deps: Dependencies, record: RollbackRecord, release: Release | None = None
) -> RollbackRecord:
    """The target's images as deployed (by digest), read from its release record."""
    if record.to_release is None:
        return record
    known = release or deps.ledger.get_release(record.service, record.to_release.release_id)
    if known is None:
        return record
    return replace(record, pinned_images=tuple(_as_deployed(image) for image in known.images))


def _as_deployed(image: ContainerImage) -> ContainerImage:
    reference = ImageReference.parse(image.image)
    if reference.digest or image.digest is None:
        return image
    return replace(image, image=reference.pinned(image.digest), digest_source="recorded")


def _redelivered(deps: Dependencies, record: RollbackRecord) -> RollbackRecord:
    """The trigger was decided before. Done: a duplicate. Unfinished: finish it, unless the run
    that holds the lease is still on it."""
    service = record.service
    existing = deps.ledger.get_rollback(service, record.record_key)
    state = deps.ledger.load(service)
    in_flight = _unfinished(existing, state)
    if existing is not None and state is not None and in_flight is not None:
        if in_flight.leased(deps.clock.now()):
            logger.info(
                "the rollback is being carried out by another run",
                extra={"rollback_id": existing.rollback_id, "step": in_flight.step},
            )
            deps.telemetry.event("RollbackInProgress")
            return existing
        return resume(deps, state, existing)
    logger.info(
        "duplicate trigger ignored",
        extra={"trigger_id": record.trigger_id, "rollback_id": record.rollback_id},
    )
    deps.telemetry.event("DuplicateTrigger")
    return existing or record


def _unfinished(record: RollbackRecord | None, state: ServiceState | None) -> InFlight | None:
    """The lock of ``record``'s rollback, when UpdateService is not yet known to have happened."""
    if record is None or state is None or state.in_flight is None:
        return None
    in_flight = state.in_flight
    if in_flight.rollback_id != record.rollback_id or not in_flight.unfinished:
        return None
    if record.outcome != Outcome.ROLLED_BACK or record.dry_run or record.to_release is None:
        return None
    if record.update_service_at is not None or record.result is not None:
        return None  # the record says UpdateService was carried out: nothing is left to resume
    return in_flight


def resumable(record: RollbackRecord, state: ServiceState) -> bool:
    return _unfinished(record, state) is not None


def commit_state(deps: Dependencies, state: ServiceState, updated: ServiceState) -> None:
    """Write ``updated`` over ``state`` if nobody changed it since it was read."""
    if updated != state:
        deps.ledger.commit(
            LedgerChange(state=replace(updated, version=state.version + 1), expected_version=state.version)
        )


def stalled(state: ServiceState, now: datetime) -> bool:
    """An unfinished rollback whose lease lapsed: the reconciler resumes it."""
    in_flight = state.in_flight
    return in_flight is not None and in_flight.unfinished and not in_flight.leased(now)


def resume(deps: Dependencies, state: ServiceState, record: RollbackRecord) -> RollbackRecord:
    """Take over an unfinished rollback whose lease lapsed, and finish it.

    Taking the lease is a conditional write on the state's version: of several runs resuming at
    once, one wins; the others see ``ConcurrentUpdate``, read again, and find it leased or done.
    """
    assert state.in_flight is not None and record.to_release is not None
    in_flight = state.in_flight
    now = deps.clock.now()
    taken = lifecycle.take_over(state, record.rollback_id, now, deps.settings.lease)
    commit_state(deps, state, taken)
    logger.warning(
        "resuming a rollback whose run stopped before it finished",
        extra={"rollback_id": record.rollback_id, "step": in_flight.step},
    )
    deps.telemetry.event("RollbackResumed")
    decision = RollBack(
        record.to_release,
        record.from_deployment,
        dry_run=False,
        message=record.message,
        path=Path(record.path or Path.UPDATE_SERVICE.value),
        # Unfinished, a CodeDeploy rollback's recorded deployment is the one it was to stop.
        code_deploy_stop=record.codedeploy_deployment_id if record.path == Path.CODEDEPLOY.value else None,
    )
    return _carry_out(
        deps,
        record.triggered_at,
        decision,
        record,
        in_flight.target_task_definition_arn,
        resumed=True,
        ended=in_flight.ended,
    )


def _roll_back_from(
    deps: Dependencies, decision: RollBack, reason: str
) -> tuple[StatePatch, list[Deployment], list[Release]]:
    """Mark the deployment left ROLLED_BACK and its release BAD: a state patch, and the records."""
    current = decision.current
    if current is None:
        return (lambda state: state), [], []
    full = deps.ledger.get_deployment(current.service, current.deployment_id)
    left = full or current
    release = deps.ledger.get_release(current.service, left.release) or lifecycle.new_release(
        left, deps.clock.now()
    )
    now = deps.clock.now()
    transition = lifecycle.mark_rolled_back(ServiceState(current.service), left, release, now, reason)
    judged = transition.releases[0]

    def patch(state: ServiceState) -> ServiceState:
        return lifecycle.mark_rolled_back(state, left, judged, now, reason).state

    # Only a record read from the ledger is written back: a summary lacks the task definition.
    marked = [transition.deployments[0]] if full is not None else []
    return patch, marked, [judged]


def _update_state(
    deps: Dependencies,
    service: ServiceId,
    change: StatePatch,
    rollback_updates: list[RollbackRecord] | None = None,
    deployments: list[Deployment] | None = None,
    releases: list[Release] | None = None,
    notifications: list[OutboxEntry] | None = None,
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
                releases=releases or [],
                rollback_updates=rollback_updates or [],
                notifications=notifications or [],
            )
        )

    retry.on_conflict(attempt, what=f"the ledger state of {service}")


def _told(deps: Dependencies, record: RollbackRecord, kind: NoticeKind | None = None) -> list[OutboxEntry]:
    """The decision's notification, for the outbox (written in the same commit as the record),
    unless the configuration does not send its kind. A group member's decision is told by the
    group's one notification; only its failure is told on its own."""
    if record.group_rollback_id is not None and record.outcome != Outcome.FAILED:
        return []
    return outbox_entries(deps.settings, record.service, deps.clock.now(), notification_for(record, kind))


def _count(deps: Dependencies, record: RollbackRecord) -> None:
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
