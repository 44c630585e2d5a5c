"""The ports the application services talk through, and ``Dependencies``, the set of them a
service is handed. Adapters implement the ports with boto3; tests implement them with in-memory
fakes that pass the same contract suite. The composition root builds ``Dependencies``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from ecs_rollback.config import Settings
from ecs_rollback.domain.codedeploy import LoadBalancerTarget
from ecs_rollback.domain.decision import OngoingCodeDeploy
from ecs_rollback.domain.model import (
    Deployment,
    ImageReference,
    Release,
    ReleaseRef,
    RevisionId,
    RollbackRecord,
    ServiceId,
)
from ecs_rollback.domain.notices import NoticeKind
from ecs_rollback.domain.state import ServiceState

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    cursor: str | None = None


@dataclass(frozen=True)
class ImageUse:
    """One container of one deployment that ran a given image digest."""

    digest: str
    service: ServiceId
    deployment_id: str
    task_definition_arn: str
    container: str
    image: str
    started_at: datetime
    git_sha: str | None
    release_id: str | None = None


@dataclass(frozen=True)
class LedgerChange:
    """Everything one step writes, committed atomically.

    ``state`` carries the new version; the write succeeds only if the stored version is still
    ``expected_version`` (0: the service is new), else ``ConcurrentUpdate``; ``None`` writes no
    state. ``new_rollback`` must not exist yet (its id derives from the trigger), else
    ``DuplicateTrigger``. Each release is written with one revision item per revision it runs as.
    ``alarm_seen`` adds an alarm name to the ones linked to the service. ``notifications`` go to
    the outbox (each must not exist yet): published after the commit, never lost with it.
    """

    state: ServiceState | None
    expected_version: int
    deployments: Sequence[Deployment] = ()
    releases: Sequence[Release] = ()
    new_rollback: RollbackRecord | None = None
    rollback_updates: Sequence[RollbackRecord] = ()
    alarm_seen: tuple[ServiceId, str] | None = None
    notifications: Sequence[OutboxEntry] = ()


class Ledger(Protocol):
    def load(self, service: ServiceId) -> ServiceState | None: ...

    def load_with_revision(
        self, service: ServiceId, revision: RevisionId
    ) -> tuple[ServiceState | None, ReleaseRef | None]:
        """The state and what the ledger knows of one revision (its release and verdict), in one read."""
        ...

    def commit(self, change: LedgerChange) -> None: ...

    def get_deployment(self, service: ServiceId, deployment_id: str) -> Deployment | None: ...

    def get_release(self, service: ServiceId, release_id: str) -> Release | None: ...

    def good_releases(self, service: ServiceId, limit: int = 20) -> list[ReleaseRef]:
        """GOOD releases newest first, beyond the few the state item keeps."""
        ...

    def linked_alarms(self, service: ServiceId) -> tuple[str, ...]: ...

    def deployments_of_release(
        self, release_id: str, limit: int = 20, cursor: str | None = None
    ) -> Page[Deployment]: ...

    def get_rollback(self, service: ServiceId, record_key: str) -> RollbackRecord | None: ...

    def find_revision(self, service: ServiceId, revision: RevisionId) -> Deployment | None: ...

    def find_git_sha(self, service: ServiceId, prefix: str) -> list[Deployment]: ...

    def history(self, service: ServiceId, limit: int = 20, cursor: str | None = None) -> Page[Deployment]: ...

    def rollbacks(
        self, service: ServiceId, limit: int = 20, cursor: str | None = None
    ) -> Page[RollbackRecord]: ...

    def deployments_of_git_sha(
        self, git_sha: str, limit: int = 20, cursor: str | None = None
    ) -> Page[Deployment]: ...

    def deployments_of_digest(
        self, digest: str, limit: int = 20, cursor: str | None = None
    ) -> Page[ImageUse]: ...

    def services(self, limit: int = 100, cursor: str | None = None) -> Page[ServiceState]: ...

    # -- the outbox -------------------------------------------------------------------------

    def unsent(self, limit: int = 100) -> list[OutboxEntry]:
        """Outbox entries not yet published (one Query of a sparse index)."""
        ...

    def claim(self, entry: OutboxEntry, now: datetime, until: datetime) -> bool:
        """Take an unsent entry for publishing until ``until``; False when it is sent or claimed."""
        ...

    def mark_sent(self, entry: OutboxEntry, now: datetime) -> None: ...


@dataclass(frozen=True)
class EcsDeployment:
    deployment_id: str
    status: str  # PRIMARY / ACTIVE / INACTIVE
    task_definition_arn: str
    rollout_state: str | None
    created_at: datetime | None


@dataclass(frozen=True)
class ServiceSnapshot:
    service: ServiceId
    task_definition_arn: str
    deployments: tuple[EcsDeployment, ...]
    ecs_rollback_enabled: bool  # circuit breaker or deployment alarms with rollback on
    controller: str = "ECS"  # deploymentController.type: ECS, CODE_DEPLOY or EXTERNAL
    strategy: str = "ROLLING"  # deploymentConfiguration.strategy: ROLLING, BLUE_GREEN, LINEAR, CANARY
    bake_time_minutes: int | None = (
        None  # deploymentConfiguration.bakeTimeInMinutes (blue/green, linear, canary)
    )
    current_service_deployment: str | None = None  # its ARN, where ECS reports one
    current_service_revisions: tuple[str, ...] = ()  # ARNs of the revisions it runs now
    load_balancers: tuple[LoadBalancerTarget, ...] = ()  # loadBalancers: container name and port

    def deployment(self, deployment_id: str) -> EcsDeployment | None:
        return next((d for d in self.deployments if d.deployment_id == deployment_id), None)

    @property
    def primary(self) -> EcsDeployment | None:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)


@dataclass(frozen=True)
class ServiceRevision:
    """A service revision as ``DescribeServiceRevisions`` tells it: the task definition it runs
    and the image digest ECS resolved for each container (where ECS recorded one)."""

    arn: str
    service_arn: str
    task_definition_arn: str
    digests: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PausedDeployment:
    """A service deployment as ``DescribeServiceDeployments`` tells it, for its pause hooks: its
    stage, the revision it deploys, and the ``hookId`` of each PAUSE hook awaiting action."""

    arn: str
    status: str
    lifecycle_stage: str | None
    target_revision_arn: str | None
    awaiting_hooks: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskDefinitionSnapshot:
    arn: str
    status: str  # ACTIVE / INACTIVE / DELETE_IN_PROGRESS
    definition: dict[str, Any]
    tags: Mapping[str, str] = field(default_factory=dict)


class EcsGateway(Protocol):
    def describe_service(self, service: ServiceId) -> ServiceSnapshot | None: ...

    def describe_services(self, services: Sequence[ServiceId]) -> dict[ServiceId, ServiceSnapshot | None]: ...

    def describe_task_definition(self, arn: str) -> TaskDefinitionSnapshot | None: ...

    def running_digests(self, service: ServiceId, task_definition_arn: str) -> dict[str, str]: ...

    def revision_digests(self, revision_arns: Sequence[str], task_definition_arn: str) -> dict[str, str]:
        """Container name -> the digest ECS resolved, from the service revision (of those named)
        that runs ``task_definition_arn``; empty when ECS recorded none."""
        ...

    def register_task_definition(self, definition: Mapping[str, Any], tags: Mapping[str, str]) -> str: ...

    def update_service(self, service: ServiceId, task_definition_arn: str) -> None: ...

    def stop_service_deployment(self, service_deployment_arn: str) -> bool:
        """``StopServiceDeployment`` with ``ROLLBACK``: True when ECS rolls it back (or already
        does), False when the deployment is no longer ongoing (it finished meanwhile)."""
        ...

    def describe_service_revision(self, arn: str) -> ServiceRevision | None:
        """None when ECS does not know the revision."""
        ...

    def service_deployment_status(self, arn: str) -> tuple[str, str] | None:
        """(status, statusReason) of ECS's service deployment ``arn``; None when ECS does not know it."""
        ...

    def describe_pause_hooks(self, service_deployment_arn: str) -> PausedDeployment | None:
        """The service deployment and its pause hooks awaiting action; None when ECS does not know it."""
        ...

    def continue_service_deployment(self, service_deployment_arn: str, hook_id: str, action: str) -> bool:
        """``ContinueServiceDeployment`` (``CONTINUE`` or ``ROLLBACK``) on a pause hook: True when ECS
        took it, False when the hook is no longer awaiting action (answered, timed out, or ended)."""
        ...


