"""The payload ECS invokes a deployment lifecycle hook's Lambda function with.

The shape follows the developer guide, "Lambda hooks for Amazon ECS service deployments"
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/lambda-lifecycle-hooks.html,
"Lifecycle payloads"), samples under ``tests/events/``::

    {"executionId": "...", "lifecycleStage": "PRE_SCALE_UP",
     "resourceArn": "arn:aws:ecs:...:service-deployment/<cluster>/<service>/<id>",
     "executionDetails": {"serviceArn": "...", "targetServiceRevisionArn": "...",
                          "testTrafficWeights": {}, "productionTrafficWeights": {}},
     "hookDetails": {...}}

The older page, "Lifecycle hooks for Amazon ECS service deployments", lists ``serviceArn``,
``targetServiceRevisionArn`` and the two weight maps as the payload's own fields, with no
``executionDetails``: that form is accepted too. Unknown fields are ignored.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ecs_rollback.domain.model import SERVICE_ARN, ServiceId

SERVICE_REVISION_ARN = re.compile(
    r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:service-revision/[A-Za-z0-9_-]{1,255}/"
    r"[A-Za-z0-9_-]{1,255}/[A-Za-z0-9_-]{1,255}$",
    re.ASCII,
)
_DETAIL_FIELDS = ("serviceArn", "targetServiceRevisionArn", "testTrafficWeights", "productionTrafficWeights")


class ExecutionDetails(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True, defer_build=True)

    service_arn: str = Field(alias="serviceArn", pattern=SERVICE_ARN.pattern)
    target_service_revision_arn: str = Field(
        alias="targetServiceRevisionArn", pattern=SERVICE_REVISION_ARN.pattern
    )
    test_traffic_weights: dict[str, float] = Field(default_factory=dict, alias="testTrafficWeights")
    production_traffic_weights: dict[str, float] = Field(
        default_factory=dict, alias="productionTrafficWeights"
    )


class LifecycleHookEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True, defer_build=True)

    execution_id: str | None = Field(default=None, alias="executionId", max_length=256)
    lifecycle_stage: str = Field(alias="lifecycleStage", pattern=r"^[A-Z_]{1,64}$")
    resource_arn: str | None = Field(default=None, alias="resourceArn", max_length=2048)
    execution_details: ExecutionDetails = Field(alias="executionDetails")
    hook_details: dict[str, Any] = Field(default_factory=dict, alias="hookDetails")

    @model_validator(mode="before")
    @classmethod
    def _details_at_top_level(cls, data: Any) -> Any:
        """The older documented form: the execution details are the payload's own fields."""
        if isinstance(data, dict) and "executionDetails" not in data and "serviceArn" in data:
            return {**data, "executionDetails": {key: data[key] for key in _DETAIL_FIELDS if key in data}}
        return data

    @field_validator("hook_details", mode="before")
    @classmethod
    def _details_as_given(cls, value: Any) -> Any:
        """What the service's hook configuration passes is the user's: a JSON string (as
        CloudFormation's ``HookDetails`` is written) is read, and anything not an object is no
        details, never a reason to fail the deployment."""
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return {}
        return value if isinstance(value, dict) else {}

    @property
    def service(self) -> ServiceId:
        return ServiceId.from_arn(self.execution_details.service_arn)

    @property
    def target_revision(self) -> str:
        return self.execution_details.target_service_revision_arn
