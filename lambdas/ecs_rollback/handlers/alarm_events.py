"""CloudWatch Alarm State Change (ALARM) -> linked services -> rollback decision for each."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from ecs_rollback.composition import from_environment
from ecs_rollback.events.cloudwatch_alarm import AlarmStateChangeEvent
from ecs_rollback.handlers._edge import Edge, rejected
from ecs_rollback.ports import Dependencies
from ecs_rollback.services.alarms import handle_alarm_event
from ecs_rollback.services.notifications import record_view

edge = Edge()


def handle(event: dict[str, Any], deps: Dependencies) -> dict[str, Any]:
    try:
        parsed = AlarmStateChangeEvent.model_validate(event)
    except ValidationError as exc:
        return rejected(exc, deps.telemetry, event)
    decisions = handle_alarm_event(deps, parsed)
    return {"status": "decided" if decisions else "ignored", "decisions": [record_view(d) for d in decisions]}


def _handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, from_environment(edge.telemetry))


handler = edge.entry(_handler, correlation_id_path="id")
