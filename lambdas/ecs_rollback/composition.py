"""The composition root: the one place that reads the process environment and builds the
adapters, once per cold start.

Tests and the sandbox call ``build`` with their own session or clock; the Lambda handlers call
``from_environment``, which caches per distinct environment (so tests need no reset).
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config

from ecs_rollback.adapters.alarms import CloudWatchAlarms
from ecs_rollback.adapters.ecr import EcrRegistry
from ecs_rollback.adapters.ecs import EcsAdapter
from ecs_rollback.adapters.ledger_dynamodb import DynamoDBLedger
from ecs_rollback.adapters.notifier_sns import SnsNotifier
from ecs_rollback.adapters.scheduler import SchedulerBakeTimer
from ecs_rollback.config import Settings
from ecs_rollback.contract import from_environment as settings_from_environment
from ecs_rollback.observability import NullTelemetry
from ecs_rollback.ports import BakeTimer, Clock, Dependencies, Telemetry

# Standard retries with a small budget: a Lambda has seconds, not minutes, to act.
_BOTO_CONFIG = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=3, read_timeout=10)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def build(
    settings: Settings,
    *,
    session: boto3.Session | None = None,
    clock: Clock | None = None,
    telemetry: Telemetry | None = None,
    bake_timer_target_arn: str | None = None,
    endpoint_url: str | None = None,
) -> Dependencies:
    session = session or boto3.Session()

    def client(name: str):  # type: ignore[no-untyped-def]
        return session.client(name, config=_BOTO_CONFIG, endpoint_url=endpoint_url)  # type: ignore[call-overload]

    target = bake_timer_target_arn or settings.bake_timer_function_arn
    bake_timer: BakeTimer | None = None
    if target and settings.bake_timer_role_arn and settings.schedule_group_name:
        bake_timer = SchedulerBakeTimer(
            client("scheduler"),
            group_name=settings.schedule_group_name,
            target_arn=target,
            role_arn=settings.bake_timer_role_arn,
            dead_letter_arn=settings.bake_timer_dead_letter_arn,
        )
    return Dependencies(
        settings=settings,
        ledger=DynamoDBLedger(client("dynamodb"), settings.ledger_table_name),
        ecs=EcsAdapter(client("ecs")),
        registry=EcrRegistry(client("ecr")),
        alarms=CloudWatchAlarms(client("cloudwatch")),
        notifier=SnsNotifier(client("sns"), settings.notification_topic_arn, settings.chat_topic_arn),
        bake_timer=bake_timer,
        clock=clock or SystemClock(),
        telemetry=telemetry or NullTelemetry(),
    )


def from_environment(telemetry: Telemetry, bake_timer_target_arn: str | None = None) -> Dependencies:
    """Dependencies for a Lambda invocation, built on the first call and reused while warm."""
    return _cached(frozenset(os.environ.items()), telemetry, bake_timer_target_arn)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=8)
def _cached(
    environment: frozenset[tuple[str, str]], telemetry: Any, bake_timer_target_arn: str | None
) -> Dependencies:
    return build(
        settings_from_environment(dict(environment)),
        telemetry=telemetry,
        bake_timer_target_arn=bake_timer_target_arn,
    )
