"""The reconciler: every minute, make the ledger and ECS agree. Events are the fast path; this is
what guarantees convergence when an event, a timer, a publish or a whole run was lost.

One pass reads the watched services' state items (one Query per 100 services, never a table
scan) and ECS's view of them (one ``DescribeServices`` per ten services of a cluster). Then:

- an unfinished rollback whose lease lapsed is resumed (ECS first: already on the target, it is
  only recorded), one whose record is gone or finished is released;
- a rollback through CodeDeploy still in flight after ``CODEDEPLOY_GRACE`` asks CodeDeploy
  (one ``GetDeployment``) whether its deployment ended, and finishes as that deployment's lost
  event would have finished it;
- a deployment ECS reports that the ledger does not know, or knows in an older status, is
  recorded as its event would have recorded it (the events lost, or late after ECS forgot it);
  one the ledger holds IN_PROGRESS that ECS no longer lists (a newer one replaced it) gets its
  outcome from ECS's service deployment (one ``DescribeServiceDeployments``, only then);
- a COMPLETED release whose bake time passed with no alarm in ALARM is promoted (its timer lost);
- an alarm in ALARM (one paged ``DescribeAlarms``) whose transition a watched service has not
  seen for ``ALARM_GRACE`` is decided as its lost event would have been;
- outbox entries the stream path left unsent are published.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ecs_rollback.domain import lifecycle
from ecs_rollback.domain.model import ServiceId, Status
from ecs_rollback.domain.state import ServiceState
from ecs_rollback.events.bake_timer import BakeTimerPayload
from ecs_rollback.events.cloudwatch_alarm import AlarmStateChangeEvent
from ecs_rollback.events.ecs_deployment import EcsDeploymentEvent
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies, EcsDeployment, FiringAlarm, ServiceSnapshot
from ecs_rollback.services import codedeploy_events, deployments, executor, outbox, place, retry
from ecs_rollback.services.alarm_links import Link
from ecs_rollback.services.alarms import handle_alarm_event
from ecs_rollback.services.promotion import promote_if_quiet

# A timer normally fires at the end of the bake; the reconciler steps in only after this.
BAKE_GRACE = timedelta(seconds=90)
# An alarm's event normally arrives in seconds, retries included within minutes; after this the
# reconciler takes it as lost.
ALARM_GRACE = timedelta(minutes=3)
# CodeDeploy's event of a deployment's end normally arrives in seconds; a rollback through
# CodeDeploy in flight longer than this asks CodeDeploy whether it ended (once a minute).
CODEDEPLOY_GRACE = timedelta(minutes=3)
_ALARM_EVENTS = uuid.UUID("6f1d3c52-6b5e-4f3e-9d35-2f0b8a6c1e47")
_PAGE = 100
_EVENT_FOR_ROLLOUT = {
    "IN_PROGRESS": "SERVICE_DEPLOYMENT_IN_PROGRESS",
    "COMPLETED": "SERVICE_DEPLOYMENT_COMPLETED",
    "FAILED": "SERVICE_DEPLOYMENT_FAILED",
}
_RANK = {Status.IN_PROGRESS: 0, Status.COMPLETED: 1}
# A service deployment's final status, as the deployment event ECS would have sent.
_EVENT_FOR_OUTCOME = {
    "SUCCESSFUL": "SERVICE_DEPLOYMENT_COMPLETED",
    "STOPPED": "SERVICE_DEPLOYMENT_FAILED",
    "ROLLBACK_SUCCESSFUL": "SERVICE_DEPLOYMENT_FAILED",
    "ROLLBACK_FAILED": "SERVICE_DEPLOYMENT_FAILED",
}


@dataclass
class Pass:
    """What one run did, for its log line, its answer and the tests."""

    services: int = 0
    resumed: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)
    promoted: list[str] = field(default_factory=list)
    lost_alarms: list[str] = field(default_factory=list)
    published: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {
            "services": self.services,
            "resumed": self.resumed,
            "released": self.released,
            "recorded": self.recorded,
            "promoted": self.promoted,
            "lost_alarms": self.lost_alarms,
            "published": self.published,
            "errors": self.errors,
        }


def reconcile(deps: Dependencies) -> Pass:
    result = Pass()
    cursor: str | None = None
    last_alarms: dict[ServiceId, datetime | None] = {}
    while True:
        page = deps.ledger.services(_PAGE, cursor)
        # Each account and region this installation acts in, through its own ports: its own, and
        # a central installation's members (their ECS through the member role).
        for acting, states in _by_place(deps, page.items):
            watched = [state for state in states if acting.settings.scope.contains(state.service)]
            last_alarms.update((state.service, state.last_alarm_at) for state in watched)
            snapshots = _ecs_view(acting, watched, result)
            for state in watched:
                result.services += 1
                try:
                    _one_service(acting, state, snapshots.get(state.service, _UNREAD), result)
                except Exception as error:  # one service's trouble must not stop the others
                    logger.exception("reconciling a service failed", extra={"service": str(state.service)})
                    result.errors.append(f"{state.service}: {type(error).__name__}")
        cursor = page.cursor
        if cursor is None:
            break
    for account, region in _places(deps):
        try:
            _lost_alarms(deps, last_alarms, result, account, region)
        except Exception as error:
            logger.exception("deciding on the alarms in ALARM failed", extra={"account": account})
            result.errors.append(f"alarms of {account} {region}: {type(error).__name__}")
    result.published = outbox.deliver_unsent(deps)
    logger.info("reconciled", extra=result.summary())
    if result.errors:
        # Alarmed like the other functions' errors, once the rest of the pass is done.
        raise RuntimeError(f"the reconciler failed on {len(result.errors)} service(s): {result.errors[:5]}")
    return result


def _by_place(
    deps: Dependencies, states: list[ServiceState]
) -> list[tuple[Dependencies, list[ServiceState]]]:
    """The page's services by the account and region they run in, each with the dependencies
    that act there; a service of a place this installation does not act in (any more) is left."""
    grouped: dict[tuple[str, str], list[ServiceState]] = {}
    for state in states:
        grouped.setdefault((state.service.account, state.service.region), []).append(state)
    placed = []
    for (account, region), members in grouped.items():
        acting = _quietly_in(deps, account, region)
        if acting is not None:
            placed.append((acting, members))
    return placed


def _quietly_in(deps: Dependencies, account: str, region: str) -> Dependencies | None:
    """``place.acting_in`` for this installation's own place or a member's; None, without the
    foreign-event warning, for any other (a ledger entry is not an event)."""
    if deps.settings.acts_in(account, region) or deps.settings.member(account, region):
        return place.acting_in(deps, account, region)
    return None


def _places(deps: Dependencies) -> list[tuple[str, str]]:
    """Where the alarms in ALARM are read: this account and region, and each listed member's."""
    settings = deps.settings
    places = [(settings.home_account, settings.home_region)]
    for member in settings.members.accounts if settings.members is not None else ():
        places += [(member.account, region) for region in member.regions or (settings.home_region,)]
    return places


