"""Bake time over (EventBridge Scheduler) -> promote COMPLETED to GOOD if no alarm fired."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from ecs_rollback.composition import from_environment
from ecs_rollback.events.bake_timer import BakeTimerPayload
from ecs_rollback.handlers._edge import Edge, rejected
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies
from ecs_rollback.services.promotion import promote_if_quiet

edge = Edge()


def handle(event: dict[str, Any], deps: Dependencies) -> dict[str, Any]:
    try:
        payload = BakeTimerPayload.model_validate(event)
    except ValidationError as exc:
        return rejected(exc, deps.telemetry, event)
    promotion = promote_if_quiet(deps, payload)
    logger.info("bake timer", extra={"outcome": promotion.outcome, "deployment_id": payload.deployment_id})
    return {"status": promotion.outcome, "message": promotion.message}


def _handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # It re-schedules itself while alarms fire, so it is its own timer target.
    return handle(event, from_environment(edge.telemetry, bake_timer_target_arn=context.invoked_function_arn))


handler = edge.entry(_handler, correlation_id_path="deployment_id")
