"""Turning what ECS reports into deployment records: task definition, images, digests, commit,
and the release they make."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from ecs_rollback.domain.gitsha import allows_bad_release, git_sha_of
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
from ecs_rollback.ports import (
    EcsDeployment,
    EcsGateway,
    ImageRegistry,
    ServiceSnapshot,
    TaskDefinitionSnapshot,
)


def images_of(
    definition: TaskDefinitionSnapshot,
    running: Mapping[str, str],
    registry: ImageRegistry | None,
    *,
    source: str = "ecs-task",
) -> tuple[ContainerImage, ...]:
    """Each container's image and the digest that ran, best source first.

    ``running`` holds digests ECS reported (on the service's tasks, or on its service revision).
    ``registry`` (ECR, asked what the tag points at now) is only passed while the deployment is
    starting, when "now" is the moment ECS resolved the tag; later the tag may have moved and the
    answer would be wrong.
    """
    return tuple(
        _from_registry(image, registry) if image.digest is None and registry is not None else image
        for image in known_images(definition, running, source=source)
    )


def known_images(
    definition: TaskDefinitionSnapshot, running: Mapping[str, str], *, source: str = "ecs-task"
) -> tuple[ContainerImage, ...]:
    """Each container's image and the digest its reference pins or ECS reported; no registry is asked."""
    images = []
    for container in definition.definition.get("containerDefinitions", []):
        name = str(container.get("name", ""))
        reference = ImageReference.parse(str(container.get("image", "")))
        if reference.digest:
            images.append(ContainerImage(name, str(reference), reference.digest, "reference"))
        elif name in running:
            images.append(ContainerImage(name, str(reference), running[name], source))
        else:
            images.append(ContainerImage(name, str(reference), None, None))
    return tuple(images)


def _from_registry(image: ContainerImage, registry: ImageRegistry) -> ContainerImage:
    digest = registry.resolve_tag(ImageReference.parse(image.image))
    return replace(image, digest=digest, digest_source="ecr") if digest else image


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
    revisions: Sequence[str] = (),
) -> Deployment | None:
    """A new deployment record, or None when ECS no longer knows the task definition.
    ``revisions``: the service revisions ECS runs now (their digests are ECS's own, known as soon
    as the deployment starts); the tasks are read only when none of them has the digests."""
    definition = ecs.describe_task_definition(task_definition_arn)
    if definition is None:
        return None
    running, source = ecs_digests(ecs, service, definition.arn, revisions)
    git_sha, commit_message = git_sha_of(
        definition.tags, definition.definition.get("containerDefinitions", [])
    )
    images = images_of(definition, running, registry, source=source)
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
        allow_bad_release=allows_bad_release(definition.tags),
    )


def ecs_digests(
    ecs: EcsGateway, service: ServiceId, task_definition_arn: str, revisions: Sequence[str] = ()
) -> tuple[dict[str, str], str]:
    """The digests ECS resolved for ``task_definition_arn`` and where they come from: its service
    revision (``ecs-revision``) where ECS has one, else the service's tasks (``ecs-task``)."""
    from_revision = ecs.revision_digests(revisions, task_definition_arn) if revisions else {}
    if from_revision:
        return from_revision, "ecs-revision"
    return ecs.running_digests(service, task_definition_arn), "ecs-task"


def fill_digests(ecs: EcsGateway, deployment: Deployment, revisions: Sequence[str] = ()) -> Deployment:
    """Digests missing while tasks were pending, taken from ECS now."""
    if deployment.digests_complete:
        return deployment
    running, source = ecs_digests(ecs, deployment.service, deployment.task_definition_arn, revisions)
    if not running:
        return deployment
    images = tuple(
        image
        if image.digest or image.container not in running
        else replace(image, digest=running[image.container], digest_source=source)
        for image in deployment.images
    )
    release_id = (
        release_id_of(deployment.task_definition, images, deployment.task_definition_arn)
        if deployment.task_definition is not None
        else deployment.release_id
    )
    return replace(deployment, images=images, release_id=release_id)


def baseline(
    ecs: EcsGateway,
    service: ServiceId,
    deployment: EcsDeployment,
    now: datetime,
    reason: str,
    revisions: Sequence[str] = (),
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
        revisions=revisions,
    )


def how_ecs_deploys(
    deployment: Deployment, snapshot: ServiceSnapshot, before: Deployment | None
) -> Deployment:
    """What a rollback needs to know of how ECS deploys ``deployment``: controller and strategy,
    ECS's own service deployment of it (while it is the newest), and what ECS's own rollback would
    return to (``before``, what ran before it)."""
    primary = snapshot.primary
    newest = primary is not None and primary.deployment_id == deployment.deployment_id
    return replace(
        deployment,
        controller=snapshot.controller,
        strategy=snapshot.strategy if snapshot.controller == "ECS" else None,
        ecs_bake_time_minutes=snapshot.bake_time_minutes if snapshot.controller == "ECS" else None,
        service_deployment_arn=snapshot.current_service_deployment if newest else None,
        ecs_rollback_to=before.task_definition_arn if before else None,
        ecs_rollback_release=before.release if before else None,
    )
