"""Turning what ECS reports into deployment records: task definition, images, digests, commit,
and the release they make."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from ecs_rollback.domain.gitsha import ALLOW_BAD_RELEASE_TAG, git_sha_of
from ecs_rollback.domain.model import (
    ContainerImage,
    Deployment,
    ImageReference,
    Origin,
    ServiceId,
    Status,
    StatusChange,
)
from ecs_rollback.domain.release import release_id_of
from ecs_rollback.ports import EcsDeployment, EcsGateway, ImageRegistry, TaskDefinitionSnapshot


def images_of(
    definition: TaskDefinitionSnapshot,
    running: dict[str, str],
    registry: ImageRegistry | None,
) -> tuple[ContainerImage, ...]:
    """Each container's image and the digest that ran, best source first.

    ``running`` holds digests ECS reported on the service's tasks. ``registry`` (ECR, asked what
    the tag points at now) is only passed while the deployment is starting, when "now" is the
    moment ECS resolved the tag; later the tag may have moved and the answer would be wrong.
    """
    images = []
    for container in definition.definition.get("containerDefinitions", []):
        name = str(container.get("name", ""))
        reference = ImageReference.parse(str(container.get("image", "")))
        if reference.digest:
            images.append(ContainerImage(name, str(reference), reference.digest, "reference"))
        elif name in running:
            images.append(ContainerImage(name, str(reference), running[name], "ecs-task"))
        elif registry is not None and (digest := registry.resolve_tag(reference)):
            images.append(ContainerImage(name, str(reference), digest, "ecr"))
        else:
            images.append(ContainerImage(name, str(reference), None, None))
    return tuple(images)


def capture(
    ecs: EcsGateway,
    registry: ImageRegistry | None,
    service: ServiceId,
    deployment_id: str,
    task_definition_arn: str,
    started_at: datetime,
    now: datetime,
    *,
    status: Status = Status.IN_PROGRESS,
    origin: Origin = Origin.DEPLOY,
    reason: str | None = None,
) -> Deployment | None:
    """A new deployment record, or None when ECS no longer knows the task definition."""
    definition = ecs.describe_task_definition(task_definition_arn)
    if definition is None:
        return None
    running = ecs.running_digests(service, definition.arn)
    git_sha, commit_message = git_sha_of(
        definition.tags, definition.definition.get("containerDefinitions", [])
    )
    images = images_of(definition, running, registry)
    return Deployment(
        service=service,
        deployment_id=deployment_id,
        task_definition_arn=definition.arn,
        status=status,
        started_at=started_at,
        updated_at=now,
        images=images,
        git_sha=git_sha,
        commit_message=commit_message,
        history=(StatusChange(status, now, reason),),
        origin=origin,
        actor="ecs",
        task_definition=definition.definition,
        reason=reason,
        release_id=release_id_of(definition.definition, images, definition.arn),
        allow_bad_release=definition.tags.get(ALLOW_BAD_RELEASE_TAG, "").lower() == "true",
    )


def fill_digests(ecs: EcsGateway, deployment: Deployment) -> Deployment:
    """Digests missing while tasks were pending, taken from the tasks now running."""
    if deployment.digests_complete:
        return deployment
    running = ecs.running_digests(deployment.service, deployment.task_definition_arn)
    if not running:
        return deployment
    images = tuple(
        image
        if image.digest or image.container not in running
        else replace(image, digest=running[image.container], digest_source="ecs-task")
        for image in deployment.images
    )
    release_id = (
        release_id_of(deployment.task_definition, images, deployment.task_definition_arn)
        if deployment.task_definition is not None
        else deployment.release_id
    )
    return replace(deployment, images=images, release_id=release_id)


def baseline(
    ecs: EcsGateway, service: ServiceId, deployment: EcsDeployment, now: datetime, reason: str
) -> Deployment | None:
    """The deployment ``deployment`` as an adopted baseline: COMPLETED, by ECS's own digests only
    (the tag may have moved since ECS resolved it), or None when ECS no longer knows it."""
    return capture(
        ecs,
        None,
        service,
        deployment.deployment_id,
        deployment.task_definition_arn,
        (deployment.created_at or now).astimezone(UTC),
        now,
        status=Status.COMPLETED,
        origin=Origin.ADOPTED,
        reason=reason,
    )
