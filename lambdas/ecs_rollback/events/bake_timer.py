"""The payload EventBridge Scheduler delivers to the bake timer when a bake time ends."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ecs_rollback.domain.model import SERVICE_ARN, ServiceId


class BakeTimerPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    service_arn: str = Field(pattern=SERVICE_ARN.pattern)
    deployment_id: str = Field(min_length=1, max_length=512)
    due_at: datetime

    @property
    def service(self) -> ServiceId:
        return ServiceId.from_arn(self.service_arn)
