"""Restoring exactly what was good: a copy of the target revision with every image pinned to the
digest that ran, computed without I/O.

A revision that names ``repo:latest`` does not bring back old code when redeployed: ECS resolves
the tag again. The copy names ``repo@sha256:<recorded digest>`` instead.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ecs_rollback.domain.model import ContainerImage, ImageReference

# What DescribeTaskDefinition returns but RegisterTaskDefinition does not accept.
DESCRIBE_ONLY = frozenset(
    {
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "deregisteredAt",
    }
)

SOURCE_REVISION_TAG = "ecs-rollback:source-revision"
RELEASE_ID_TAG = "ecs-rollback:release-id"
ROLLBACK_ID_TAG = "ecs-rollback:rollback-id"


@dataclass(frozen=True)
class PinPlan:
    """What the rollback will deploy."""

    images: tuple[ContainerImage, ...]  # the images as deployed (pinned where possible)
    registration: dict[str, Any] | None  # RegisterTaskDefinition input, None when the target is used as is
    unpinned: tuple[str, ...]  # containers left on a tag because no digest was ever recorded

    @property
    def needs_registration(self) -> bool:
        return self.registration is not None

    def ecr_checks(self) -> list[tuple[ImageReference, str]]:
        """(image, digest) pairs to confirm in ECR before deploying."""
        checks = []
        for image in self.images:
            reference = image.reference
            if reference.ecr and reference.digest:
                checks.append((reference, reference.digest))
        return checks


def registration_input(definition: dict[str, Any]) -> dict[str, Any]:
    """A described task definition turned back into RegisterTaskDefinition input."""
    return {key: copy.deepcopy(value) for key, value in definition.items() if key not in DESCRIBE_ONLY}


def plan(
    definition: dict[str, Any],
    recorded: tuple[ContainerImage, ...],
    *,
    must_register: bool,
) -> PinPlan:
    """Pin every tagged image to its recorded digest.

    ``must_register`` is set when the target revision is INACTIVE or gone, so a copy is registered
    even if nothing needed pinning.
    """
    digests = {image.container: image.digest for image in recorded if image.digest}
    containers = copy.deepcopy(definition.get("containerDefinitions", []))
    deployed: list[ContainerImage] = []
    unpinned: list[str] = []
    changed = False
    for container in containers:
        name = str(container.get("name", ""))
        reference = ImageReference.parse(str(container.get("image", "")))
        if reference.is_pinned:
            deployed.append(ContainerImage(name, str(reference), reference.digest, "reference"))
            continue
        digest = digests.get(name)
        if digest is None:
            unpinned.append(name)
            deployed.append(ContainerImage(name, str(reference), None, None))
            continue
        container["image"] = reference.pinned(digest)
        changed = True
        deployed.append(ContainerImage(name, container["image"], digest, "recorded"))
    registration = None
    if changed or must_register:
        registration = registration_input(definition)
        registration["containerDefinitions"] = containers
    return PinPlan(tuple(deployed), registration, tuple(unpinned))
