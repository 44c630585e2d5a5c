"""Amazon ECS through an injected boto3 client."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ecs_rollback.adapters.aws_errors import describe, is_transient
from ecs_rollback.domain.codedeploy import LoadBalancerTarget
from ecs_rollback.domain.errors import EcsUpdateFailed, TransientFault
from ecs_rollback.domain.model import ServiceId
from ecs_rollback.ports import (
    EcsDeployment,
    PausedDeployment,
    ServiceRevision,
    ServiceSnapshot,
    TaskDefinitionSnapshot,
)

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

_MAX_TASKS = 100  # DescribeTasks takes 100 ARNs; a deployment's digests are the same on every task


DESCRIBE_SERVICES_LIMIT = 10  # services per DescribeServices call (the API's own limit)
DESCRIBE_REVISIONS_LIMIT = 20  # ARNs per DescribeServiceRevisions call (the API's own limit)


class EcsAdapter:
    def __init__(self, client: ECSClient) -> None:
        self._client = client

    def describe_service(self, service: ServiceId) -> ServiceSnapshot | None:
        return self.describe_services([service])[service]

    def describe_services(self, services: Sequence[ServiceId]) -> dict[ServiceId, ServiceSnapshot | None]:
        """Each service as ECS sees it (None: gone), in one call per cluster and ten services."""
        found: dict[tuple[str, str], Any] = {}  # by cluster and name: an old-format ARN has no cluster
        by_cluster: dict[str, list[ServiceId]] = {}
        for service in services:
            by_cluster.setdefault(service.cluster, []).append(service)
        for cluster, members in by_cluster.items():
            for start in range(0, len(members), DESCRIBE_SERVICES_LIMIT):
                batch = members[start : start + DESCRIBE_SERVICES_LIMIT]
                response = self._client.describe_services(cluster=cluster, services=[s.arn for s in batch])
                for raw in response.get("services", []):
                    if raw.get("status") != "INACTIVE":
                        found[(cluster, str(raw.get("serviceName", "")))] = raw
        return {
            service: _snapshot(service, found[key])
            if (key := (service.cluster, service.name)) in found
            else None
            for service in services
        }

    def describe_task_definition(self, arn: str) -> TaskDefinitionSnapshot | None:
        try:
            response = self._client.describe_task_definition(taskDefinition=arn, include=["TAGS"])
        except ClientError as error:
            if error.response["Error"]["Code"] in ("ClientException", "InvalidParameterException"):
                return None  # deleted, or never existed
            raise
        definition: dict[str, Any] = dict(response["taskDefinition"])
        tags = {
            tag["key"]: tag["value"] for tag in response.get("tags", []) if "key" in tag and "value" in tag
        }
        return TaskDefinitionSnapshot(
            arn=definition["taskDefinitionArn"],
            status=str(definition.get("status", "ACTIVE")),
            definition=definition,
            tags=tags,
        )

    def running_digests(self, service: ServiceId, task_definition_arn: str) -> dict[str, str]:
        """Container name -> image digest that ECS resolved, from the service's tasks."""
        task_arns: list[str] = []
        for desired in ("RUNNING", "STOPPED"):
            response = self._client.list_tasks(
                cluster=service.cluster,
                serviceName=service.name,
                desiredStatus=desired,
                maxResults=_MAX_TASKS,
            )
            task_arns = response.get("taskArns", [])
            if task_arns:
                break
        if not task_arns:
            return {}
        tasks = self._client.describe_tasks(cluster=service.cluster, tasks=task_arns[:_MAX_TASKS]).get(
            "tasks", []
        )
        digests: dict[str, str] = {}
        for task in tasks:
            if task.get("taskDefinitionArn") != task_definition_arn:
                continue
            for container in task.get("containers", []):
                digest = container.get("imageDigest")
                if digest and container.get("name"):
                    digests.setdefault(container["name"], digest)
        return digests

    def revision_digests(self, revision_arns: Sequence[str], task_definition_arn: str) -> dict[str, str]:
        if not revision_arns:
            return {}
        response = self._client.describe_service_revisions(
            serviceRevisionArns=list(revision_arns[:DESCRIBE_REVISIONS_LIMIT])
        )
        for raw in response.get("serviceRevisions", []):
            if raw.get("taskDefinition") == task_definition_arn:
                return _digests_of(raw)
        return {}

    def register_task_definition(self, definition: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        request = dict(definition)
        if tags:
            request["tags"] = [{"key": key, "value": value} for key, value in tags.items()]
        try:
            response = self._client.register_task_definition(**request)
        except (ClientError, BotoCoreError) as error:
            raise _refused(
                error, "RegisterTaskDefinition", f"the pinned copy of {definition.get('family')}"
            ) from error
        return response["taskDefinition"]["taskDefinitionArn"]

    def update_service(self, service: ServiceId, task_definition_arn: str) -> None:
        try:
            self._client.update_service(
                cluster=service.cluster, service=service.name, taskDefinition=task_definition_arn
            )
        except (ClientError, BotoCoreError) as error:
            raise _refused(error, "UpdateService", str(service)) from error

    def stop_service_deployment(self, service_deployment_arn: str) -> bool:
        try:
            self._client.stop_service_deployment(
                serviceDeploymentArn=service_deployment_arn, stopType="ROLLBACK"
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConflictException":
                return False  # no longer ongoing: it finished (or was stopped) meanwhile
            raise _refused(error, "StopServiceDeployment", service_deployment_arn) from error
        except BotoCoreError as error:
            raise _refused(error, "StopServiceDeployment", service_deployment_arn) from error
        return True

    def service_deployment_status(self, arn: str) -> tuple[str, str] | None:
        response = self._client.describe_service_deployments(serviceDeploymentArns=[arn])
        for raw in response.get("serviceDeployments", []):
            if raw.get("serviceDeploymentArn") == arn and raw.get("status"):
                return str(raw["status"]), str(raw.get("statusReason", ""))
        return None

    def describe_pause_hooks(self, service_deployment_arn: str) -> PausedDeployment | None:
        response = self._client.describe_service_deployments(serviceDeploymentArns=[service_deployment_arn])
        for raw in response.get("serviceDeployments", []):
            if raw.get("serviceDeploymentArn") != service_deployment_arn:
                continue
            hooks = raw.get("lifecycleHookDetails", [])
            return PausedDeployment(
                arn=service_deployment_arn,
                status=str(raw.get("status", "")),
                lifecycle_stage=raw.get("lifecycleStage"),
                target_revision_arn=(raw.get("targetServiceRevision") or {}).get("arn"),
                awaiting_hooks=tuple(
                    str(hook["hookId"])
                    for hook in hooks
                    if hook.get("hookId")
                    and hook.get("targetType") == "PAUSE"
                    and hook.get("status") == "AWAITING_ACTION"
                ),
            )
        return None

    def continue_service_deployment(self, service_deployment_arn: str, hook_id: str, action: str) -> bool:
        try:
            self._client.continue_service_deployment(
                serviceDeploymentArn=service_deployment_arn,
                hookId=hook_id,
                action=action,  # type: ignore[arg-type]  # CONTINUE or ROLLBACK, checked by the domain
            )
        except ClientError as error:
            # ECS refuses a hook that is no longer awaiting action (and a deployment that ended).
            if error.response["Error"]["Code"] in (
                "InvalidParameterException",
                "ServiceDeploymentNotFoundException",
            ):
                return False
            raise _refused(error, "ContinueServiceDeployment", service_deployment_arn) from error
        except BotoCoreError as error:
            raise _refused(error, "ContinueServiceDeployment", service_deployment_arn) from error
        return True

    def describe_service_revision(self, arn: str) -> ServiceRevision | None:
        response = self._client.describe_service_revisions(serviceRevisionArns=[arn])
        for raw in response.get("serviceRevisions", []):
            if raw.get("serviceRevisionArn") == arn and raw.get("taskDefinition"):
                return ServiceRevision(
                    arn=arn,
                    service_arn=str(raw.get("serviceArn", "")),
                    task_definition_arn=str(raw["taskDefinition"]),
                    digests=_digests_of(raw),
                )
        return None


def _digests_of(revision: Any) -> dict[str, str]:
    """A service revision's ``containerImages``: container name -> the digest ECS resolved."""
    return {
        str(image["containerName"]): str(image["imageDigest"])
        for image in revision.get("containerImages", [])
        if image.get("containerName") and image.get("imageDigest")
    }


def _refused(error: ClientError | BotoCoreError, call: str, subject: str) -> Exception:
    """What a failed ECS write means for the rollback: a fault a retry may cure, or ECS's refusal."""
    if is_transient(error):
        return TransientFault(f"{describe(error)} ({call} on {subject})")
    if not isinstance(error, ClientError):
        return error
    return EcsUpdateFailed(
        f"ECS refused {call} on {subject}: {error.response['Error'].get('Message', error)}"
    )


def _snapshot(service: ServiceId, raw: Any) -> ServiceSnapshot:
    configuration = raw.get("deploymentConfiguration") or {}
    breaker = configuration.get("deploymentCircuitBreaker") or {}
    alarms = configuration.get("alarms") or {}
    controller = (raw.get("deploymentController") or {}).get("type") or "ECS"
    return ServiceSnapshot(
        service=service,
        task_definition_arn=raw.get("taskDefinition", ""),
        deployments=tuple(
            EcsDeployment(
                deployment_id=d["id"],
                status=d.get("status", ""),
                task_definition_arn=d["taskDefinition"],
                rollout_state=d.get("rolloutState"),
                created_at=d.get("createdAt") if isinstance(d.get("createdAt"), datetime) else None,
            )
            for d in raw.get("deployments", [])
        ),
        ecs_rollback_enabled=bool(
            (breaker.get("enable") and breaker.get("rollback"))
            or (alarms.get("enable") and alarms.get("rollback"))
        ),
        controller=str(controller),
        strategy=str(configuration.get("strategy") or "ROLLING"),
        bake_time_minutes=_minutes(configuration.get("bakeTimeInMinutes")),
        current_service_deployment=raw.get("currentServiceDeployment"),
        current_service_revisions=tuple(
            str(revision["arn"]) for revision in raw.get("currentServiceRevisions", []) if revision.get("arn")
        ),
        load_balancers=tuple(
            LoadBalancerTarget(str(balancer["containerName"]), int(balancer["containerPort"]))
            for balancer in raw.get("loadBalancers", [])
            if balancer.get("containerName") and balancer.get("containerPort") is not None
        ),
    )


def _minutes(value: object) -> int | None:
    """A whole number of minutes as ECS reports it, None when absent or not one."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
