"""Bake time over (EventBridge Scheduler) -> promote COMPLETED to GOOD if no alarm fired."""

from __future__ import annotations

from typing import Any

from ecs_rollback.events.bake_timer import BakeTimerPayload
from ecs_rollback.handlers._edge import Edge, event_handler
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies
from ecs_rollback.services.promotion import promote_if_quiet


def _answer(deps: Dependencies, payload: BakeTimerPayload) -> dict[str, Any]:
    promotion = promote_if_quiet(deps, payload)
    logger.info("bake timer", extra={"outcome": promotion.outcome, "deployment_id": payload.deployment_id})
    return {"status": promotion.outcome, "message": promotion.message}


handle = event_handler(BakeTimerPayload, _answer)
edge = Edge()
# It re-schedules itself while alarms fire, so it is its own timer target.
handler = edge.lambda_handler(handle, correlation_id_path="deployment_id", schedules_itself=True)
