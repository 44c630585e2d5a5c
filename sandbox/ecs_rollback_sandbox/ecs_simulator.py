"""Plays Amazon ECS's part, which the emulator does not: deployments that progress, tasks that
report the image digests ECS resolved, the service deployments and revisions ECS keeps of each
(``service_deployments``), and the ``ECS Deployment State Change`` events ECS emits (and the
``ECS Hook State Change`` of a deployment paused at a pause hook).

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
from ecs_rollback_sandbox import codedeploy_deployments
from ecs_rollback_sandbox.clock import ManualClock
from ecs_rollback_sandbox.emulator import ACCOUNT, Emulator
from ecs_rollback_sandbox.eventbridge import EventSource, milliseconds
from ecs_rollback_sandbox.service_deployments import ServiceDeployments, use_clock


@dataclass
class EcsSimulator:
    emulator: Emulator
    clock: ManualClock
    account: str = ACCOUNT

    @property
    def _backend(self) -> Any:
        backend = get_backend("ecs")[self.account][self.emulator.region]
        use_clock(backend, self.clock.now)
        return backend

    @property
    def service_deployments(self) -> ServiceDeployments:
        return ServiceDeployments(self._backend)

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
        strategy: str = "ROLLING",
        bake_time_minutes: int | None = None,
        controller: str = "ECS",
        load_balancer: tuple[str, int] | None = None,
    ) -> ServiceId:
        """A service running ``task_definition_arn``. ``strategy`` is ECS's deployment strategy
        (ROLLING, BLUE_GREEN, LINEAR, CANARY) and ``controller`` its deployment controller (ECS,
        CODE_DEPLOY, EXTERNAL), as ``CreateService`` takes them; ``load_balancer``: the container
        name and port its target group routes to (a CODE_DEPLOY service has one)."""
        ecs = self.emulator.client("ecs")
        ecs.create_cluster(clusterName=cluster)
        configuration: dict[str, Any] = {
            "deploymentCircuitBreaker": {
                "enable": circuit_breaker_rollback,
                "rollback": circuit_breaker_rollback,
            },
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
        }
        if controller == "ECS":
            configuration["strategy"] = strategy
            if bake_time_minutes is not None:
                configuration["bakeTimeInMinutes"] = bake_time_minutes
        balancers = (
            [
                {
                    "targetGroupArn": f"arn:aws:elasticloadbalancing:{self.emulator.region}:{self.account}:"
                    f"targetgroup/{service}-blue/0123456789abcdef",
                    "containerName": load_balancer[0],
                    "containerPort": load_balancer[1],
                }
            ]
            if load_balancer
            else []
        )
        ecs.create_service(
            cluster=cluster,
            serviceName=service,
            taskDefinition=task_definition_arn,
            desiredCount=desired,
            deploymentConfiguration=configuration,
            deploymentController={"type": controller},
            loadBalancers=balancers,
        )
        service_id = self.service_id(cluster, service)
        raw = self._service(service_id)
        if controller == "CODE_DEPLOY" and not raw.deployments:
            # moto lists no deployment for a CODE_DEPLOY service; the harness reports its original
            # task set as the PRIMARY deployment, so what it runs can be adopted as its baseline.
            raw.deployments.append(
                {
                    "id": f"ecs-svc/{uuid.uuid4().int % 10**19:019d}",
                    "status": "PRIMARY",
                    "taskDefinition": task_definition_arn,
                    "desiredCount": desired,
                    "pendingCount": 0,
                    "runningCount": desired,
                    "launchType": raw.launch_type,
                }
            )
        for deployment in raw.deployments:
            deployment["createdAt"] = self.clock.now()
            deployment["rolloutState"] = "COMPLETED"
        started_by = raw.deployments[0]["id"] if raw.deployments else f"{controller.lower()}-deployment"
        self._start_tasks(service_id, task_definition_arn, started_by=started_by, count=desired)
        if raw.deployments:
            self.service_deployments.open(
                raw,
                task_definition=task_definition_arn,
                ecs_deployment_id=started_by,
                container_images=self._container_images(task_definition_arn),
                now=self.clock.now(),
                status="SUCCESSFUL",
            )
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
        record = self.service_deployments.of_ecs_deployment(raw, first["id"])
        if record is not None:
            record.update(status="IN_PROGRESS", lifecycleStage="SCALE_UP")
            record.pop("finishedAt", None)
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
        joined = self.service_deployments.joined(raw, deployment_id, now)
        # ECS's rollback runs its source revision as recorded: the digests it resolved then.
        restored = self.service_deployments.restored_digests(raw) if joined else None
        self._start_tasks(
            service, raw.task_definition, started_by=deployment_id, count=raw.desired_count, digests=restored
        )
        if joined:
            # The deployment that carries out a requested rollback (StopServiceDeployment).
            source = next(
                (d["id"] for d in raw.deployments[1:] if d["taskDefinition"] == raw.task_definition),
                None,
            )
            raw.deployments[:] = [d for d in raw.deployments if d["id"] == deployment_id or d["id"] == source]
            reason = reason or f"ECS deployment stopped: rolling back to deploymentId {source or 'unknown'}."
        elif not reason or "rolling back" not in reason:
            self.service_deployments.open(
                raw,
                task_definition=raw.task_definition,
                ecs_deployment_id=deployment_id,
                container_images=self._container_images(raw.task_definition),
                now=now,
            )
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
        reason = f"ECS deployment {primary['id']} completed."
        self.service_deployments.advance(raw, primary["id"], "SUCCESSFUL", self.clock.now(), reason)
        codedeploy_deployments.settle(self.account, self.emulator.region, raw, primary["taskDefinition"])
        return self.deployment_event(service, "SERVICE_DEPLOYMENT_COMPLETED", primary["id"], reason)

    def shift_traffic(self, service: ServiceId) -> None:
        """Blue/green, linear or canary: the new revision has taken all the production traffic and
        ECS bakes it (the old revision stays up, ready to take the traffic back). ECS sends no event
        until the bake ends; ``complete`` then finishes the deployment."""
        raw = self._service(service)
        primary = raw.deployments[0]
        primary.update(runningCount=raw.desired_count, pendingCount=0, updatedAt=self.clock.now())
        record = self.service_deployments.of_ecs_deployment(raw, primary["id"])
        if record is not None:
            target = dict(record["targetServiceRevision"])
            target.update(
                runningTaskCount=target["requestedTaskCount"],
                pendingTaskCount=0,
                requestedProductionTrafficWeight=100.0,
            )
            record.update(
                lifecycleStage="BAKE_TIME", targetServiceRevision=target, updatedAt=self.clock.now()
            )

    def pause(self, service: ServiceId, stage: str, **timeout: Any) -> dict[str, Any]:
        """The service's deployment reached ``stage``, where its ``lifecycleHooks`` have a PAUSE
        hook: it waits for ContinueServiceDeployment. Returns the ``ECS Hook State Change``
        (HOOK_AWAITING_ACTION) event ECS emits (``timeout``: ``timeout_minutes``, ``timeout_action``)."""
        now = self.clock.now()
        record, hook = self.service_deployments.pause(self._service(service), stage, now, **timeout)
        return self.service_deployments.hook_event(record, hook, now)

    def fail(
        self, service: ServiceId, *, reason: str = "ECS deployment circuit breaker: task failed to start."
    ) -> dict[str, Any]:
        raw = self._service(service)
        primary = raw.deployments[0]
        primary["rolloutState"] = "FAILED"
        primary["rolloutStateReason"] = reason
        primary["updatedAt"] = self.clock.now()
        if "rolling back" not in reason:
            self.service_deployments.advance(raw, primary["id"], "STOPPED", self.clock.now(), reason)
        return self.deployment_event(
            service, "SERVICE_DEPLOYMENT_FAILED", primary["id"], reason, event_type="ERROR"
        )

    def fail_with_ecs_rollback(self, service: ServiceId) -> list[dict[str, Any]]:
        """The circuit breaker with rollback on: FAILED, then ECS's own rollback deployment starts."""
        raw = self._service(service)
        failed, previous = raw.deployments[0], next(d for d in raw.deployments[1:] if d["status"] == "ACTIVE")
        reason = f"ECS deployment circuit breaker: rolling back to deploymentId {previous['id']}."
        failed_event = self.fail(service, reason=reason)
        record = self.service_deployments.of_ecs_deployment(raw, failed["id"])
        if record is not None:
            self.service_deployments.begin_rollback(raw, record, self.clock.now(), reason)
        raw.task_definition = previous["taskDefinition"]
        raw.deployments[:] = [d for d in raw.deployments if d is not failed]
        return [failed_event, self.start_deployment(service, reason=reason)]

    # -- tasks and digests ----------------------------------------------------------------

    def _start_tasks(
        self,
        service: ServiceId,
        task_definition_arn: str,
        *,
        started_by: str,
        count: int,
        digests: dict[str, str] | None = None,
    ) -> None:
        """``count`` running tasks; each image resolved now, unless ``digests`` says what it runs."""
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
            task.containers = [
                self._container(definition, spec, (digests or {}).get(str(spec.get("name"))))
                for spec in definition.container_definitions
            ]
            backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task

    def _container_images(self, task_definition_arn: str) -> list[dict[str, str]]:
        """What a service revision records: each container's image and the digest ECS resolved."""
        definition = self._backend.describe_task_definition(task_definition_arn)
        return [
            {
                "containerName": str(spec.get("name", "")),
                "image": str(spec.get("image", "")),
                "imageDigest": self.resolve(str(spec.get("image", ""))),
            }
            for spec in definition.container_definitions
        ]

    def _container(self, definition: Any, spec: dict[str, Any], digest: str | None = None) -> Any:
        container: Any = cast(Any, Container)(definition)  # moto's model, built as moto builds it
        container.name = spec.get("name")
        container.image = spec.get("image")
        container.last_status = "RUNNING"
        container.image_digest = digest or self.resolve(spec.get("image", ""))  # what ECS resolved at start
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