def _ecs_view(
    deps: Dependencies, states: list[ServiceState], result: Pass
) -> dict[ServiceId, ServiceSnapshot | None]:
    """ECS's view of the services this pass compares, ten to a DescribeServices call; a stalled
    rollback is resumed instead (it asks ECS itself), and a failed read leaves each to its own."""
    now = deps.clock.now()
    compared = [state.service for state in states if not (state.in_flight and executor.stalled(state, now))]
    if not compared:
        return {}
    try:
        return deps.ecs.describe_services(compared)
    except Exception:
        logger.exception("describing the watched services failed; asking service by service")
        return {}


_UNREAD = object()  # no batched answer for this service: it is read on its own


def _one_service(deps: Dependencies, state: ServiceState, snapshot: object, result: Pass) -> None:
    now = deps.clock.now()
    if state.in_flight is not None and executor.stalled(state, now):
        _resume_or_release(deps, state, result)
        return  # ECS is read again next minute, once the rollback is carried out
    if _codedeploy_rollback_ended(deps, state, now, result):
        return  # ECS is read again next minute, with the rollback finished
    if snapshot is _UNREAD:
        snapshot = deps.ecs.describe_service(state.service)
    if not isinstance(snapshot, ServiceSnapshot):
        return
    missed = _missed_events(state, snapshot, now) + _forgotten_outcome(deps, state, snapshot, now)
    for event in missed:
        deployments.handle_deployment_event(deps, event)
        result.recorded.append(f"{state.service}: {event.detail.deployment_id} {event.detail.event_name}")
    fresh = (deps.ledger.load(state.service) or state) if missed else state
    current = fresh.current
    if current is not None and current.status == Status.COMPLETED:
        completed_at = current.completed_at or current.started_at
        if now >= completed_at + deps.settings.bake_time + BAKE_GRACE:
            payload = BakeTimerPayload(
                service_arn=state.service.arn, deployment_id=current.deployment_id, due_at=now
            )
            promotion = promote_if_quiet(deps, payload, reschedule=False)
            if promotion.outcome == "promoted":
                result.promoted.append(f"{state.service}: {current.revision}")


