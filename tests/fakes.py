"""In-memory implementations of the ports, for socket-free service tests.

Each fake implements the same Protocol as its boto3 adapter (mypy checks the ``Dependencies``
built from them), records what it was asked, and can be told to fail the way AWS fails.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ecs_rollback.domain.codedeploy import FINAL_STATES, LoadBalancerTarget, deployed_task_definition
from ecs_rollback.domain.decision import OngoingCodeDeploy
from ecs_rollback.domain.errors import EcsUpdateFailed
from ecs_rollback.domain.model import ImageReference, ServiceId
from ecs_rollback.ports import (
    Dependencies,
    EcsDeployment,
    OutboxEntry,
    PausedDeployment,
    ServiceRevision,
    ServiceSnapshot,
    TaskDefinitionSnapshot,
)
from ecs_rollback.services import outbox
from tests.ledger_fake import InMemoryLedger
from tests.unit.builders import NOW, FakeAlarms, settings


@dataclass
class FakeClock:
    moment: datetime = NOW

    def now(self) -> datetime:
        return self.moment


@dataclass
class FakeEcs:
    """Task definitions by ARN and one task definition per service; UpdateService just moves it."""

    task_definitions: dict[str, TaskDefinitionSnapshot] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)  # service ARN -> task definition ARN
    digests: dict[str, dict[str, str]] = field(default_factory=dict)  # task definition ARN -> digests
    updates: list[tuple[ServiceId, str]] = field(default_factory=list)
    registrations: list[dict[str, Any]] = field(default_factory=list)
    # Service deployments ECS may still roll back: ARN -> (service ARN, task definition it returns to).
    ongoing: dict[str, tuple[str, str]] = field(default_factory=dict)
    stops: list[str] = field(default_factory=list)
    revisions: dict[str, ServiceRevision] = field(default_factory=dict)
    # Service deployments paused at a pause hook (by ARN), and the ContinueServiceDeployment calls.
    paused: dict[str, PausedDeployment] = field(default_factory=dict)
    continued: list[tuple[str, str, str]] = field(default_factory=list)
    # Called before UpdateService acts; raise from it to fail the call the way AWS would.
    before_update: Callable[[ServiceId, str], None] | None = None
    # The container and port of each service's load balancer (service ARN -> loadBalancers).
    load_balancers: dict[str, tuple[LoadBalancerTarget, ...]] = field(default_factory=dict)

    def add_task_definition(self, definition: dict[str, Any], tags: Mapping[str, str] | None = None) -> str:
        arn = str(definition["taskDefinitionArn"])
        self.task_definitions[arn] = TaskDefinitionSnapshot(
            arn=arn,
            status=str(definition.get("status", "ACTIVE")),
            definition=definition,
            tags=dict(tags or {}),
        )
        return arn

    def describe_service(self, service: ServiceId) -> ServiceSnapshot | None:
        current = self.services.get(service.arn)
        if current is None:
            return None
        primary = EcsDeployment(f"ecs-svc/{current.rsplit(':', 1)[-1]}", "PRIMARY", current, "COMPLETED", NOW)
        return ServiceSnapshot(
            service,
            current,
            (primary,),
            ecs_rollback_enabled=False,
            load_balancers=self.load_balancers.get(service.arn, ()),
        )

    def describe_services(self, services: Sequence[ServiceId]) -> dict[ServiceId, ServiceSnapshot | None]:
        return {service: self.describe_service(service) for service in services}

    def describe_task_definition(self, arn: str) -> TaskDefinitionSnapshot | None:
        return self.task_definitions.get(arn)

    def running_digests(self, service: ServiceId, task_definition_arn: str) -> dict[str, str]:
        return dict(self.digests.get(task_definition_arn, {}))

    def register_task_definition(self, definition: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        family = str(definition["family"])
        revision = 1 + max(
            (int(arn.rsplit(":", 1)[1]) for arn in self.task_definitions if f"/{family}:" in arn), default=0
        )
        arn = f"arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:{revision}"
        registered = {**copy.deepcopy(dict(definition)), "taskDefinitionArn": arn, "revision": revision}
        self.registrations.append(registered)
        self.add_task_definition(registered, tags)
        return arn

    def update_service(self, service: ServiceId, task_definition_arn: str) -> None:
        if self.before_update is not None:
            self.before_update(service, task_definition_arn)
        self.updates.append((service, task_definition_arn))
        self.services[service.arn] = task_definition_arn

    def stop_service_deployment(self, service_deployment_arn: str) -> bool:
        """ECS's own rollback: the service goes back to what ``ongoing`` says ran before it."""
        self.stops.append(service_deployment_arn)
        back_to = self.ongoing.pop(service_deployment_arn, None)
        if back_to is None:
            return False
        service_arn, task_definition_arn = back_to
        self.services[service_arn] = task_definition_arn
        return True

    def describe_service_revision(self, arn: str) -> ServiceRevision | None:
        return self.revisions.get(arn)

    def service_deployment_status(self, arn: str) -> tuple[str, str] | None:
        return ("IN_PROGRESS", "") if arn in self.ongoing else None

    def describe_pause_hooks(self, service_deployment_arn: str) -> PausedDeployment | None:
        return self.paused.get(service_deployment_arn)

    def continue_service_deployment(self, service_deployment_arn: str, hook_id: str, action: str) -> bool:
        """A pause hook answered: it is awaiting no more."""
        self.continued.append((service_deployment_arn, hook_id, action))
        paused = self.paused.get(service_deployment_arn)
        if paused is None or hook_id not in paused.awaiting_hooks:
            return False
        left = tuple(hook for hook in paused.awaiting_hooks if hook != hook_id)
        self.paused[service_deployment_arn] = dataclasses.replace(paused, awaiting_hooks=left)
        return True

    def revision_digests(self, revision_arns: Sequence[str], task_definition_arn: str) -> dict[str, str]:
        for arn in revision_arns:
            revision = self.revisions.get(arn)
            if revision is not None and revision.task_definition_arn == task_definition_arn:
                return dict(revision.digests)
        return {}


