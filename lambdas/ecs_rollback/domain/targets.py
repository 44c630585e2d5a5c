"""What a manual request may name as its target, parsed without I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ecs_rollback.domain.errors import InvalidRequest
from ecs_rollback.domain.model import TASK_DEFINITION_ARN, RevisionId

LAST_GOOD = "last-good"
# ASCII digits only: "web:\uff11" (a full-width 1) is not revision 1.
FAMILY_REVISION = re.compile(r"^(?P<family>[A-Za-z0-9_-]{1,255}):(?P<revision>[0-9]{1,10})$", re.ASCII)
GIT_SHA_PREFIX = re.compile(r"^[0-9a-fA-F]{7,40}$", re.ASCII)


@dataclass(frozen=True)
class LastGood:
    def __str__(self) -> str:
        return LAST_GOOD


@dataclass(frozen=True)
class RevisionTarget:
    revision: RevisionId
    account: str | None = None  # given when the target was an ARN
    region: str | None = None

    def __str__(self) -> str:
        return str(self.revision)


@dataclass(frozen=True)
class GitShaTarget:
    prefix: str

    def __str__(self) -> str:
        return self.prefix


TargetSpec = LastGood | RevisionTarget | GitShaTarget


def parse_target(text: str) -> TargetSpec:
    """``last-good``, ``family:revision``, a task definition ARN, or a git SHA (7+ hex characters)."""
    value = text.strip()
    if value == LAST_GOOD:
        return LastGood()
    if match := FAMILY_REVISION.match(value):
        return RevisionTarget(RevisionId(match["family"], int(match["revision"])))
    if match := TASK_DEFINITION_ARN.match(value):
        return RevisionTarget(RevisionId.from_arn(value), account=match["account"], region=match["region"])
    if GIT_SHA_PREFIX.match(value):
        return GitShaTarget(value.lower())
    raise InvalidRequest(
        "invalid_target",
        f"target {text[:80]!r} is not understood; use 'last-good', 'family:revision' (web:42), "
        "a task definition ARN, or a git SHA of at least 7 hex characters",
    )
