"""How deployment events move a revision through its lifecycle, as pure state transitions.

``IN_PROGRESS -> COMPLETED -> GOOD``, or ``FAILED``, or ``ROLLED_BACK``. EventBridge delivers at
least once and in no guaranteed order, so every transition is idempotent and never moves a
record backwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ecs_rollback.domain.model import Deployment, Halt, InFlight, Origin, ServiceId, ServiceState, Status

_RANK = {Status.IN_PROGRESS: 0, Status.COMPLETED: 1, Status.GOOD: 2, Status.FAILED: 3, Status.ROLLED_BACK: 3}


@dataclass(frozen=True)
class Transition:
    state: ServiceState
    deployments: list[Deployment] = field(default_factory=list)
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


def adopt(state: ServiceState, baseline: Deployment, now: datetime) -> tuple[ServiceState, Deployment]:
    """Take the revision a never-seen service was running as its baseline GOOD (adopted, not baked)."""
    adopted = replace(
        baseline,
        status=Status.GOOD,
        origin=Origin.ADOPTED,
        adopted=True,
        good_at=now,
        updated_at=now,
        actor="ecs-rollback",
    )
    return replace(state.with_good(adopted), current=state.current or adopted.summary()), adopted


def record_started(state: ServiceState, deployment: Deployment, now: datetime) -> Transition:
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
        current = deployment.summary()
    return Transition(replace(state, current=current, halted=halted, updated_at=now), [deployment])


def record_completed(
    state: ServiceState, deployment: Deployment, now: datetime, bake_time_zero: bool
) -> Transition:
    completed = advance(deployment, Status.COMPLETED, now, "ECS reports steady state")
    transition = _apply(state, completed, now)
    transition = _finish_in_flight(transition, completed, "COMPLETED")
    if completed.status != Status.COMPLETED:
        return transition
    if bake_time_zero:
        return promote(transition.state, completed, now, base=transition)
    return replace(transition, schedule_bake_for=completed)


def record_failed(state: ServiceState, deployment: Deployment, now: datetime, reason: str) -> Transition:
    failed = advance(deployment, Status.FAILED, now, reason)
    transition = _apply(state.without_good(failed), failed, now)
    return _finish_in_flight(transition, failed, "FAILED")


def promote(
    state: ServiceState, deployment: Deployment, now: datetime, base: Transition | None = None
) -> Transition:
    """The bake time passed with no alarm: COMPLETED (and only COMPLETED) becomes GOOD."""
    if deployment.status != Status.COMPLETED:
        return base or Transition(state)
    good = advance(deployment, Status.GOOD, now, "baked with no alarm")
    if good.status != Status.GOOD:
        return base or Transition(state)
    transition = _apply(state.with_good(good), good, now)
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


def mark_rolled_back(state: ServiceState, deployment: Deployment, now: datetime, reason: str) -> Transition:
    return _apply(state.without_good(deployment), rolled_back(deployment, now, reason), now)


def halt(state: ServiceState, reason: str, now: datetime, rollback_id: str | None) -> ServiceState:
    return replace(state, halted=Halt(reason=reason, at=now, rollback_id=rollback_id))


@dataclass(frozen=True)
class LockRequest:
    """What a rollback about to call ECS takes the service's one lock with."""

    rollback_id: str
    record_key: str
    target_task_definition_arn: str
    from_task_definition_arn: str | None
    automatic: bool
    lease: timedelta
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
            source_task_definition_arn=request.target_task_definition_arn,
            from_task_definition_arn=request.from_task_definition_arn,
            started_at=now,
            expires_at=now + request.lease,
            automatic=request.automatic,
        ),
        automatic_rollbacks=(*recent, now) if request.automatic else recent,
        halted=state.halted if request.automatic else None,
    )


def retarget(state: ServiceState, rollback_id: str, deployed_task_definition_arn: str) -> ServiceState:
    """The rollback registered a pinned copy: its deployment is what the lock now waits for."""
    if state.in_flight is None or state.in_flight.rollback_id != rollback_id:
        return state
    return replace(
        state, in_flight=replace(state.in_flight, target_task_definition_arn=deployed_task_definition_arn)
    )


def release(state: ServiceState, rollback_id: str) -> ServiceState:
    """The rollback ended without a deployment to wait for (ECS refused it): free the service."""
    if state.in_flight is None or state.in_flight.rollback_id != rollback_id:
        return state
    return replace(state, in_flight=None)


def _apply(state: ServiceState, deployment: Deployment, now: datetime) -> Transition:
    current = state.current
    if current is not None and current.deployment_id == deployment.deployment_id:
        current = deployment.summary()
    return Transition(replace(state, current=current, updated_at=now), [deployment])


def _finish_in_flight(transition: Transition, deployment: Deployment, result: str) -> Transition:
    in_flight = transition.state.in_flight
    if in_flight is None or deployment.rollback_id != in_flight.rollback_id:
        return transition
    return replace(
        transition,
        state=replace(transition.state, in_flight=None),
        rollback_finished=result,
        finished_rollback_key=in_flight.record_key,
    )
