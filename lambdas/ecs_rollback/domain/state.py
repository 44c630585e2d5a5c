"""The service state: everything a rollback decision reads, in one item of at most a few KB.

It holds what a decision needs and nothing that grows with history: what runs now, the newest
GOOD releases (the rollback targets), the one rollback in flight, the loop guard and the halt.
The full records (deployments, releases, decisions) live beside it in the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from ecs_rollback.domain.model import Deployment, ReleaseRef, ServiceId

# The GOOD releases kept on the state item, newest first. Older ones stay queryable in the ledger
# (``good_truncated`` says some were dropped), so a rollback past them costs one more read.
GOOD_LIST_LIMIT = 5


class Step:
    """How far a rollback in flight got: each step is recorded before the next is taken."""

    LOCKED = "locked"  # decided and locked; UpdateService not yet known to have been carried out
    REGISTERED = "registered"  # its revision was registered again (it had been deregistered)
    UPDATED = "updated"  # ECS accepted UpdateService; the lock waits for the rollback's deployment


@dataclass(frozen=True)
class InFlight:
    """The one rollback allowed in flight on a service: the lock, with an expiry.

    ``expires_at`` bounds the whole rollback (until its deployment ends). The run carrying out a
    step holds a lease (``lease_expires_at``, the function timeout and a margin): while it is
    held a duplicate delivery leaves the work to that run; once it has lapsed (the run failed or
    died) a redelivery or the reconciler takes the rollback over and finishes the step.
    """

    rollback_id: str
    record_key: str
    target_task_definition_arn: str  # what UpdateService deploys (a pinned copy, or the revision itself)
    source_task_definition_arn: str  # the GOOD revision being restored
    from_task_definition_arn: str | None
    started_at: datetime
    expires_at: datetime
    automatic: bool
    target_release_id: str | None = None
    from_release_id: str | None = None
    step: str = Step.LOCKED
    lease_expires_at: datetime | None = None
    # COMPLETED / FAILED: the rollback's deployment ended before its run recorded UpdateService
    # (the run died after ECS accepted it); the run that resumes it finishes the rollback.
    ended: str | None = None

    def active(self, now: datetime) -> bool:
        return now < self.expires_at

    @property
    def unfinished(self) -> bool:
        """UpdateService is not yet known to have been carried out."""
        return self.step != Step.UPDATED

    def leased(self, now: datetime) -> bool:
        """A live run is carrying out the current step."""
        return self.lease_expires_at is not None and now < self.lease_expires_at


@dataclass(frozen=True)
class Halt:
    """Automatic rollbacks stopped for a service until a person acts."""

    reason: str
    at: datetime
    rollback_id: str | None = None


@dataclass(frozen=True)
class ServiceState:
    """Everything a decision needs about one service, in one item."""

    service: ServiceId
    version: int = 0
    current: Deployment | None = None
    good: tuple[ReleaseRef, ...] = ()
    good_truncated: bool = False
    families: tuple[str, ...] = ()  # task definition families this service has run
    in_flight: InFlight | None = None
    automatic_rollbacks: tuple[datetime, ...] = ()
    halted: Halt | None = None
    last_alarm_at: datetime | None = None
    updated_at: datetime | None = None

    def newest_good_except(self, release_id: str | None) -> ReleaseRef | None:
        """The newest GOOD release other than ``release_id`` (another revision of the same release,
        such as its pinned copy, is the same release and never a target)."""
        return next((candidate for candidate in self.good if candidate.release_id != release_id), None)

    def rollbacks_since(self, since: datetime) -> int:
        return sum(1 for at in self.automatic_rollbacks if at > since)

    def with_good(self, release: ReleaseRef) -> ServiceState:
        """Put a GOOD release in the target list (one entry per release, newest deployed first)."""
        others = tuple(entry for entry in self.good if entry.release_id != release.release_id)
        ordered = sorted((release, *others), key=_newest_first, reverse=True)
        return replace(
            self,
            good=tuple(ordered[:GOOD_LIST_LIMIT]),
            good_truncated=self.good_truncated or len(ordered) > GOOD_LIST_LIMIT,
        )

    def without_release(self, release_id: str) -> ServiceState:
        """Drop a release that turned out BAD from the targets."""
        return replace(self, good=tuple(entry for entry in self.good if entry.release_id != release_id))

    def with_family(self, family: str) -> ServiceState:
        return self if family in self.families else replace(self, families=(*self.families, family))

    def prune_rollbacks(self, now: datetime, window: timedelta) -> ServiceState:
        return replace(
            self, automatic_rollbacks=tuple(at for at in self.automatic_rollbacks if at > now - window)
        )


def _newest_first(entry: ReleaseRef) -> datetime:
    return entry.deployed_at or entry.good_at or datetime.min.replace(tzinfo=UTC)