class CodeDeployGateway(Protocol):
    """CodeDeploy, for the CODE_DEPLOY-controlled services whose deployment group is configured."""

    def ongoing_deployment(self, application: str, deployment_group: str) -> OngoingCodeDeploy | None:
        """The deployment CodeDeploy is carrying out on the group (``ListDeployments`` InProgress
        or Ready, then ``GetDeployment``): None when there is none."""
        ...

    def stop_deployment(self, deployment_id: str) -> bool:
        """``StopDeployment`` with ``autoRollbackEnabled``: True when CodeDeploy stops it and rolls
        back, False when the deployment is already complete."""
        ...

    def create_deployment(
        self, application: str, deployment_group: str, app_spec: str, description: str
    ) -> str:
        """``CreateDeployment`` of an ECS AppSpec (``AppSpecContent``): the new deployment's id."""
        ...

    def deployment_state(self, deployment_id: str) -> str | None:
        """``GetDeployment``: the final state of a deployment as its EventBridge event names it
        (SUCCESS, FAILURE, STOP), or None while it has not ended."""
        ...


class ImageRegistry(Protocol):
    def resolve_tag(self, image: ImageReference) -> str | None:
        """The digest a tag points at now, or None when unknown (not ECR, no such tag)."""
        ...

    def digest_exists(self, image: ImageReference, digest: str) -> bool | None:
        """True/False for ECR images; None when the registry cannot be asked."""
        ...


