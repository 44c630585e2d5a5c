"""Alarm events: link the alarm to its services, then decide for each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ecs_rollback.domain.decision import Trigger
from ecs_rollback.domain.model import RollbackRecord, TriggerKind
from ecs_rollback.domain.state import ServiceState
from ecs_rollback.events.cloudwatch_alarm import AlarmStateChangeEvent
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies
from ecs_rollback.services import executor, place
from ecs_rollback.services.alarm_links import Link, link_alarm


def handle_alarm_event(
    deps: Dependencies, event: AlarmStateChangeEvent, only: Callable[[Link], bool] | None = None
) -> list[RollbackRecord]:
    """Decide for each service the alarm is linked to (``only`` those it accepts, when given)."""
    detail = event.detail
    if detail.state.value != "ALARM":
        logger.info("alarm left ALARM; nothing to do", extra={"alarm": detail.alarm_name})
        return []
    placed = place.for_event(deps, event)
    if placed is None:
        return []
    deps = placed
    links = link_alarm(deps.settings, deps.alarms, event)
    if not links:
        logger.info(
            "alarm is not linked to any service (configuration, ecs-rollback:* tags, or ClusterName/ServiceName "
            "dimensions); ignored",
            extra={"alarm": detail.alarm_name},
        )
        deps.telemetry.event("UnlinkedAlarm")
        return []
    links = [link for link in links if only is None or only(link)]
    outside = [link for link in links if not deps.settings.scope.contains(link.service)]
    for link in outside:
        logger.info(
            "alarm linked to a service outside the scope; ignored",
            extra={"alarm": detail.alarm_name, "service": str(link.service)},
        )
        deps.telemetry.event("OutOfScopeEvent")
    at = event.state_changed_at
    records = []
    for link in (link for link in links if link not in outside):
        trigger = Trigger(
            kind=TriggerKind.ALARM,
            trigger_id=event.id,
            at=at,
            source=detail.alarm_name,
            reason=f"alarm {detail.alarm_name} is in ALARM ({link.via}): {detail.state.reason[:300]}",
        )

        def note_alarm(state: ServiceState) -> ServiceState:
            last = at if state.last_alarm_at is None or at > state.last_alarm_at else state.last_alarm_at
            return replace(state, last_alarm_at=last)

        records.append(
            executor.execute(deps, trigger, link.service, patch=note_alarm, alarm_seen=detail.alarm_name)
        )
    return records
