"""CodeDeploy's deployments on ECS services: what the emulator lacks, played on its request path.

moto keeps CodeDeploy applications, deployment groups and deployments, but a deployment never
starts, never changes its ECS service, and ``StopDeployment`` is not implemented. This module
adds what the product's rollback through CodeDeploy needs, with the CodeDeploy API reference's
request and response shapes, so the product calls CodeDeploy exactly as it calls AWS:

- ``CreateDeployment`` of an ECS AppSpec (``AppSpecContent``) on a group whose ``ecsServices``
  name the service: the deployment is InProgress at once and the ECS service's task definition
  becomes the AppSpec's ``TaskDefinition`` (the simulator then plays the ECS deployment that
  carries it out, as after UpdateService; its completion makes the CodeDeploy deployment
  Succeeded). A second deployment while one is active is refused
  (``DeploymentLimitExceededException``), as CodeDeploy allows one active deployment per group.
- ``StopDeployment`` (``autoRollbackEnabled``): an active deployment is Stopped and, with the
  rollback, the service goes back to what it ran before (answer ``Pending``, as CodeDeploy rolls
  back asynchronously; ``Succeeded`` without it); a complete one answers
  ``DeploymentAlreadyCompletedException``.

- The ``CodeDeploy Deployment State-change Notification`` CodeDeploy sends to EventBridge when a
  deployment ends (``SUCCESS``, ``FAILURE``, ``STOP``; the user guide's sample shape):
  ``state_change_events`` returns each ended deployment's event once, for the harness to deliver
  through the deployed rules; ``fail`` makes an active deployment fail (CodeDeploy then puts the
  original task set back).

Simplification: no replacement task set, no traffic shift, no lifecycle hooks; the service
simply ends on the deployed task definition.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.backends import get_backend

from ecs_rollback.domain.codedeploy import FINAL_STATES, deployed_task_definition
from ecs_rollback.events.codedeploy_deployment import CODEDEPLOY_DETAIL_TYPE
from ecs_rollback_sandbox.emulator_fixes import replace_method
from ecs_rollback_sandbox.eventbridge import EventSource

_APPLIED = "_ecs_rollback_sandbox_codedeploy"
_ANNOUNCED = "_ecs_rollback_sandbox_announced"
ACTIVE = ("Created", "Queued", "InProgress", "Ready")


def apply() -> None:
    """Idempotent, like ``emulator_fixes.apply``: the emulator's backends are process-wide."""
    from moto.codedeploy.models import CodeDeployBackend
    from moto.codedeploy.responses import CodeDeployResponse

    if not getattr(getattr(CodeDeployResponse, "stop_deployment", None), _APPLIED, False):
        setattr(_stop_deployment, _APPLIED, True)
        CodeDeployResponse.stop_deployment = _stop_deployment  # type: ignore[attr-defined]
    replace_method(CodeDeployBackend, "create_deployment", _deploy_on_the_ecs_service)


def _error(code: str, message: str) -> Exception:
    from moto.codedeploy.exceptions import CodeDeployException

    return CodeDeployException(code, message)


def _ecs_service(backend: Any, group: Any) -> Any | None:
    """The moto ECS service object the deployment group deploys (its first ``ecsServices`` entry)."""
    for entry in group.ecs_services or []:
        ecs = get_backend("ecs")[backend.account_id][backend.region_name]
        return ecs.services.get(f"{entry.get('clusterName')}:{entry.get('serviceName')}")
    return None


