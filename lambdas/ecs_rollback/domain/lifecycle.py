"""How deployment events move a revision through its lifecycle, and its release to a verdict, as
pure state transitions.

Deployments: ``IN_PROGRESS -> COMPLETED -> GOOD``, or ``FAILED``, or ``ROLLED_BACK``. Releases:
GOOD when a deployment of it baked (or it was adopted), BAD when one failed or was rolled back;
the newest evidence wins. EventBridge delivers at least once and in no guaranteed order, so every
transition is idempotent and never moves a deployment backwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ecs_rollback.domain.model import Deployment, Origin, Release, ServiceId, Status, Verdict
from ecs_rollback.domain.state import Halt, InFlight, ServiceState, Step

_RANK = {Status.IN_PROGRESS: 0, Status.COMPLETED: 1, Status.GOOD: 2, Status.FAILED: 3, Status.ROLLED_BACK: 3}


@dataclass(frozen=True)
class Transition:
    state: ServiceState
    deployments: list[Deployment] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)
    rollback_finished: str | None = None  # COMPLETED / FAILED when the in-flight rollback ended
    finished_rollback_key: str | None = None
    schedule_bake_for: Deployment | None = None


def advance(deployment: Deployment, status: Status, at: datetime, reason: str | None = None) -> Deployment:
    """Move forward only: a late IN_PROGRESS never undoes COMPLETED, nothing leaves a BAD status."""
    if deployment.status.is_bad or _RANK[status] < _RANK[deployment.status]:
        return deployment
    if status == deployment.status:
        return deployment
    return deployment.with_status(status, at, reason)


def new_state(service: ServiceId) -> ServiceState:
    return ServiceState(service=service)


def new_release(deployment: Deployment, now: datetime) -> Release:
    """The release a deployment runs, the first time the ledger sees it."""
    return Release(
        release_id=deployment.release,
        service=deployment.service,
        source_task_definition_arn=deployment.task_definition_arn,
        rollback_task_definition_arn=deployment.task_definition_arn,
        first_seen_at=now,
        last_deployed_at=deployment.started_at,
        revisions=(deployment.task_definition_arn,),
        images=deployment.images,
        last_deployment_id=deployment.deployment_id,
        git_sha=deployment.git_sha,
        commit_message=deployment.commit_message,
        task_definition=deployment.task_definition,
    )


def adopt(
    state: ServiceState, baseline: Deployment, release: Release, now: datetime, reason: str
) -> tuple[ServiceState, Deployment, Release]:
    """Take the revision a service runs as its baseline GOOD (adopted, not baked).

    The caller has checked that the release is not recorded BAD: a BAD release is never adopted.
    """
    adopted = replace(
        baseline,
        status=Status.GOOD,
        adopted=True,
        good_at=now,
        updated_at=now,
        release_id=release.release_id,
    )
    adopted = adopted if baseline.status == Status.GOOD else adopted.with_status(Status.GOOD, now, reason)
    judged = replace(release.judged(Verdict.GOOD, now, reason), adopted=True).with_revision(
        baseline.task_definition_arn
    )
    current = state.current
    if current is None or current.deployment_id == adopted.deployment_id:
        current = adopted.compact()
    adopted_state = replace(
        state.with_good(judged.ref()).with_family(adopted.revision.family), current=current, updated_at=now
    )
    return adopted_state, adopted, judged


def record_started(
    state: ServiceState, deployment: Deployment, release: Release, now: datetime
) -> Transition:
    """A deployment began (or we first hear of it). Links it to our in-flight rollback, if it is one."""
    if (
        state.in_flight is not None
        and deployment.task_definition_arn == state.in_flight.target_task_definition_arn
    ):
        deployment = replace(
            deployment,
            origin=Origin.AUTOMATIC_ROLLBACK if state.in_flight.automatic else Origin.MANUAL_ROLLBACK,
            rollback_id=state.in_flight.rollback_id,
            actor="ecs-rollback",
            source_task_definition_arn=(
                state.in_flight.source_task_definition_arn
                if state.in_flight.source_task_definition_arn != deployment.task_definition_arn
                else None
            ),
        )
    current = state.current
    newer = current is None or (
        deployment.deployment_id != current.deployment_id and deployment.started_at >= current.started_at
    )
    halted = state.halted
    if newer and deployment.origin == Origin.DEPLOY:
        halted = None  # a person deployed something new: automatic rollbacks resume
    if newer or (current is not None and current.deployment_id == deployment.deployment_id):
        current = deployment.compact()
    seen = release.with_revision(deployment.task_definition_arn)
    if deployment.started_at >= seen.last_deployed_at:
        seen = replace(
            seen, last_deployed_at=deployment.started_at, last_deployment_id=deployment.deployment_id
        )
    started = replace(state, current=current, halted=halted, updated_at=now).with_family(
        deployment.revision.family
    )
    if seen.is_good:
        started = started.with_good(seen.ref())
    return Transition(started, [deployment], [seen])


def record_completed(
    state: ServiceState, deployment: Deployment, release: Release, now: datetime, bake_time_zero: bool
) -> Transition:
    completed = advance(deployment, Status.COMPLETED, now, "ECS reports steady state")
    transition = _apply(state, completed, release, now)
    transition = _finish_in_flight(transition, completed, "COMPLETED")
    if completed.status != Status.COMPLETED:
        return transition
    if bake_time_zero:
        return promote(transition.state, completed, release, now, base=transition)
    return replace(transition, schedule_bake_for=completed)


def record_failed(
    state: ServiceState, deployment: Deployment, release: Release, now: datetime, reason: str
) -> Transition:
    failed = advance(deployment, Status.FAILED, now, reason)
    judged = release.judged(Verdict.BAD, now, f"deployment {deployment.deployment_id} failed: {reason}")
    transition = _apply(state.without_release(release.release_id), failed, judged, now)
    return _finish_in_flight(transition, failed, "FAILED")


def promote(
    state: ServiceState,
    deployment: Deployment,
    release: Release,
    now: datetime,
    base: Transition | None = None,
) -> Transition:
    """The bake time passed with no alarm: COMPLETED (and only COMPLETED) becomes GOOD, and so does its
    release. ``release`` carries its rollback revision (the pinned copy made for it, if any)."""
    if deployment.status != Status.COMPLETED:
        return base or Transition(state)
    good = advance(deployment, Status.GOOD, now, "baked with no alarm")
    if good.status != Status.GOOD:
        return base or Transition(state)
    judged = release.judged(Verdict.GOOD, now, f"{good.revision} baked with no alarm")
    transition = _apply(state.with_good(judged.ref()), good, judged, now)
    if base is not None:
        transition = replace(
            transition,
            rollback_finished=base.rollback_finished,
            finished_rollback_key=base.finished_rollback_key,
        )
    return transition


def rolled_back(deployment: Deployment, now: datetime, reason: str) -> Deployment:
    """A rollback left this revision: ROLLED_BACK, unless it is already BAD (terminal)."""
    return deployment if deployment.status.is_bad else deployment.with_status(Status.ROLLED_BACK, now, reason)


def mark_rolled_back(
    state: ServiceState, deployment: Deployment, release: Release, now: datetime, reason: str
) -> Transition:
    """A rollback left this deployment: it is ROLLED_BACK and its release BAD."""
    judged = release.judged(Verdict.BAD, now, f"rolled back: {reason}")
    return _apply(
        state.without_release(release.release_id), rolled_back(deployment, now, reason), judged, now
    )


def halt(state: ServiceState, reason: str, now: datetime, rollback_id: str | None) -> ServiceState:
    return replace(state, halted=Halt(reason=reason, at=now, rollback_id=rollback_id))


@dataclass(frozen=True)
class LockRequest:
    """What a rollback about to call ECS takes the service's one lock with."""

    rollback_id: str
    record_key: str
    target_task_definition_arn: str
    source_task_definition_arn: str
    from_task_definition_arn: str | None
    target_release_id: str
    from_release_id: str | None
    automatic: bool
    lock_ttl: timedelta  # the whole rollback, its deployment included
    lease: timedelta  # this run's hold on the next step: the function timeout and a margin
    loop_guard_period: timedelta


