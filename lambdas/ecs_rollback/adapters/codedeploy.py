"""AWS CodeDeploy through an injected botocore client, for the CODE_DEPLOY-controlled services
whose deployment group is configured (request and response shapes of the CodeDeploy API
reference: ListDeployments, GetDeployment, StopDeployment, CreateDeployment)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ecs_rollback.adapters.aws_errors import describe, error_code, is_transient
from ecs_rollback.domain.codedeploy import FINAL_STATES, deployed_task_definition
from ecs_rollback.domain.decision import OngoingCodeDeploy
from ecs_rollback.domain.errors import CodeDeployRefused, TransientFault

# What "still deploying" is: a deployment in progress, or one waiting to reroute traffic.
ONGOING_STATUSES = ("InProgress", "Ready")


class CodeDeployAdapter:
    def __init__(self, client: Any) -> None:  # no stub package for CodeDeploy's client types
        self._client = client

    def ongoing_deployment(self, application: str, deployment_group: str) -> OngoingCodeDeploy | None:
        listed = self._client.list_deployments(
            applicationName=application,
            deploymentGroupName=deployment_group,
            includeOnlyStatuses=list(ONGOING_STATUSES),
        )
        for deployment_id in listed.get("deployments", []):
            info = self._client.get_deployment(deploymentId=deployment_id).get("deploymentInfo", {})
            if info.get("status") not in ONGOING_STATUSES:
                continue  # it ended between the two calls
            revision = info.get("revision") or {}
            content = (revision.get("appSpecContent") or {}).get("content")
            return OngoingCodeDeploy(str(deployment_id), deployed_task_definition(content))
        return None

    def stop_deployment(self, deployment_id: str) -> bool:
        try:
            self._client.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)
        except ClientError as error:
            if error_code(error) == "DeploymentAlreadyCompletedException":
                return False
            raise _refused(error, "StopDeployment", deployment_id) from error
        except BotoCoreError as error:
            raise _refused(error, "StopDeployment", deployment_id) from error
        return True

    def create_deployment(
        self, application: str, deployment_group: str, app_spec: str, description: str
    ) -> str:
        try:
            answer = self._client.create_deployment(
                applicationName=application,
                deploymentGroupName=deployment_group,
                revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": app_spec}},
                description=description[:1024],
            )
        except (ClientError, BotoCoreError) as error:
            raise _refused(error, "CreateDeployment", f"{application}/{deployment_group}") from error
        return str(answer["deploymentId"])

    def deployment_state(self, deployment_id: str) -> str | None:
        info = self._client.get_deployment(deploymentId=deployment_id).get("deploymentInfo", {})
        return FINAL_STATES.get(str(info.get("status")))


def _refused(error: ClientError | BotoCoreError, call: str, subject: str) -> Exception:
    """A fault a retry may cure, or CodeDeploy's refusal (recorded on the rollback)."""
    if is_transient(error):
        return TransientFault(f"{describe(error)} ({call} on {subject})")
    if not isinstance(error, ClientError):
        return error
    return CodeDeployRefused(f"CodeDeploy refused {call} on {subject}: {describe(error)}")
