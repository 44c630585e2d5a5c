"""The ledger's domain objects: plain frozen dataclasses, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

SERVICE_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):ecs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"service/(?P<cluster>[A-Za-z0-9_-]{1,255})/(?P<service>[A-Za-z0-9_-]{1,255})$"
)
TASK_DEFINITION_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):ecs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"task-definition/(?P<family>[A-Za-z0-9_-]{1,255}):(?P<revision>\d{1,10})$"
)


class Status(StrEnum):
    """Lifecycle of one deployed revision: IN_PROGRESS -> COMPLETED -> GOOD, or FAILED, or ROLLED_BACK."""

    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    GOOD = "GOOD"
    FAILED = "FAILED"
    ROLLED_BACK = "ROLLED_BACK"

    @property
    def is_bad(self) -> bool:
        return self in (Status.FAILED, Status.ROLLED_BACK)


class Origin(StrEnum):
    """What put a revision on the service."""

    DEPLOY = "deploy"
    AUTOMATIC_ROLLBACK = "automatic_rollback"
    MANUAL_ROLLBACK = "manual_rollback"
    ECS_ROLLBACK = "ecs_rollback"
    ADOPTED = "adopted"


class TriggerKind(StrEnum):
    ALARM = "alarm"
    DEPLOYMENT_FAILED = "deployment_failed"
    MANUAL = "manual"


class Outcome(StrEnum):
    ROLLED_BACK = "ROLLED_BACK"
    DRY_RUN = "DRY_RUN"
    SKIPPED = "SKIPPED"
    REFUSED = "REFUSED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class ServiceId:
    """One ECS service, always identified by its full ARN in the ledger."""

    partition: str
    region: str
    account: str
    cluster: str
    name: str

    @property
    def arn(self) -> str:
        return f"arn:{self.partition}:ecs:{self.region}:{self.account}:service/{self.cluster}/{self.name}"

    @classmethod
    def from_arn(cls, arn: str) -> ServiceId:
        match = SERVICE_ARN.match(arn)
        if match is None:
            raise ValueError(
                f"{arn!r} is not an ECS service ARN (arn:aws:ecs:<region>:<account>:service/<cluster>/<service>)"
            )
        return cls(match["partition"], match["region"], match["account"], match["cluster"], match["service"])

    def __str__(self) -> str:
        return f"{self.cluster}/{self.name}"


@dataclass(frozen=True)
class RevisionId:
    family: str
    revision: int

    @classmethod
    def from_arn(cls, arn: str) -> RevisionId:
        match = TASK_DEFINITION_ARN.match(arn)
        if match is None:
            raise ValueError(f"{arn!r} is not a task definition ARN")
        return cls(match["family"], int(match["revision"]))

    def __str__(self) -> str:
        return f"{self.family}:{self.revision}"


@dataclass(frozen=True)
class ImageReference:
    """An image reference split into repository, tag and digest (``repo:tag@sha256:...``)."""

    repository: str
    tag: str | None
    digest: str | None

    @classmethod
    def parse(cls, reference: str) -> ImageReference:
        rest, _, digest = reference.partition("@")
        slash = rest.rfind("/")
        colon = rest.rfind(":")
        if colon > slash:
            repository, tag = rest[:colon], rest[colon + 1 :]
        else:
            repository, tag = rest, None
        return cls(repository, tag or None, digest or None)

    @property
    def is_pinned(self) -> bool:
        return self.digest is not None

    @property
    def ecr(self) -> tuple[str, str, str] | None:
        """(registry account, region, repository name) when the image lives in ECR."""
        match = re.match(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(.+)$", self.repository)
        return (match[1], match[2], match[3]) if match else None

    def pinned(self, digest: str) -> str:
        return f"{self.repository}@{digest}"

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


@dataclass(frozen=True)
class ContainerImage:
    """One container's image as the task definition names it, and the digest that ran."""

    container: str
    image: str
    digest: str | None = None
    digest_source: str | None = None  # "reference", "ecs-task" or "ecr"

    @property
    def reference(self) -> ImageReference:
        return ImageReference.parse(self.image)

    @property
    def tag(self) -> str | None:
        return self.reference.tag


@dataclass(frozen=True)
class StatusChange:
    status: Status
    at: datetime
    reason: str | None = None


@dataclass(frozen=True)
class Deployment:
    """One ECS deployment of one task definition revision on one service."""

    service: ServiceId
    deployment_id: str
    task_definition_arn: str
    status: Status
    started_at: datetime
    updated_at: datetime
    images: tuple[ContainerImage, ...] = ()
    git_sha: str | None = None
    commit_message: str | None = None
    history: tuple[StatusChange, ...] = ()
    origin: Origin = Origin.DEPLOY
    actor: str = "ecs"
    rollback_id: str | None = None
    source_task_definition_arn: str | None = None
    task_definition: dict[str, object] | None = field(default=None, compare=False, repr=False)
    adopted: bool = False
    reason: str | None = None
    completed_at: datetime | None = None
    good_at: datetime | None = None

    @property
    def revision(self) -> RevisionId:
        return RevisionId.from_arn(self.task_definition_arn)

    @property
    def digests_complete(self) -> bool:
        return all(image.digest for image in self.images)

    @property
    def deployed_at(self) -> datetime:
        """When the revision went live: completion when known, else the start."""
        return self.completed_at or self.started_at

    def with_status(self, status: Status, at: datetime, reason: str | None = None) -> Deployment:
        if status == self.status:
            return self
        return replace(
            self,
            status=status,
            updated_at=at,
            history=(*self.history, StatusChange(status, at, reason)),
            completed_at=at
            if status == Status.COMPLETED and self.completed_at is None
            else self.completed_at,
            good_at=at if status == Status.GOOD else self.good_at,
        )

    def summary(self) -> Deployment:
        """The copy kept on the service state item: everything but the full task definition."""
        return replace(self, task_definition=None, history=())

    def describe(self) -> str:
        sha = f" ({self.git_sha[:12]})" if self.git_sha else ""
        return f"{self.revision}{sha}"


