"""Plays Amazon ECS's part, which the emulator does not: deployments that progress, tasks that
report the image digests ECS resolved, and the ``ECS Deployment State Change`` events ECS emits.

The emulator runs in this process (``ThreadedMotoServer``), so the simulator edits its in-memory
ECS objects directly, exactly where real ECS would change state on its own.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, cast

from moto.backends import get_backend
from moto.ecs.models import Container, Task

from ecs_rollback.domain.model import ImageReference, ServiceId
from ecs_rollback_sandbox.clock import ManualClock
from ecs_rollback_sandbox.emulator import ACCOUNT, Emulator
from ecs_rollback_sandbox.eventbridge import EventSource, milliseconds


@dataclass
class EcsSimulator:
    emulator: Emulator
    clock: ManualClock
    account: str = ACCOUNT

    @property
    def _backend(self) -> Any:
        return get_backend("ecs")[self.account][self.emulator.region]

    def service_id(self, cluster: str, service: str) -> ServiceId:
        return ServiceId("aws", self.emulator.region, self.account, cluster, service)

    def _service(self, service: ServiceId) -> Any:
        return self._backend.services[f"{service.cluster}:{service.name}"]

    # -- set-up ---------------------------------------------------------------------------

    def create_service(
        self,
        cluster: str,
        service: str,
        task_definition_arn: str,
        *,
        desired: int = 2,
        circuit_breaker_rollback: bool = False,
    ) -> ServiceId:
        ecs = self.emulator.client("ecs")
        ecs.create_cluster(clusterName=cluster)
        ecs.create_service(
            cluster=cluster,
            serviceName=service,
            taskDefinition=task_definition_arn,
            desiredCount=desired,
            deploymentConfiguration={
                "deploymentCircuitBreaker": {
                    "enable": circuit_breaker_rollback,
                    "rollback": circuit_breaker_rollback,
                },
                "maximumPercent": 200,
                "minimumHealthyPercent": 100,
            },
        )
        service_id = self.service_id(cluster, service)
        raw = self._service(service_id)
        for deployment in raw.deployments:
            deployment["createdAt"] = self.clock.now()
            deployment["rolloutState"] = "COMPLETED"
        self._start_tasks(service_id, task_definition_arn, started_by=raw.deployments[0]["id"], count=desired)
        return service_id

    # -- what ECS does on its own ---------------------------------------------------------

    def pending_services(self) -> list[ServiceId]:
        """Every active service whose task definition ``UpdateService`` changed, not yet deployed."""
        services = [self.service_id(*key.split(":", 1)) for key in list(self._backend.services)]
        return [
            service
            for service in services
            if self._service(service).status == "ACTIVE" and self.pending_update(service)
        ]

    def first_deployment(self, service: ServiceId) -> dict[str, Any]:
        """``CreateService`` starts a deployment too, and ECS reports it like any other: returns
        its IN_PROGRESS event (``complete`` finishes it)."""
        raw = self._service(service)
        first = raw.deployments[0]
        first.update(rolloutState="IN_PROGRESS", runningCount=0, pendingCount=raw.desired_count)
        return self.deployment_event(
            service,
            "SERVICE_DEPLOYMENT_IN_PROGRESS",
            first["id"],
            f"ECS deployment {first['id']} in progress.",
        )

    def pending_update(self, service: ServiceId) -> bool:
        """UpdateService changed the task definition and ECS has not started the deployment yet."""
        raw = self._service(service)
        primary = next((d for d in raw.deployments if d["status"] == "PRIMARY"), None)
        return primary is None or primary["taskDefinition"] != raw.task_definition

    def start_deployment(self, service: ServiceId, *, reason: str | None = None) -> dict[str, Any]:
        """ECS begins a deployment of the service's current task definition: returns IN_PROGRESS."""
        raw = self._service(service)
        deployment_id = f"ecs-svc/{uuid.uuid4().int % 10**19:019d}"
        now = self.clock.now()
        for deployment in raw.deployments:
            if deployment["status"] == "PRIMARY":
                deployment["status"] = "ACTIVE"
        raw.deployments.insert(
            0,
            {
                "id": deployment_id,
                "status": "PRIMARY",
                "taskDefinition": raw.task_definition,
                "desiredCount": raw.desired_count,
                "pendingCount": raw.desired_count,
                "runningCount": 0,
                "failedTasks": 0,
                "createdAt": now,
                "updatedAt": now,
                "launchType": raw.launch_type,
                "rolloutState": "IN_PROGRESS",
                "rolloutStateReason": f"ECS deployment {deployment_id} in progress.",
            },
        )
        self._start_tasks(service, raw.task_definition, started_by=deployment_id, count=raw.desired_count)
        return self.deployment_event(
            service,
            "SERVICE_DEPLOYMENT_IN_PROGRESS",
            deployment_id,
            reason or f"ECS deployment {deployment_id} in progress.",
        )

    def complete(self, service: ServiceId) -> dict[str, Any]:
        """The PRIMARY deployment reached steady state: old deployments and their tasks go away."""
        raw = self._service(service)
        primary = raw.deployments[0]
        primary["rolloutState"] = "COMPLETED"
        primary["runningCount"], primary["pendingCount"] = raw.desired_count, 0
        primary["updatedAt"] = self.clock.now()
        raw.deployments[:] = [primary]
        self._stop_tasks_except(service, primary["taskDefinition"])
        return self.deployment_event(
            service,
            "SERVICE_DEPLOYMENT_COMPLETED",
            primary["id"],
            f"ECS deployment {primary['id']} completed.",
        )

    def fail(
        self, service: ServiceId, *, reason: str = "ECS deployment circuit breaker: task failed to start."
    ) -> dict[str, Any]:
        raw = self._service(service)
        primary = raw.deployments[0]
        primary["rolloutState"] = "FAILED"
        primary["rolloutStateReason"] = reason
        primary["updatedAt"] = self.clock.now()
        return self.deployment_event(
            service, "SERVICE_DEPLOYMENT_FAILED", primary["id"], reason, event_type="ERROR"
        )

    def fail_with_ecs_rollback(self, service: ServiceId) -> list[dict[str, Any]]:
        """The circuit breaker with rollback on: FAILED, then ECS's own rollback deployment starts."""
        raw = self._service(service)
        failed, previous = raw.deployments[0], next(d for d in raw.deployments[1:] if d["status"] == "ACTIVE")
        reason = f"ECS deployment circuit breaker: rolling back to deploymentId {previous['id']}."
        failed_event = self.fail(service, reason=reason)
        raw.task_definition = previous["taskDefinition"]
        raw.deployments[:] = [d for d in raw.deployments if d is not failed]
        return [failed_event, self.start_deployment(service, reason=reason)]

    # -- tasks and digests ----------------------------------------------------------------

    def _start_tasks(
        self, service: ServiceId, task_definition_arn: str, *, started_by: str, count: int
    ) -> None:
        backend = self._backend
        cluster = backend.clusters[service.cluster]
        definition = backend.describe_task_definition(task_definition_arn)
        for _ in range(max(count, 1)):
            task = Task(
                cluster,
                definition,
                None,
                None,
                backend,
                group=f"service:{service.name}",
                launch_type="EC2",
                started_by=started_by,
            )
            task.containers = [self._container(definition, spec) for spec in definition.container_definitions]
            backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task

    def _container(self, definition: Any, spec: dict[str, Any]) -> Any:
        container: Any = cast(Any, Container)(definition)  # moto's model, built as moto builds it
        container.name = spec.get("name")
        container.image = spec.get("image")
        container.last_status = "RUNNING"
        container.image_digest = self.resolve(spec.get("image", ""))  # what ECS resolved at start
        return container

    def _stop_tasks_except(self, service: ServiceId, task_definition_arn: str) -> None:
        for task in self._backend.tasks.get(service.cluster, {}).values():
            if task.group == f"service:{service.name}" and task.task_definition_arn != task_definition_arn:
                task.desired_status = "STOPPED"
                task.last_status = "STOPPED"

    def resolve(self, image: str) -> str:
        """The digest ECS would run for an image reference: the pinned digest, or ECR's tag, now."""
        reference = ImageReference.parse(image)
        if reference.digest:
            return reference.digest
        location = reference.ecr
        if location is not None and reference.tag:
            ecr = self.emulator.client("ecr")
            try:
                details = ecr.describe_images(
                    repositoryName=location[2], imageIds=[{"imageTag": reference.tag}]
                )
                return str(details["imageDetails"][0]["imageDigest"])
            except ecr.exceptions.ImageNotFoundException:
                pass
        return "sha256:" + hashlib.sha256(image.encode()).hexdigest()

    # -- the events ---------------------------------------------------------------------

    def deployment_event(
        self, service: ServiceId, name: str, deployment_id: str, reason: str, *, event_type: str = "INFO"
    ) -> dict[str, Any]:
        now = self.clock.now()
        detail = {
            "eventType": event_type,
            "eventName": name,
            "deploymentId": deployment_id,
            "updatedAt": milliseconds(now) + "Z",
            "reason": reason,
        }
        events = EventSource("aws.ecs", self.account, self.emulator.region)
        return events.event("ECS Deployment State Change", detail, resources=[service.arn], at=now)