def _codedeploy_rollback_ended(deps: Dependencies, state: ServiceState, now: datetime, result: Pass) -> bool:
    """A rollback through CodeDeploy still in flight after the grace: its deployment's end (one
    ``GetDeployment``) finishes it, as that deployment's lost event would have."""
    in_flight = state.in_flight
    if (
        in_flight is None
        or in_flight.unfinished  # not yet known to be carried out: resumed once its lease lapses
        or deps.codedeploy is None
        or deps.settings.code_deploy_group(state.service) is None
        or now < in_flight.started_at + CODEDEPLOY_GRACE
    ):
        return False
    record = codedeploy_events.in_flight_codedeploy_rollback(deps, state)
    if record is None or record.codedeploy_deployment_id is None:
        return False
    deployment_id = record.codedeploy_deployment_id
    ended = deps.codedeploy.deployment_state(deployment_id)
    if ended is None:
        return False
    followed = retry.on_conflict(
        lambda: codedeploy_events.finish(deps, state.service, deployment_id, ended),
        what=f"the ledger state of {state.service}",
    )
    result.recorded.append(f"{state.service}: CodeDeploy {deployment_id} {ended}")
    return followed.action in ("completed", "failed")


def _lost_alarms(
    deps: Dependencies,
    last_alarms: dict[ServiceId, datetime | None],
    result: Pass,
    account: str,
    region: str,
) -> None:
    """Each alarm of ``account`` and ``region`` in ALARM for longer than ``ALARM_GRACE`` that a
    watched service has not seen go into ALARM (its ``last_alarm_at`` is older): decided for that
    service as its event would have been. The trigger id is the alarm's transition, so later
    passes find the decision made."""
    now = deps.clock.now()
    acting = _quietly_in(deps, account, region)
    if acting is None:
        return
    for alarm in acting.alarms.firing_alarms():
        if now - alarm.changed_at < ALARM_GRACE:
            continue

        def unseen(link: Link, changed_at: datetime = alarm.changed_at) -> bool:
            if link.service not in last_alarms:
                return False  # not in the ledger: its first deployment event adopts it
            seen = last_alarms[link.service]
            return seen is None or seen < changed_at

        for record in handle_alarm_event(deps, _event_of(alarm, account, region), only=unseen):
            result.lost_alarms.append(f"{record.service}: {alarm.name} {record.outcome.value}")


def _event_of(alarm: FiringAlarm, account: str, region: str) -> AlarmStateChangeEvent:
    """The ``CloudWatch Alarm State Change`` event the alarm's transition emitted, as far as
    DescribeAlarms tells it (tags are read when linking needs them)."""
    stamp = alarm.changed_at.isoformat()
    return AlarmStateChangeEvent.model_validate(
        {
            "version": "0",
            "id": str(uuid.uuid5(_ALARM_EVENTS, f"{alarm.arn}|{stamp}")),
            "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch",
            "account": account,
            "time": stamp,
            "region": region,
            "resources": [alarm.arn],
            "detail": {
                "alarmName": alarm.name,
                "state": {
                    "value": "ALARM",
                    "reason": f"{alarm.reason} (its event was lost; found by the reconciler)",
                    "timestamp": stamp,
                },
                "configuration": {
                    "metrics": [
                        {"id": "m1", "metricStat": {"metric": {"dimensions": dict(alarm.dimensions)}}}
                    ]
                },
            },
        }
    )


