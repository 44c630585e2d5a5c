"""``ECS Hook State Change`` events: a pause hook of a service deployment awaiting action.

The developer guide ("Pause hooks for Amazon ECS service deployments") says that when a
deployment reaches a stage with a ``PAUSE`` hook, ECS generates a ``hookId``, emits an
EventBridge event of detail-type ``ECS Hook State Change`` named ``HOOK_AWAITING_ACTION``, and
waits for ``ContinueServiceDeployment``. It publishes no sample of the event, so the shape here is
modelled on the ``ECS Deployment State Change`` events and on ``DeploymentLifecycleHookDetail``
(sample under ``tests/events/``)::

    {"detail-type": "ECS Hook State Change", "source": "aws.ecs",
     "resources": ["arn:aws:ecs:...:service/<cluster>/<service>"],
     "detail": {"eventType": "INFO", "eventName": "HOOK_AWAITING_ACTION",
                "serviceDeploymentArn": "arn:aws:ecs:...:service-deployment/<cluster>/<service>/<id>",
                "hookId": "ecs-pause-...", "targetType": "PAUSE", "status": "AWAITING_ACTION",
                "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT", "expiresAt": "...", "timeoutAction": "ROLLBACK"}}

Only the service deployment is relied on, read from ``detail.serviceDeploymentArn`` or from a
``service-deployment`` ARN in ``resources``: the hooks awaiting action, the stage and the target
revision are read from ``DescribeServiceDeployments`` (the documented way to find a ``hookId``).
``hookId`` and ``lifecycleStage``, when the event has them, narrow and back that reading up.
Unknown fields are ignored.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ecs_rollback.domain.model import ServiceId
from ecs_rollback.events.envelope import AwsEvent

PAUSE_HOOK_DETAIL_TYPE = "ECS Hook State Change"
HOOK_AWAITING_ACTION = "HOOK_AWAITING_ACTION"
SERVICE_DEPLOYMENT_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):ecs:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"service-deployment/(?P<cluster>[A-Za-z0-9_-]{1,255})/(?P<service>[A-Za-z0-9_-]{1,255})/"
    r"(?P<id>[A-Za-z0-9_-]{1,255})$",
    re.ASCII,
)


class PauseHookDetail(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True, defer_build=True)

    event_name: Literal["HOOK_AWAITING_ACTION"] = Field(alias="eventName")
    service_deployment_arn: str = Field(alias="serviceDeploymentArn", pattern=SERVICE_DEPLOYMENT_ARN.pattern)
    hook_id: str | None = Field(default=None, alias="hookId", min_length=1, max_length=256)
    lifecycle_stage: str | None = Field(default=None, alias="lifecycleStage", pattern=r"^[A-Z_]{1,64}$")


class PauseHookEvent(AwsEvent):
    source: Literal["aws.ecs"]
    detail_type: Literal["ECS Hook State Change"] = Field(alias="detail-type")
    detail: PauseHookDetail

    @model_validator(mode="before")
    @classmethod
    def _deployment_from_resources(cls, data: Any) -> Any:
        """No ``detail.serviceDeploymentArn``: the service deployment ARN ``resources`` lists."""
        if not isinstance(data, dict) or not isinstance(data.get("detail"), dict):
            return data
        if "serviceDeploymentArn" in data["detail"]:
            return data
        resources = data.get("resources")
        named = (
            [arn for arn in resources if isinstance(arn, str) and SERVICE_DEPLOYMENT_ARN.match(arn)]
            if isinstance(resources, list)
            else []
        )
        if not named:
            return data
        return {**data, "detail": {**data["detail"], "serviceDeploymentArn": named[0]}}

    @model_validator(mode="after")
    def _of_its_own_account(self) -> PauseHookEvent:
        match = SERVICE_DEPLOYMENT_ARN.match(self.detail.service_deployment_arn)
        assert match is not None  # the field's pattern holds it
        if (match["account"], match["region"]) != (self.account, self.region):
            raise ValueError(
                f"the service deployment is not of the event's own account {self.account} and region "
                f"{self.region}"
            )
        return self

    @property
    def service_deployment_arn(self) -> str:
        return self.detail.service_deployment_arn

    @property
    def service(self) -> ServiceId:
        """The service whose deployment paused, named by the service deployment's ARN."""
        match = SERVICE_DEPLOYMENT_ARN.match(self.detail.service_deployment_arn)
        assert match is not None
        return ServiceId(
            match["partition"], match["region"], match["account"], match["cluster"], match["service"]
        )
