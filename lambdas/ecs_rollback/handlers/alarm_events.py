"""CloudWatch Alarm State Change (ALARM) -> linked services -> rollback decision for each."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from ecs_rollback.composition import from_environment
from ecs_rollback.events.cloudwatch_alarm import AlarmStateChangeEvent
from ecs_rollback.handlers._edge import rejected
from ecs_rollback.observability import MetricsTelemetry, build_metrics, build_tracer, logger
from ecs_rollback.ports import Dependencies
from ecs_rollback.services.alarms import handle_alarm_event
from ecs_rollback.services.notifications import record_view

metrics = build_metrics()
tracer = build_tracer()
telemetry = MetricsTelemetry(metrics)


def handle(event: dict[str, Any], deps: Dependencies) -> dict[str, Any]:
    try:
        parsed = AlarmStateChangeEvent.model_validate(event)
    except ValidationError as exc:
        return rejected(exc, deps.telemetry, event)
    decisions = handle_alarm_event(deps, parsed)
    return {"status": "decided" if decisions else "ignored", "decisions": [record_view(d) for d in decisions]}


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="id")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, from_environment(telemetry))
