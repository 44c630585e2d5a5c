"""The ledger's domain objects: plain frozen dataclasses, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum

SERVICE_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):ecs:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"service/(?P<cluster>[A-Za-z0-9_-]{1,255})/(?P<service>[A-Za-z0-9_-]{1,255})$",
    re.ASCII,
)
TASK_DEFINITION_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):ecs:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"task-definition/(?P<family>[A-Za-z0-9_-]{1,255}):(?P<revision>[0-9]{1,10})$",
    re.ASCII,
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
    KNOWN_BAD_RELEASE = "known_bad_release"  # ECS started deploying a release recorded BAD
    MANUAL = "manual"


class Verdict(StrEnum):
    """What the ledger concluded about a release on a service."""

    GOOD = "GOOD"  # baked with no alarm, or adopted as the baseline
    BAD = "BAD"  # its deployment failed, or it was rolled back


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


DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
PROVISIONAL_RELEASE_PREFIX = "rev:"
COMMIT_SUBJECT_LIMIT = 72


def commit_subject(message: str | None) -> str | None:
    """A commit message's first line, at most ``COMMIT_SUBJECT_LIMIT`` characters."""
    if not message:
        return None
    lines = message.strip().splitlines()
    return lines[0][:COMMIT_SUBJECT_LIMIT] if lines else None


def provisional_release_id(task_definition_arn: str) -> str:
    """The release of a revision whose digests are not all known: the revision itself."""
    revision = RevisionId.from_arn(task_definition_arn)
    return f"{PROVISIONAL_RELEASE_PREFIX}{revision.family}:{revision.revision}"


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
        match = re.match(
            r"^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(.+)$", self.repository
        )
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
    digest_source: str | None = None  # "reference", "ecs-revision", "ecs-task", "ecr" or "recorded"

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
    release_id: str | None = None  # None: read from a version-1 item, the revision is its own release
    allow_bad_release: bool = False  # a person deployed it knowing its release is recorded BAD
    # How ECS deploys it (DescribeServices when it was recorded): the deployment controller (ECS,
    # CODE_DEPLOY, EXTERNAL), the strategy (ROLLING, BLUE_GREEN, LINEAR, CANARY), and ECS's own
    # service deployment of it, which ``StopServiceDeployment`` rolls back to ``ecs_rollback_to``
    # (the revision that ran before, of release ``ecs_rollback_release``).
    controller: str | None = None
    strategy: str | None = None
    service_deployment_arn: str | None = None
    ecs_rollback_to: str | None = None
    ecs_rollback_release: str | None = None
    ecs_bake_time_minutes: int | None = None  # ECS's own bake (bakeTimeInMinutes) after the shift

    @property
    def revision(self) -> RevisionId:
        return RevisionId.from_arn(self.task_definition_arn)

    @property
    def release(self) -> str:
        """The release this deployment runs (see ``domain.release``)."""
        return self.release_id or provisional_release_id(self.task_definition_arn)

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
        """The copy kept on a decision record: everything but the full task definition and history."""
        return replace(self, task_definition=None, history=())

    def compact(self) -> Deployment:
        """What the service state keeps of what runs now: what a decision reads, nothing that grows
        (images, commit message and history stay in the deployment record)."""
        return replace(
            self,
            images=(),
            commit_message=None,
            history=(),
            actor="ecs",
            reason=None,
            task_definition=None,
            updated_at=self.started_at,
            allow_bad_release=False,
            release_id=self.release,
        )

    def describe(self) -> str:
        return described(self.revision, self.git_sha)


@dataclass(frozen=True)
class ReleaseRef:
    """A release as a rollback target: the revision it is known by, what to deploy, and its verdict.

    The service state keeps the GOOD ones (newest first); the ledger keeps one per revision, so a
    manual ``family:revision`` target is one key away.
    """

    release_id: str
    task_definition_arn: str  # the revision it is known by (``web:1``)
    deploy_task_definition_arn: str  # what UpdateService deploys: a pinned copy, or the revision itself
    verdict: Verdict | None = None
    deployment_id: str | None = None  # the newest deployment of it on this service
    deployed_at: datetime | None = None
    good_at: datetime | None = None
    git_sha: str | None = None
    commit_subject: str | None = None  # the commit message's first line, bounded (the record has it whole)
    images_missing: tuple[str, ...] = ()  # repository@digest that ECR no longer has
    digests_recorded: bool = True  # False: some image was never resolved; it deploys by its tag

    @property
    def revision(self) -> RevisionId:
        return RevisionId.from_arn(self.task_definition_arn)

    def describe(self) -> str:
        return described(self.revision, self.git_sha)