def lock(state: ServiceState, request: LockRequest, now: datetime) -> ServiceState:
    """Take the lock. An automatic rollback counts against the loop guard; a manual one is a person
    acting, so it lifts a halt."""
    recent = state.prune_rollbacks(now, request.loop_guard_period).automatic_rollbacks
    return replace(
        state,
        in_flight=InFlight(
            rollback_id=request.rollback_id,
            record_key=request.record_key,
            target_task_definition_arn=request.target_task_definition_arn,
            source_task_definition_arn=request.source_task_definition_arn,
            from_task_definition_arn=request.from_task_definition_arn,
            started_at=now,
            expires_at=now + request.lock_ttl,
            automatic=request.automatic,
            target_release_id=request.target_release_id,
            from_release_id=request.from_release_id,
            step=Step.LOCKED,
            lease_expires_at=now + request.lease,
        ),
        automatic_rollbacks=(*recent, now) if request.automatic else recent,
        halted=state.halted if request.automatic else None,
    )


def retarget(state: ServiceState, rollback_id: str, deployed_task_definition_arn: str) -> ServiceState:
    """The rollback registered its target again (it was deregistered): the lock waits for that one."""
    if state.in_flight is None or state.in_flight.rollback_id != rollback_id:
        return state
    return replace(
        state,
        in_flight=replace(
            state.in_flight, target_task_definition_arn=deployed_task_definition_arn, step=Step.REGISTERED
        ),
    )


