"""What every EventBridge-triggered handler does with an event it cannot read."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ecs_rollback.observability import logger
from ecs_rollback.ports import Telemetry


def rejected(exc: ValidationError, telemetry: Telemetry, event: object) -> dict[str, Any]:
    """Log a clear refusal and return normally: a malformed event is never retried."""
    problems = [
        {"field": ".".join(str(part) for part in error["loc"]), "problem": error["msg"]}
        for error in exc.errors(include_url=False, include_input=False)[:10]
    ]
    event_id = event.get("id") if isinstance(event, dict) else None
    logger.warning("malformed event refused", extra={"problems": problems, "event_id": str(event_id)[:128]})
    telemetry.event("MalformedEvent")
    return {"status": "rejected", "problems": problems}
