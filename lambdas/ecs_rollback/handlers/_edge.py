"""What every handler shares: Powertools instrumentation, and the refusal of an unreadable event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from ecs_rollback.composition import from_environment
from ecs_rollback.observability import MetricsTelemetry, build_metrics, build_tracer, logger
from ecs_rollback.ports import Dependencies, Telemetry

LambdaHandler = Callable[[Any, LambdaContext], dict[str, Any]]
Handle = Callable[[Any, Dependencies], dict[str, Any]]
Model = TypeVar("Model", bound=BaseModel)


class Edge:
    """One function's metrics, tracer (when tracing is active) and telemetry, and the decorators
    that wire them."""

    def __init__(self) -> None:
        self.metrics = build_metrics()
        self.tracer = build_tracer()
        self.telemetry = MetricsTelemetry(self.metrics)

    def entry(self, handler: LambdaHandler, correlation_id_path: str | None = None) -> LambdaHandler:
        """``handler`` with metrics flushed, the invocation traced and the log lines correlated."""
        logged: LambdaHandler = logger.inject_lambda_context(handler, correlation_id_path=correlation_id_path)
        traced: LambdaHandler = self.tracer.capture_lambda_handler(logged) if self.tracer else logged
        flushed: LambdaHandler = self.metrics.log_metrics(traced)
        return flushed

    def lambda_handler(
        self, handle: Handle, *, correlation_id_path: str | None = None, schedules_itself: bool = False
    ) -> LambdaHandler:
        """What Lambda calls: the dependencies from the environment (built once while warm), then
        ``handle``. A function that ``schedules_itself`` is its own bake-timer target."""

        def invoke(event: Any, context: LambdaContext) -> dict[str, Any]:
            target = context.invoked_function_arn if schedules_itself else None
            return handle(event, from_environment(self.telemetry, bake_timer_target_arn=target))

        return self.entry(invoke, correlation_id_path=correlation_id_path)


def event_handler(model: type[Model], answer: Callable[[Dependencies, Model], dict[str, Any]]) -> Handle:
    """``handle(event, deps)``: the event as a typed model (an unreadable one is refused), then ``answer``."""

    def handle(event: Any, deps: Dependencies) -> dict[str, Any]:
        try:
            parsed = model.model_validate(event)
        except ValidationError as exc:
            return rejected(exc, deps.telemetry, event)
        return answer(deps, parsed)

    return handle


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
