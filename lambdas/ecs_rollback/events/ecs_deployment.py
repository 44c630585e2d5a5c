"""``ECS Deployment State Change`` events, as EventBridge delivers them.

Powertools has no model for these; the shape follows the AWS documentation's samples, kept
under ``tests/events/``. Unknown fields are ignored so a new attribute from AWS does not
turn into a failed invocation.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ecs_rollback.domain.model import SERVICE_ARN, ServiceId
from ecs_rollback.events.envelope import AwsEvent

DeploymentEventName = Literal[
    "SERVICE_DEPLOYMENT_IN_PROGRESS",
    "SERVICE_DEPLOYMENT_COMPLETED",
    "SERVICE_DEPLOYMENT_FAILED",
]

# ECS writes this into ``reason`` when its circuit breaker or deployment alarms roll back.
ECS_ROLLBACK_REASON = re.compile(
    r"rolling back to deploymentId (?P<deployment_id>[\w/.:-]+?)\.?$", re.IGNORECASE
)


class EcsDeploymentDetail(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True, defer_build=True)

    event_type: Literal["INFO", "WARN", "ERROR"] = Field(alias="eventType")
    event_name: DeploymentEventName = Field(alias="eventName")
    deployment_id: str = Field(alias="deploymentId", min_length=1, max_length=512)
    updated_at: datetime = Field(alias="updatedAt")
    reason: str = Field(default="", max_length=4096)

    @property
    def ecs_rollback_source(self) -> str | None:
        """The deployment ECS is rolling back to, when ``reason`` says it is rolling back."""
        match = ECS_ROLLBACK_REASON.search(self.reason)
        return match["deployment_id"] if match else None


class EcsDeploymentEvent(AwsEvent):
    source: Literal["aws.ecs"]
    detail_type: Literal["ECS Deployment State Change"] = Field(alias="detail-type")
    detail: EcsDeploymentDetail

    @model_validator(mode="after")
    def _names_its_service(self) -> EcsDeploymentEvent:
        if self._own_service_arn() is None:
            raise ValueError(
                f"resources holds no ECS service ARN of the event's own account {self.account} and "
                f"region {self.region}"
            )
        return self

    def _own_service_arn(self) -> str | None:
        for arn in self.resources:
            match = SERVICE_ARN.match(arn)
            if match is not None and (match["account"], match["region"]) == (self.account, self.region):
                return arn
        return None

    @property
    def service(self) -> ServiceId:
        """The service the event is about: of the event's own account and region (ECS names it in
        ``resources``; anything else listed there is not this event's service)."""
        arn = self._own_service_arn()
        assert arn is not None  # the model validator holds it
        return ServiceId.from_arn(arn)
