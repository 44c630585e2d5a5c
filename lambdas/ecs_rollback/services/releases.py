"""Releases on the service side: finding the release a deployment runs, and making a release GOOD.

Making a release GOOD is where restoring exactly what was good is prepared, so that a rollback
later registers nothing and asks ECR nothing:

- when any of its images is named by a mutable tag, one copy of its revision is registered with
  every image pinned to the digest that ran (``repo@sha256:...``), tagged with where it came from,
  and recorded as the release's rollback revision;
- whether its digests still exist in ECR is checked and recorded (``images_missing``); ECR's own
  image DELETE events keep it current afterwards.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ecs_rollback.domain import lifecycle
from ecs_rollback.domain.gitsha import COMMIT_MESSAGE_TAG, GIT_SHA_TAG, tag_safe
from ecs_rollback.domain.model import ContainerImage, Deployment, ImageReference, Release, RevisionId
from ecs_rollback.domain.pinning import RELEASE_ID_TAG, SOURCE_REVISION_TAG, plan
from ecs_rollback.observability import logger
from ecs_rollback.ports import EcsGateway, ImageRegistry, Ledger


def release_of(ledger: Ledger, deployment: Deployment, now: datetime) -> Release:
    """The ledger's record of the release ``deployment`` runs, or a new one."""
    known = ledger.get_release(deployment.service, deployment.release)
    return known if known is not None else lifecycle.new_release(deployment, now)


def prepared_for_rollback(
    ecs: EcsGateway, registry: ImageRegistry, release: Release, deployment: Deployment
) -> Release:
    """The release with its rollback revision registered (if a tag must be pinned) and its images checked."""
    definition = release.task_definition or deployment.task_definition
    prepared = release if release.task_definition else replace(release, task_definition=definition)
    if prepared.is_pinned_copy_needed and definition is not None:
        pin = plan(dict(definition), prepared.images or deployment.images, must_register=False)
        if pin.registration is not None and not pin.unpinned:
            copy_arn = ecs.register_task_definition(pin.registration, copy_tags(prepared))
            logger.info(
                "registered the pinned rollback revision of a GOOD release",
                extra={"release_id": prepared.release_id, "copy": copy_arn},
            )
            prepared = replace(prepared, rollback_task_definition_arn=copy_arn).with_revision(copy_arn)
    images = prepared.images or deployment.images
    return replace(prepared, images=images, images_missing=missing_images(registry, images))


def missing_images(registry: ImageRegistry, images: tuple[ContainerImage, ...]) -> tuple[str, ...]:
    """``repository@digest`` of every recorded ECR digest the registry no longer has."""
    missing = []
    for image in images:
        reference = ImageReference.parse(image.image)
        digest = reference.digest or image.digest
        if digest and reference.ecr and registry.digest_exists(reference, digest) is False:
            missing.append(reference.pinned(digest))
    return tuple(missing)


def copy_tags(release: Release) -> dict[str, str]:
    tags = {
        SOURCE_REVISION_TAG: str(RevisionId.from_arn(release.source_task_definition_arn)),
        RELEASE_ID_TAG: release.release_id,
    }
    if release.git_sha:
        tags[GIT_SHA_TAG] = release.git_sha
    if release.commit_message:
        message = tag_safe(release.commit_message)
        if message:
            tags[COMMIT_MESSAGE_TAG] = message
    return tags
