"""``CodeDeploy Deployment State-change Notification`` events, as EventBridge delivers them.

CodeDeploy sends these directly to EventBridge (source ``aws.codedeploy``, best effort) for each
change of a deployment's state; ECS sends no ``ECS Deployment State Change`` for a
CODE_DEPLOY-controlled service, so a rollback carried out through CodeDeploy is followed to its
end by these. The shape follows the sample of the CodeDeploy user guide ("Monitoring deployments
with Amazon EventBridge"), kept under ``tests/events/``::

    {"detail-type": "CodeDeploy Deployment State-change Notification", "source": "aws.codedeploy",
     "resources": ["arn:aws:codedeploy:<region>:<account>:application:<application>",
                   "arn:aws:codedeploy:<region>:<account>:deploymentgroup:<application>/<group>"],
     "detail": {"instanceGroupId": "...", "region": "...", "application": "...",
                "deploymentId": "d-...", "state": "SUCCESS", "deploymentGroup": "..."}}

Unknown fields are ignored.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ecs_rollback.events.envelope import AwsEvent

CODEDEPLOY_DETAIL_TYPE = "CodeDeploy Deployment State-change Notification"

CodeDeployState = Literal["START", "SUCCESS", "FAILURE", "STOP", "READY"]


class CodeDeployDeploymentDetail(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True, defer_build=True)

    deployment_id: str = Field(alias="deploymentId", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    application: str = Field(min_length=1, max_length=100)
    deployment_group: str = Field(alias="deploymentGroup", min_length=1, max_length=100)
    state: CodeDeployState
    instance_group_id: str | None = Field(default=None, alias="instanceGroupId", max_length=128)


class CodeDeployDeploymentEvent(AwsEvent):
    source: Literal["aws.codedeploy"]
    detail_type: Literal["CodeDeploy Deployment State-change Notification"] = Field(alias="detail-type")
    detail: CodeDeployDeploymentDetail
