"""Logging, metrics and tracing, in one neutral place the handlers and services share.

The services depend only on the ``Telemetry`` port; the handlers wire it to powertools Metrics,
which writes CloudWatch embedded-metric-format lines (no PutMetricData call, no extra permission).
"""

from __future__ import annotations

import os

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


_TRUTHY = frozenset({"1", "y", "yes", "t", "true", "on"})  # Powertools' strtobool


def tracing_active() -> bool:
    """Powertools' own rule: in Lambda (not SAM local, not Chalice) unless POWERTOOLS_TRACE_DISABLED."""
    disabled = os.getenv("POWERTOOLS_TRACE_DISABLED", "false").lower() in _TRUTHY
    local = os.getenv("AWS_SAM_LOCAL") or os.getenv("AWS_CHALICE_CLI_MODE")
    return bool(os.getenv("LAMBDA_TASK_ROOT")) and not local and not disabled


def build_tracer() -> Tracer | None:
    """The X-Ray tracer when tracing is active, else None, so the X-Ray SDK is not even imported.

    Only botocore is patched (each AWS call a subsegment): the functions make no other HTTP or
    database calls, and patching everything X-Ray knows imports sqlite3, requests and others.
    """
    if not tracing_active():
        return None
    return Tracer(service=SERVICE_NAME, patch_modules=("botocore",))