def refuse_updates(
    message: str = "the service's cluster is being deleted",
) -> Callable[[ServiceId, str], None]:
    """An UpdateService that ECS refuses (a permanent error)."""

    def refuse(service: ServiceId, task_definition_arn: str) -> None:
        raise EcsUpdateFailed(f"ECS refused UpdateService on {service}: {message}")

    return refuse


@dataclass
class FakeCodeDeploy:
    """CodeDeploy: deployments by id (status, AppSpec content); a stop rolls back, a create deploys."""

    deployments: dict[str, tuple[str, str, str]] = field(
        default_factory=dict
    )  # id -> (group, status, app spec)
    stops: list[str] = field(default_factory=list)
    created: list[tuple[str, str, str]] = field(default_factory=list)  # (application, group, app spec)
    lists: int = 0

    def ongoing_deployment(self, application: str, deployment_group: str) -> OngoingCodeDeploy | None:
        self.lists += 1
        for deployment_id, (group, status, content) in self.deployments.items():
            if group == f"{application}/{deployment_group}" and status in ("InProgress", "Ready"):
                return OngoingCodeDeploy(deployment_id, deployed_task_definition(content))
        return None

    def stop_deployment(self, deployment_id: str) -> bool:
        self.stops.append(deployment_id)
        group, status, content = self.deployments[deployment_id]
        if status not in ("InProgress", "Ready"):
            return False
        self.deployments[deployment_id] = (group, "Stopped", content)
        return True

    def create_deployment(
        self, application: str, deployment_group: str, app_spec: str, description: str
    ) -> str:
        self.created.append((application, deployment_group, app_spec))
        deployment_id = f"d-FAKE{len(self.created):05d}"
        self.deployments[deployment_id] = (f"{application}/{deployment_group}", "InProgress", app_spec)
        return deployment_id

    def deployment_state(self, deployment_id: str) -> str | None:
        _, status, _ = self.deployments[deployment_id]
        return FINAL_STATES.get(status)


@dataclass
class FakeRegistry:
    """ECR: every digest exists unless listed as deleted."""

    deleted: set[str] = field(default_factory=set)
    tags: dict[str, str] = field(default_factory=dict)

    def resolve_tag(self, image: ImageReference) -> str | None:
        return self.tags.get(f"{image.repository}:{image.tag}")

    def digest_exists(self, image: ImageReference, digest: str) -> bool | None:
        return digest not in self.deleted


@dataclass
class FakeNotifier:
    published: list[OutboxEntry] = field(default_factory=list)

    def publish(self, entry: OutboxEntry) -> None:
        self.published.append(entry)


@dataclass
class FakeBakeTimer:
    scheduled: list[tuple[ServiceId, str, datetime]] = field(default_factory=list)

    def schedule(self, service: ServiceId, deployment_id: str, at: datetime) -> None:
        self.scheduled.append((service, deployment_id, at))


@dataclass
class CountingTelemetry:
    events: list[str] = field(default_factory=list)

    def decision(self, outcome: str, trigger: str) -> None:
        self.events.append(f"decision:{outcome}:{trigger}")

    def trigger_to_update_service(self, seconds: float) -> None:
        self.events.append("trigger_to_update_service")

    def event(self, name: str) -> None:
        self.events.append(name)


@dataclass
class Fakes:
    """The fakes behind one ``Dependencies``, kept for assertions."""

    ledger: InMemoryLedger = field(default_factory=InMemoryLedger)
    ecs: FakeEcs = field(default_factory=FakeEcs)
    registry: FakeRegistry = field(default_factory=FakeRegistry)
    alarms: FakeAlarms = field(default_factory=FakeAlarms)
    notifier: FakeNotifier = field(default_factory=FakeNotifier)
    bake_timer: FakeBakeTimer = field(default_factory=FakeBakeTimer)
    clock: FakeClock = field(default_factory=FakeClock)
    telemetry: CountingTelemetry = field(default_factory=CountingTelemetry)
    codedeploy: FakeCodeDeploy = field(default_factory=FakeCodeDeploy)

    def deps(self, **setting_overrides: Any) -> Dependencies:
        return Dependencies(
            settings=settings(**setting_overrides),
            ledger=self.ledger,
            ecs=self.ecs,
            registry=self.registry,
            alarms=self.alarms,
            notifier=self.notifier,
            bake_timer=self.bake_timer,
            clock=self.clock,
            telemetry=self.telemetry,
            codedeploy=self.codedeploy,
        )

    def publish_outbox(self) -> list[OutboxEntry]:
        """What the notifier does with the stream: publish every unsent outbox entry."""
        deps = self.deps()
        for entry in self.ledger.unsent():
            outbox.deliver(deps, entry)
        return self.notifier.published

    def subjects(self) -> Sequence[str]:
        return [entry.subject for entry in self.publish_outbox()]
