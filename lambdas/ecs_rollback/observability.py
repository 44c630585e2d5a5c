"""Logging, metrics and tracing, in one neutral place the handlers and services share.

The services depend only on the ``Telemetry`` port; the handlers wire it to powertools Metrics,
which writes CloudWatch embedded-metric-format lines (no PutMetricData call, no extra permission).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from ecs_rollback.contract import METRICS_NAMESPACE, SERVICE_NAME

logger = Logger(service=SERVICE_NAME)


class MetricsTelemetry:
    """One metric per outcome (``DecisionRolledBack``, ``DecisionSkipped``, ...) and the latency."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def decision(self, outcome: str, trigger: str) -> None:
        name = "Decision" + "".join(part.capitalize() for part in outcome.lower().split("_"))
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        self._metrics.add_metric(
            name=f"Trigger{trigger.title().replace('_', '')}", unit=MetricUnit.Count, value=1
        )

    def trigger_to_update_service(self, seconds: float) -> None:
        self._metrics.add_metric(name="TriggerToUpdateServiceSeconds", unit=MetricUnit.Seconds, value=seconds)

    def event(self, name: str) -> None:
        self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


class NullTelemetry:
    """For callers outside Lambda (the CLI, tests) that record no metrics."""

    def decision(self, outcome: str, trigger: str) -> None:
        return None

    def trigger_to_update_service(self, seconds: float) -> None:
        return None

    def event(self, name: str) -> None:
        return None


def build_metrics() -> Metrics:
    return Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)


def build_tracer() -> Tracer:
    return Tracer(service=SERVICE_NAME)
