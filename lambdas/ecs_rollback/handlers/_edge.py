"""What every handler shares: Powertools instrumentation, and the refusal of an unreadable event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from ecs_rollback.observability import MetricsTelemetry, build_metrics, build_tracer, logger
from ecs_rollback.ports import Telemetry

LambdaHandler = Callable[[Any, LambdaContext], dict[str, Any]]


class Edge:
    """One function's metrics, tracer and telemetry, and the decorators that wire them."""

    def __init__(self) -> None:
        self.metrics = build_metrics()
        self.tracer = build_tracer()
        self.telemetry = MetricsTelemetry(self.metrics)

    def entry(self, handler: LambdaHandler, correlation_id_path: str | None = None) -> LambdaHandler:
        """``handler`` with metrics flushed, the invocation traced and the log lines correlated."""
        logged: LambdaHandler = logger.inject_lambda_context(handler, correlation_id_path=correlation_id_path)
        traced: LambdaHandler = self.tracer.capture_lambda_handler(logged)
        flushed: LambdaHandler = self.metrics.log_metrics(traced)
        return flushed


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