def take_over(state: ServiceState, rollback_id: str, now: datetime, lease: timedelta) -> ServiceState:
    """A run resumes an unfinished rollback whose lease lapsed: it holds the lease now."""
    if state.in_flight is None or state.in_flight.rollback_id != rollback_id:
        return state
    return replace(state, in_flight=replace(state.in_flight, lease_expires_at=now + lease))


def release_lease(state: ServiceState, rollback_id: str, now: datetime) -> ServiceState:
    """The run holding the lease failed on a transient fault: the platform's retry (or the
    reconciler) may take the rollback over at once."""
    if state.in_flight is None or state.in_flight.rollback_id != rollback_id:
        return state
    return replace(state, in_flight=replace(state.in_flight, lease_expires_at=now))


def mark_updated(state: ServiceState, rollback_id: str) -> ServiceState:
    """ECS accepted UpdateService: the lock now waits for the rollback's deployment to end, or is
    released when that deployment already ended (the run that updated ECS died first)."""
    if state.in_flight is None or state.in_flight.rollback_id != rollback_id:
        return state
    if state.in_flight.ended is not None:
        return replace(state, in_flight=None)
    return replace(state, in_flight=replace(state.in_flight, step=Step.UPDATED, lease_expires_at=None))


def unlock(state: ServiceState, rollback_id: str) -> ServiceState:
    """The rollback ended without a deployment to wait for (ECS refused it): free the service."""
    if state.in_flight is None or state.in_flight.rollback_id != rollback_id:
        return state
    return replace(state, in_flight=None)


def _apply(state: ServiceState, deployment: Deployment, release: Release, now: datetime) -> Transition:
    current = state.current
    if current is not None and current.deployment_id == deployment.deployment_id:
        current = deployment.compact()
    return Transition(replace(state, current=current, updated_at=now), [deployment], [release])


def _finish_in_flight(transition: Transition, deployment: Deployment, result: str) -> Transition:
    if deployment.rollback_id is None:
        return transition
    return finish_in_flight(transition, deployment.rollback_id, result)


def finish_in_flight(transition: Transition, rollback_id: str, result: str) -> Transition:
    """The deployment that carries out rollback ``rollback_id`` ended (``result`` COMPLETED or
    FAILED): the lock is released and the rollback's record gets its result (the ECS deployment's
    event, or the CodeDeploy deployment's for a rollback through CodeDeploy)."""
    in_flight = transition.state.in_flight
    if in_flight is None or rollback_id != in_flight.rollback_id:
        return transition
    if in_flight.unfinished:
        # ECS ran the rollback's deployment, so UpdateService was carried out, but its run did not
        # record it (it died, or its answer was lost): keep the lock for the run that resumes it,
        # which records the rollback, then releases the lock.
        return replace(
            transition, state=replace(transition.state, in_flight=replace(in_flight, ended=result))
        )
    return replace(
        transition,
        state=replace(transition.state, in_flight=None),
        rollback_finished=result,
        finished_rollback_key=in_flight.record_key,
    )