@dataclass(frozen=True)
class FiringAlarm:
    """An alarm in ALARM now, as DescribeAlarms tells it: enough to link it to its services."""

    name: str
    arn: str
    reason: str
    changed_at: datetime  # when it went into ALARM
    dimensions: Mapping[str, str] = field(default_factory=dict)


class AlarmGateway(Protocol):
    def tags(self, alarm_arn: str) -> dict[str, str]: ...

    def in_alarm(self, alarm_names: Sequence[str]) -> list[str]: ...

    def firing_alarms(self) -> list[FiringAlarm]: ...


@dataclass(frozen=True)
class Notification:
    """One message a person reads. ``key`` names it uniquely (the decision it tells of, and what
    about it): its outbox entry's key, so a decision is told once."""

    subject: str
    body: Mapping[str, Any]
    kind: NoticeKind
    key: str = ""


@dataclass(frozen=True)
class OutboxEntry:
    """A notification written with the decision it tells of, and not yet published.

    ``message`` is already bounded to what SNS takes; ``attributes`` are the SNS message
    attributes subscribers filter on (outcome, notice, cluster, service)."""

    service: ServiceId
    key: str
    subject: str
    message: str
    attributes: Mapping[str, str]
    created_at: datetime
    claimed_until: datetime | None = None


class Notifier(Protocol):
    def publish(self, entry: OutboxEntry) -> None: ...


class BakeTimer(Protocol):
    def schedule(self, service: ServiceId, deployment_id: str, at: datetime) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class Telemetry(Protocol):
    """Metrics the services emit; ``observability`` implements it with Powertools Metrics."""

    def decision(self, outcome: str, trigger: str) -> None: ...

    def trigger_to_update_service(self, seconds: float) -> None: ...

    def event(self, name: str) -> None: ...


@dataclass(frozen=True)
class AccountPorts:
    """The ports that act in one account and region: its services, its images, its alarms."""

    ecs: EcsGateway
    registry: ImageRegistry
    alarms: AlarmGateway


class MemberAccounts(Protocol):
    def ports_in(self, account: str, region: str) -> AccountPorts:
        """The ports of a member account and region, acting as the role the member provides."""
        ...


@dataclass
class Dependencies:
    """Everything a service talks to, as ports: built by the composition root, or from fakes.

    ``members``: a central installation's way into its member accounts (``services/place.py``
    swaps ``ecs``, ``registry`` and ``alarms`` for a member's); None for a single account.
    """

    settings: Settings
    ledger: Ledger
    ecs: EcsGateway
    registry: ImageRegistry
    alarms: AlarmGateway
    notifier: Notifier
    bake_timer: BakeTimer | None
    clock: Clock
    telemetry: Telemetry
    members: MemberAccounts | None = None
    # CodeDeploy in the home account (the services named in ``codeDeploy``); None: not configured.
    codedeploy: CodeDeployGateway | None = None