@dataclass(frozen=True)
class Release:
    """Everything the ledger knows about one release on one service (the ``REL#`` item)."""

    release_id: str
    service: ServiceId
    source_task_definition_arn: str  # the revision it was first seen as
    rollback_task_definition_arn: str  # what a rollback to it deploys
    first_seen_at: datetime
    last_deployed_at: datetime
    revisions: tuple[str, ...] = ()  # every task definition ARN seen running it
    images: tuple[ContainerImage, ...] = ()
    verdict: Verdict | None = None
    verdict_at: datetime | None = None
    verdict_reason: str | None = None
    good_at: datetime | None = None
    bad_at: datetime | None = None
    last_deployment_id: str | None = None
    images_missing: tuple[str, ...] = ()
    git_sha: str | None = None
    commit_message: str | None = None
    adopted: bool = False
    task_definition: dict[str, object] | None = field(default=None, compare=False, repr=False)

    @property
    def is_bad(self) -> bool:
        return self.verdict == Verdict.BAD

    @property
    def is_good(self) -> bool:
        return self.verdict == Verdict.GOOD

    @property
    def is_pinned_copy_needed(self) -> bool:
        """A rollback must not re-resolve a tag: true while it would deploy a revision naming one."""
        return self.rollback_task_definition_arn == self.source_task_definition_arn and any(
            not image.reference.is_pinned for image in self.images
        )

    def with_revision(self, task_definition_arn: str) -> Release:
        if task_definition_arn in self.revisions:
            return self
        return replace(self, revisions=(*self.revisions, task_definition_arn))

    def judged(self, verdict: Verdict, at: datetime, reason: str) -> Release:
        return replace(
            self,
            verdict=verdict,
            verdict_at=at,
            verdict_reason=reason,
            good_at=at if verdict == Verdict.GOOD else self.good_at,
            bad_at=at if verdict == Verdict.BAD else self.bad_at,
        )

    def ref(self, task_definition_arn: str | None = None) -> ReleaseRef:
        """The release as a target, known by ``task_definition_arn`` (default: where it was first seen)."""
        return ReleaseRef(
            release_id=self.release_id,
            task_definition_arn=task_definition_arn or self.source_task_definition_arn,
            deploy_task_definition_arn=self.rollback_task_definition_arn,
            verdict=self.verdict,
            deployment_id=self.last_deployment_id,
            deployed_at=self.last_deployed_at,
            good_at=self.good_at,
            git_sha=self.git_sha,
            commit_subject=commit_subject(self.commit_message),
            images_missing=self.images_missing,
            digests_recorded=all(image.digest for image in self.images),
        )

    def describe(self) -> str:
        return described(RevisionId.from_arn(self.source_task_definition_arn), self.git_sha)


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
    to_release: ReleaseRef | None = None
    deployed_task_definition_arn: str | None = None
    pinned_images: tuple[ContainerImage, ...] = ()  # the target's images as deployed (by digest)
    requested_by_verified: bool = False  # True only when AWS itself supplied the caller's identity
    dry_run: bool = False
    update_service_at: datetime | None = None
    result: str | None = None  # COMPLETED / FAILED once the rollback's own deployment ends
    result_at: datetime | None = None
    # How it is carried out: "update_service" (UpdateService to the target's rollback revision),
    # "stop_service_deployment" (ECS's own rollback of ``service_deployment_arn``) or "codedeploy"
    # (a CODE_DEPLOY-controlled service: CodeDeploy's ``codedeploy_deployment_id``, stopped with
    # rollback or created to deploy the target).
    path: str | None = None
    service_deployment_arn: str | None = None
    codedeploy_deployment_id: str | None = None
    # With "codedeploy": True when the rollback is StopDeployment (with rollback) of that
    # deployment, False when it created it: which of its final states ends the rollback well.
    codedeploy_stopped: bool = False
    # A member's rollback of a group rollback (``{"group": ...}``): the group's name and the id
    # every member's record of that request shares.
    group: str | None = None
    group_rollback_id: str | None = None

    @property
    def record_key(self) -> str:
        return rollback_sort_key(self.created_at, self.rollback_id)


def described(revision: RevisionId, git_sha: str | None) -> str:
    """How messages name a revision: ``web:3 (1a2b3c4d5e6f)``."""
    sha = f" ({git_sha[:12]})" if git_sha else ""
    return f"{revision}{sha}"


def rollback_sort_key(created_at: datetime, rollback_id: str) -> str:
    return f"RB#{iso(created_at)}#{rollback_id}"


def iso(moment: datetime) -> str:
    """Fixed-width UTC timestamps, so string order is time order in sort keys."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
