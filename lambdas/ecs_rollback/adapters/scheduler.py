"""The bake timer: a one-time EventBridge Scheduler schedule per completed deployment."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ecs_rollback.domain.model import ServiceId, iso

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient


def schedule_name(service: ServiceId, deployment_id: str, at: datetime) -> str:
    """Deterministic, so a duplicate COMPLETED event cannot create a second timer."""
    digest = hashlib.sha256(f"{service.arn}|{deployment_id}|{iso(at)}".encode()).hexdigest()[:40]
    return f"bake-{service.name[:18]}-{digest}"


class SchedulerBakeTimer:
    def __init__(
        self,
        client: EventBridgeSchedulerClient,
        *,
        group_name: str,
        target_arn: str,
        role_arn: str,
        dead_letter_arn: str | None = None,
    ) -> None:
        self._client = client
        self._dead_letter_arn = dead_letter_arn
        self._group = group_name
        self._target_arn = target_arn
        self._role_arn = role_arn

    def schedule(self, service: ServiceId, deployment_id: str, at: datetime) -> None:
        moment = at.astimezone(UTC).replace(microsecond=0)
        target: dict[str, object] = {
            "Arn": self._target_arn,
            "RoleArn": self._role_arn,
            "Input": json.dumps(
                {"service_arn": service.arn, "deployment_id": deployment_id, "due_at": iso(moment)}
            ),
            "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10},
        }
        if self._dead_letter_arn:
            target["DeadLetterConfig"] = {"Arn": self._dead_letter_arn}
        try:
            self._client.create_schedule(
                Name=schedule_name(service, deployment_id, moment),
                GroupName=self._group,
                ScheduleExpression=f"at({moment.strftime('%Y-%m-%dT%H:%M:%S')})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Description=f"bake time of {deployment_id} on {service}",
                Target=target,  # type: ignore[arg-type]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConflictException":
                raise