@dataclass(frozen=True)
class InFlight:
    """The one rollback allowed in flight on a service: the lock, with an expiry."""

    rollback_id: str
    record_key: str
    target_task_definition_arn: str  # what UpdateService deploys (a pinned copy, or the revision itself)
    source_task_definition_arn: str  # the GOOD revision being restored
    from_task_definition_arn: str | None
    started_at: datetime
    expires_at: datetime
    automatic: bool

    def active(self, now: datetime) -> bool:
        return now < self.expires_at


@dataclass(frozen=True)
class Halt:
    """Automatic rollbacks stopped for a service until a person acts."""

    reason: str
    at: datetime
    rollback_id: str | None = None


GOOD_LIST_LIMIT = 25


def same_revision(a: Deployment | str | None, b: Deployment | str | None) -> bool:
    """True when both run the same revision: equal, or one is a pinned copy restoring the other."""
    return bool(_identities(a) & _identities(b))


def _identities(revision: Deployment | str | None) -> set[str]:
    """The task definitions a revision stands for: itself, and the revision it restores if a copy."""
    if revision is None:
        return set()
    if isinstance(revision, str):
        return {revision}
    return {revision.task_definition_arn} | (
        {revision.source_task_definition_arn} if revision.source_task_definition_arn else set()
    )


@dataclass(frozen=True)
class ServiceState:
    """Everything a decision needs about one service, in one item."""

    service: ServiceId
    version: int = 0
    current: Deployment | None = None
    good: tuple[Deployment, ...] = ()
    in_flight: InFlight | None = None
    automatic_rollbacks: tuple[datetime, ...] = ()
    halted: Halt | None = None
    alarms: tuple[str, ...] = ()
    last_alarm_at: datetime | None = None
    updated_at: datetime | None = None

    def newest_good_except(self, current: Deployment | str | None) -> Deployment | None:
        """The newest GOOD revision that does not run the same images as ``current``.

        A pinned copy registered by a rollback restores its source revision: the two are one
        revision for this purpose, so rolling back from the copy never lands on its source.
        """
        excluded = _identities(current)
        for candidate in self.good:
            if not _identities(candidate) & excluded:
                return candidate
        return None

    def rollbacks_since(self, since: datetime) -> int:
        return sum(1 for at in self.automatic_rollbacks if at > since)

    def with_good(self, deployment: Deployment) -> ServiceState:
        """Put a GOOD deployment first in the good list (one entry per task definition)."""
        others = tuple(d for d in self.good if d.task_definition_arn != deployment.task_definition_arn)
        ordered = sorted((deployment.summary(), *others), key=lambda d: d.started_at, reverse=True)
        return replace(self, good=tuple(ordered[:GOOD_LIST_LIMIT]))

    def without_good(self, bad: Deployment | str) -> ServiceState:
        """Drop a revision that turned out BAD, and any copy of the same images, from the targets."""
        excluded = _identities(bad)
        return replace(self, good=tuple(d for d in self.good if not _identities(d) & excluded))

    def prune_rollbacks(self, now: datetime, window: timedelta = timedelta(hours=1)) -> ServiceState:
        return replace(
            self, automatic_rollbacks=tuple(at for at in self.automatic_rollbacks if at > now - window)
        )


@dataclass(frozen=True)
class RollbackRecord:
    """One decision on one trigger: rolled back, dry-run, skipped, refused or failed."""

    rollback_id: str
    service: ServiceId
    trigger: TriggerKind
    trigger_id: str
    triggered_at: datetime
    created_at: datetime
    outcome: Outcome
    code: str
    message: str
    requested_by: str
    reason: str
    source: str = ""
    from_deployment: Deployment | None = None
    to_deployment: Deployment | None = None
    deployed_task_definition_arn: str | None = None
    pinned_images: tuple[ContainerImage, ...] = ()
    dry_run: bool = False
    update_service_at: datetime | None = None
    result: str | None = None  # COMPLETED / FAILED once the rollback's own deployment ends
    result_at: datetime | None = None

    @property
    def record_key(self) -> str:
        return rollback_sort_key(self.created_at, self.rollback_id)


def rollback_sort_key(created_at: datetime, rollback_id: str) -> str:
    return f"RB#{iso(created_at)}#{rollback_id}"


def iso(moment: datetime) -> str:
    """Fixed-width UTC timestamps, so string order is time order in sort keys."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
