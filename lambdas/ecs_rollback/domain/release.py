"""Releases: what a revision actually runs, and the GOOD/BAD verdict that belongs to it.

A release is a task definition with every image resolved to the digest that ran, ignoring what
does not change behaviour: the revision number, the ARN, the registration time and registrar,
the status and the tags. ``web:1`` naming ``repo:latest`` (which resolved to ``sha256:aaa``) and
``web:3``, the copy pinned to ``repo@sha256:aaa``, are one release.

When a container's digest is not known yet (its tasks are still pending, or the image lives in a
registry nobody can ask), the revision cannot be fingerprinted: a tag such as ``latest`` says
nothing about what ran. Until the digests are captured such a revision is its own, *provisional*
release, ``rev:<family>:<revision>``: it equals no other revision. When the digests arrive (at
COMPLETED) the deployment is re-identified with its final release id.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ecs_rollback.domain.model import (
    PROVISIONAL_RELEASE_PREFIX,
    ContainerImage,
    ImageReference,
    provisional_release_id,
)
from ecs_rollback.domain.pinning import DESCRIBE_ONLY

FINAL_PREFIX = "rel-"

# What DescribeTaskDefinition returns but does not change what runs: what it returns but
# RegisterTaskDefinition does not accept, and the tags.
_NOT_BEHAVIOUR = DESCRIBE_ONLY | {"tags"}


def is_provisional(release_id: str) -> bool:
    return release_id.startswith(PROVISIONAL_RELEASE_PREFIX)


def release_id_of(
    definition: Mapping[str, Any], images: Sequence[ContainerImage], task_definition_arn: str
) -> str:
    """The release a described task definition runs, given the digests recorded for its containers."""
    canonical = canonical_definition(definition, images)
    if canonical is None:
        return provisional_release_id(task_definition_arn)
    encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return FINAL_PREFIX + hashlib.sha256(encoded.encode()).hexdigest()[:40]


def canonical_definition(
    definition: Mapping[str, Any], images: Sequence[ContainerImage]
) -> dict[str, Any] | None:
    """The definition as the fingerprint sees it: images by digest, containers by name; None when a
    digest is unknown."""
    digests = {image.container: image.digest for image in images if image.digest}
    canonical = {key: copy.deepcopy(value) for key, value in definition.items() if key not in _NOT_BEHAVIOUR}
    containers = []
    for container in canonical.get("containerDefinitions", []):
        reference = ImageReference.parse(str(container.get("image", "")))
        digest = reference.digest or digests.get(str(container.get("name", "")))
        if digest is None:
            return None
        containers.append({**container, "image": reference.pinned(digest)})
    canonical["containerDefinitions"] = sorted(
        containers, key=lambda container: str(container.get("name", ""))
    )
    return canonical