def _deploy_on_the_ecs_service(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_deployment(
        self: Any, application_name: str, deployment_group_name: str, *args: Any, **kwargs: Any
    ) -> Any:
        for deployment in self.deployments.values():
            if (
                deployment.application_name == application_name
                and deployment.deployment_group_name == deployment_group_name
                and deployment.status in ACTIVE
            ):
                raise _error(
                    "DeploymentLimitExceededException",
                    f"The Deployment Group '{deployment_group_name}' already has an active Deployment "
                    f"'{deployment.deployment_id}'",
                )
        deployment_id = original(self, application_name, deployment_group_name, *args, **kwargs)
        deployment = self.deployments[deployment_id]
        revision = deployment.revision or {}
        task_definition = deployed_task_definition((revision.get("appSpecContent") or {}).get("content"))
        service = _ecs_service(self, deployment.deployment_group)
        deployment.status = "InProgress"
        deployment.start_time = deployment.create_time
        if service is not None and task_definition:
            deployment._original_task_definition = service.task_definition
            deployment._target_task_definition = task_definition
            deployment._ecs_service = service
            service.task_definition = task_definition  # ECS starts the deployment next
        return deployment_id

    return create_deployment


def _stop_deployment(self: Any) -> Any:
    from moto.core.responses import ActionResult

    deployment = self.codedeploy_backend.get_deployment(self._get_param("deploymentId"))
    if deployment.status not in ACTIVE:
        raise _error("DeploymentAlreadyCompletedException", "The deployment is already complete.")
    roll_back = bool(self._get_param("autoRollbackEnabled"))
    deployment.status = "Stopped"
    service = getattr(deployment, "_ecs_service", None)
    if roll_back and service is not None:
        service.task_definition = deployment._original_task_definition  # the original task set again
        deployment.rollback_info = {"rollbackMessage": "Rolled back by a StopDeployment request."}
        return ActionResult(
            {"status": "Pending", "statusMessage": "Stopping the deployment and rolling back."}
        )
    return ActionResult({"status": "Succeeded", "statusMessage": "The deployment was stopped."})


def settle(account: str, region: str, service: Any, task_definition: str) -> None:
    """ECS finished deploying ``task_definition`` on ``service``: the CodeDeploy deployment that
    asked for it succeeded."""
    backend = get_backend("codedeploy")[account][region]
    for deployment in backend.deployments.values():
        if (
            deployment.status in ACTIVE
            and getattr(deployment, "_ecs_service", None) is service
            and getattr(deployment, "_target_task_definition", None) == task_definition
        ):
            deployment.status = "Succeeded"


def fail(account: str, region: str, deployment_id: str) -> None:
    """CodeDeploy's deployment ``deployment_id`` fails: Failed, and the service runs its original
    task set again."""
    deployment: Any = get_backend("codedeploy")[account][region].deployments[deployment_id]
    if deployment.status not in ACTIVE:
        raise _error("DeploymentAlreadyCompletedException", "The deployment is already complete.")
    deployment.status = "Failed"
    service = getattr(deployment, "_ecs_service", None)
    if service is not None:
        service.task_definition = deployment._original_task_definition


def state_change_events(account: str, region: str, at: datetime) -> list[dict[str, Any]]:
    """The ``CodeDeploy Deployment State-change Notification`` of every deployment that ended since
    the last call (Succeeded, Failed, Stopped), each once, as CodeDeploy sends it to EventBridge."""
    backend = get_backend("codedeploy")[account][region]
    source = EventSource("aws.codedeploy", account, region)
    events = []
    for deployment in backend.deployments.values():
        state = FINAL_STATES.get(deployment.status)
        if state is None or getattr(deployment, _ANNOUNCED, False):
            continue
        setattr(deployment, _ANNOUNCED, True)
        application, group = deployment.application_name, deployment.deployment_group_name
        arn = f"arn:aws:codedeploy:{region}:{account}"
        detail = {
            "instanceGroupId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{arn}:{application}/{group}")),
            "region": region,
            "application": application,
            "deploymentId": deployment.deployment_id,
            "state": state,
            "deploymentGroup": group,
        }
        resources = [f"{arn}:application:{application}", f"{arn}:deploymentgroup:{application}/{group}"]
        events.append(source.event(CODEDEPLOY_DETAIL_TYPE, detail, resources=resources, at=at))
    return events
