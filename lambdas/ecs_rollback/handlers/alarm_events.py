"""CloudWatch Alarm State Change (ALARM) -> linked services -> rollback decision for each."""

from __future__ import annotations

from typing import Any

from ecs_rollback.events.cloudwatch_alarm import AlarmStateChangeEvent
from ecs_rollback.handlers._edge import Edge, event_handler
from ecs_rollback.ports import Dependencies
from ecs_rollback.services.alarms import handle_alarm_event
from ecs_rollback.services.notifications import record_view


def _answer(deps: Dependencies, event: AlarmStateChangeEvent) -> dict[str, Any]:
    decisions = handle_alarm_event(deps, event)
    return {"status": "decided" if decisions else "ignored", "decisions": [record_view(d) for d in decisions]}


handle = event_handler(AlarmStateChangeEvent, _answer)
edge = Edge()
handler = edge.lambda_handler(handle, correlation_id_path="id")
