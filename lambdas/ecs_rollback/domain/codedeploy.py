"""What CodeDeploy is given to deploy a release on an ECS service: its AppSpec.

For an Amazon ECS deployment the revision is the AppSpec itself (``revisionType``
``AppSpecContent``): the task definition to deploy, and the container and port the load
balancer routes to (CodeDeploy AppSpec reference, "AppSpec 'resources' section for Amazon ECS
deployments"). Pure: the container and port come from the service's ``loadBalancers``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

APP_SPEC_VERSION = 0.0
TARGET_SERVICE_TYPE = "AWS::ECS::Service"


@dataclass(frozen=True)
class LoadBalancerTarget:
    """The container and port of the service's load balancer (``loadBalancers`` of DescribeServices)."""

    container_name: str
    container_port: int


def app_spec(task_definition_arn: str, target: LoadBalancerTarget) -> str:
    """The JSON AppSpec content that deploys ``task_definition_arn`` behind ``target``."""
    return json.dumps(
        {
            "version": APP_SPEC_VERSION,
            "Resources": [
                {
                    "TargetService": {
                        "Type": TARGET_SERVICE_TYPE,
                        "Properties": {
                            "TaskDefinition": task_definition_arn,
                            "LoadBalancerInfo": {
                                "ContainerName": target.container_name,
                                "ContainerPort": target.container_port,
                            },
                        },
                    }
                }
            ],
        }
    )


def deployed_task_definition(content: str | None) -> str | None:
    """The task definition an ECS AppSpec deploys (JSON content; None when it cannot be read)."""
    try:
        document = json.loads(content or "")
        properties = document["Resources"][0]["TargetService"]["Properties"]
        return str(properties["TaskDefinition"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


# A deployment's final status (``GetDeployment``), as the state its EventBridge event names.
FINAL_STATES = {"Succeeded": "SUCCESS", "Failed": "FAILURE", "Stopped": "STOP"}


def rollback_result(state: str, *, stopped: bool) -> str | None:
    """COMPLETED / FAILED: how a rollback through CodeDeploy ended, from the final state of its
    CodeDeploy deployment (``stopped``: the rollback is the StopDeployment with rollback of that
    deployment, so its STOP is the rollback done; else the rollback created it, so only its SUCCESS
    is). None while the deployment has not ended (START, READY)."""
    if state not in FINAL_STATES.values():
        return None
    if stopped:
        return "COMPLETED" if state == "STOP" else "FAILED"
    return "COMPLETED" if state == "SUCCESS" else "FAILED"
