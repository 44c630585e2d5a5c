"""Where a revision's git commit comes from, in order of trust."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ecs_rollback.domain.model import ImageReference

GIT_SHA_TAG = "ecs-rollback:git-sha"
COMMIT_MESSAGE_TAG = "ecs-rollback:commit-message"
# Set (to "true") by `ecs-rollback deploy --force` on a revision of a release recorded BAD: a person
# chose to deploy it, so it is not rolled back as a known-bad release.
ALLOW_BAD_RELEASE_TAG = "ecs-rollback:allow-bad-release"
OCI_REVISION_LABEL = "org.opencontainers.image.revision"


def allows_bad_release(task_definition_tags: Mapping[str, str]) -> bool:
    """True when a person tagged the revision to deploy it although its release is recorded BAD."""
    return task_definition_tags.get(ALLOW_BAD_RELEASE_TAG, "").lower() == "true"


_FULL_HEX = re.compile(r"^[0-9a-f]{7,40}$")
# Immutable tag conventions: "3f2c1ab", "sha-3f2c1ab", "git-3f2c1ab", "v1.4.2-3f2c1ab", "main-3f2c1ab..."
_TAG = re.compile(r"^(?:.*[-_.])?(?:sha|git|g)?-?(?P<sha>[0-9a-f]{7,40})$")


def sha_from_tag(tag: str | None) -> str | None:
    if not tag:
        return None
    lowered = tag.lower()
    if _FULL_HEX.match(lowered):
        # A purely numeric tag ("20240101") is a date or build number, not a commit.
        return None if lowered.isdigit() else lowered
    match = _TAG.match(lowered)
    if match and not match["sha"].isdigit():
        return match["sha"]
    return None


def git_sha_of(
    task_definition_tags: Mapping[str, str],
    containers: Iterable[Mapping[str, Any]],
) -> tuple[str | None, str | None]:
    """(git SHA, commit message) from the task definition's tags, the OCI label, or an image tag."""
    message = task_definition_tags.get(COMMIT_MESSAGE_TAG) or None
    tagged = task_definition_tags.get(GIT_SHA_TAG, "").lower()
    if _FULL_HEX.match(tagged):
        return tagged, message
    containers = list(containers)
    for container in containers:
        label = str((container.get("dockerLabels") or {}).get(OCI_REVISION_LABEL, "")).lower()
        if _FULL_HEX.match(label):
            return label, message
    for container in containers:
        sha = sha_from_tag(ImageReference.parse(str(container.get("image", ""))).tag)
        if sha:
            return sha, message
    return None, message


def tag_safe(text: str, limit: int = 256) -> str:
    """ECS tag values allow letters, digits, spaces and ``_ . : / = + - @`` only."""
    cleaned = re.sub(r"[^\w .:/=+\-@]", " ", text.splitlines()[0] if text else "")
    return re.sub(r"\s+", " ", cleaned).strip()[:limit]