def _resume_or_release(deps: Dependencies, state: ServiceState, result: Pass) -> None:
    assert state.in_flight is not None
    in_flight = state.in_flight
    record = deps.ledger.get_rollback(state.service, in_flight.record_key)
    if record is not None and executor.resumable(record, state):
        executor.resume(deps, state, record)
        result.resumed.append(record.rollback_id)
        return

    def release() -> None:
        latest = deps.ledger.load(state.service)
        if (
            latest is None
            or latest.in_flight is None
            or latest.in_flight.rollback_id != in_flight.rollback_id
        ):
            return
        executor.commit_state(deps, latest, lifecycle.unlock(latest, in_flight.rollback_id))

    retry.on_conflict(release, what=f"the ledger state of {state.service}")
    logger.warning(
        "released a lock whose rollback has no unfinished record",
        extra={"rollback_id": in_flight.rollback_id},
    )
    result.released.append(in_flight.rollback_id)


def _missed_events(state: ServiceState, snapshot: ServiceSnapshot, now: datetime) -> list[EcsDeploymentEvent]:
    """The deployment events the ledger should have had, from what ECS lists now."""
    current = state.current
    events = []
    for deployment in sorted(snapshot.deployments, key=_created):
        if deployment.status != "PRIMARY":
            continue  # older deployments that ECS still lists were recorded when they were primary
        known = current is not None and current.deployment_id == deployment.deployment_id
        event_name = _EVENT_FOR_ROLLOUT.get(deployment.rollout_state or "")
        if event_name is None:
            continue
        if known:
            assert current is not None
            if current.status.is_bad or current.status == Status.GOOD:
                continue
            reached = _RANK.get(current.status, 2)
            wanted = {"SERVICE_DEPLOYMENT_IN_PROGRESS": 0, "SERVICE_DEPLOYMENT_COMPLETED": 1}.get(
                event_name, 2
            )
            if wanted <= reached:
                continue
        elif (
            current is not None
            and deployment.created_at is not None
            and deployment.created_at < current.started_at
        ):
            continue  # older than what the ledger records as running
        events.append(_event(snapshot, deployment, event_name, now))
    return events


def _forgotten_outcome(
    deps: Dependencies, state: ServiceState, snapshot: ServiceSnapshot, now: datetime
) -> list[EcsDeploymentEvent]:
    """The outcome of the deployment the ledger holds IN_PROGRESS when ECS no longer lists it (a
    newer one replaced it and its last events were lost), from ECS's service deployment. Recorded
    after the newer one, so it never becomes current again: a COMPLETED one is history, a FAILED
    one's decision is stale."""
    current = state.current
    if (
        current is None
        or current.status != Status.IN_PROGRESS
        or current.service_deployment_arn is None
        or snapshot.deployment(current.deployment_id) is not None
    ):
        return []
    found = deps.ecs.service_deployment_status(current.service_deployment_arn)
    event_name = _EVENT_FOR_OUTCOME.get(found[0]) if found else None
    if found is None or event_name is None:
        return []
    status, reason = found
    gone = EcsDeployment(current.deployment_id, "INACTIVE", current.task_definition_arn, None, None)
    told = f"ECS's service deployment ended {status}{f': {reason}' if reason else ''}"
    return [
        _event(
            snapshot,
            gone,
            event_name,
            now,
            f"recorded by the reconciler from DescribeServiceDeployments ({told})",
        )
    ]


def _created(deployment: EcsDeployment) -> datetime:
    return deployment.created_at or datetime.min.replace(tzinfo=UTC)


def _event(
    snapshot: ServiceSnapshot,
    deployment: EcsDeployment,
    event_name: str,
    now: datetime,
    reason: str = "recorded by the reconciler from DescribeServices (the event was not received)",
) -> EcsDeploymentEvent:
    """The event ECS would have sent, in its own shape (``ECS Deployment State Change``)."""
    service = snapshot.service
    return EcsDeploymentEvent.model_validate(
        {
            "version": "0",
            "id": f"reconciler-{deployment.deployment_id}-{event_name}"[:512],
            "detail-type": "ECS Deployment State Change",
            "source": "aws.ecs",
            "account": service.account,
            "time": now.isoformat(),
            "region": service.region,
            "resources": [service.arn],
            "detail": {
                "eventType": "ERROR" if event_name == "SERVICE_DEPLOYMENT_FAILED" else "INFO",
                "eventName": event_name,
                "deploymentId": deployment.deployment_id,
                "updatedAt": now.isoformat(),
                "reason": reason,
            },
        }
    )
