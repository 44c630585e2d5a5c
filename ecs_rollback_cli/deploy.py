"""Deploying the right way: an immutable git-SHA tag, the commit carried to the ledger, no surprises.

The new revision is a copy of the one the service runs with one container's image replaced.
The commit travels as the task definition tags ``ecs-rollback:git-sha`` and
``ecs-rollback:commit-message``: the deployment-events function reads them when ECS reports the
deployment, so the ledger records the commit without the CLI writing to it.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from rich.text import Text

from ecs_rollback.domain.gitsha import (
    ALLOW_BAD_RELEASE_TAG,
    COMMIT_MESSAGE_TAG,
    GIT_SHA_TAG,
    sha_from_tag,
    tag_safe,
)
from ecs_rollback.domain.model import ContainerImage, ImageReference, Release, iso
from ecs_rollback.domain.pinning import registration_input
from ecs_rollback.domain.release import is_provisional, release_id_of
from ecs_rollback_cli import gitinfo
from ecs_rollback_cli.context import Cli
from ecs_rollback_cli.errors import EXIT_REFUSED, EXIT_USAGE, CliError
from ecs_rollback_cli.follow import Follower, Wait
from ecs_rollback_cli.gitinfo import Commit

_OWN_TAG_PREFIXES = ("aws:", "ecs-rollback:")


def tag_and_commit(cli: Cli, tag: str | None) -> tuple[str, Commit]:
    """The image tag (HEAD's short SHA by default) and the commit it names, when known."""
    if tag:
        return tag, gitinfo.commit_for_tag(cli.runtime.cwd, tag)
    found = gitinfo.head(cli.runtime.cwd)
    if found is None:
        raise CliError(
            "no --tag given and no git commit to take it from (git is missing or this is not a git checkout); "
            "pass --tag with the image's immutable tag",
            EXIT_USAGE,
        )
    short, full = found
    return short, gitinfo.commit_for_tag(cli.runtime.cwd, full) if full else Commit(None, None)


def _container(definition: dict[str, Any], name: str | None) -> dict[str, Any]:
    containers: list[dict[str, Any]] = definition.get("containerDefinitions", [])
    names = [str(c.get("name")) for c in containers]
    if name is not None:
        for container in containers:
            if container.get("name") == name:
                return container
        raise CliError(
            f"the task definition has no container {name!r}; it has {', '.join(names)}", EXIT_USAGE
        )
    if len(containers) != 1:
        raise CliError(
            f"the task definition has containers {', '.join(names)}; choose one with --container NAME",
            EXIT_USAGE,
        )
    return containers[0]


def _check_image(cli: Cli, image: str) -> None:
    """An ECR image that does not exist would fail every task: stop before UpdateService."""
    reference = ImageReference.parse(image)
    location = reference.ecr
    if location is None or reference.tag is None:
        return
    account, region, repository = location
    ecr = cli.aws.session.client("ecr", region_name=region)
    try:
        ecr.describe_images(
            registryId=account, repositoryName=repository, imageIds=[{"imageTag": reference.tag}]
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("ImageNotFoundException", "RepositoryNotFoundException"):
            raise CliError(f"{image} is not in ECR ({code}); build and push it first") from error
        cli.err.print(
            f"warning: could not check {image} in ECR ({code}); deploying anyway",
            markup=False,
            soft_wrap=True,
        )


def deploy(
    cli: Cli,
    cluster: str,
    service: str,
    *,
    image: str,
    tag: str | None,
    container: str | None,
    yes: bool,
    wait: Wait,
    force: bool = False,
) -> int:
    reference = ImageReference.parse(image)
    if reference.tag or reference.digest:
        raise CliError(
            f"--image takes the repository only ({reference.repository}); give the tag with --tag", EXIT_USAGE
        )
    tag, commit = tag_and_commit(cli, tag)
    new_image = f"{image}:{tag}"
    raw = cli.aws.describe_service(cluster, service)
    described = cli.aws.ecs.describe_task_definition(taskDefinition=raw["taskDefinition"], include=["TAGS"])
    definition: dict[str, Any] = described["taskDefinition"]
    target = _container(definition, container)
    _check_image(cli, new_image)
    if target.get("image") == new_image and not yes:
        prompter = cli.runtime.prompts("pass --yes to deploy an image that is already live")
        if not prompter.confirm(
            f"{new_image} is already live on {cluster}/{service}. Deploy it again?", default=False
        ):
            raise CliError("cancelled; nothing was changed")

    if sha_from_tag(tag) is None:
        cli.err.print(
            f"warning: tag {tag!r} names no git commit; immutable git-SHA tags make every revision traceable",
            markup=False,
            soft_wrap=True,
        )
    registration = registration_input(definition)
    for spec in registration["containerDefinitions"]:
        if spec.get("name") == target.get("name"):
            spec["image"] = new_image
    known_bad = _known_bad_release(cli, cluster, service, definition, str(target.get("name")), new_image)
    if known_bad is not None and not force:
        raise CliError(
            f"{new_image} on {cluster}/{service} makes a release the ledger records BAD "
            f"(since {iso(known_bad.bad_at) if known_bad.bad_at else 'an unknown time'}: "
            f"{known_bad.verdict_reason or 'no reason recorded'}); nothing was registered. "
            "Pass --force to deploy it anyway",
            EXIT_REFUSED,
        )
    tags = {
        str(item["key"]): str(item["value"])
        for item in described.get("tags", [])
        if not str(item.get("key", "")).startswith(_OWN_TAG_PREFIXES)
    }
    if known_bad is not None:  # --force: a person chose it, so it is not rolled back as known-BAD
        tags[ALLOW_BAD_RELEASE_TAG] = "true"
        cli.err.print(
            f"warning: deploying a release recorded BAD ({known_bad.release_id}) because of --force",
            markup=False,
            soft_wrap=True,
        )
    if commit.sha:
        tags[GIT_SHA_TAG] = commit.sha
    message = tag_safe(commit.message or "")
    if message:
        tags[COMMIT_MESSAGE_TAG] = message
    if tags:
        registration["tags"] = [{"key": key, "value": value} for key, value in tags.items()]
    registered = cli.aws.ecs.register_task_definition(**registration)["taskDefinition"]
    arn = str(registered["taskDefinitionArn"])
    cli.aws.ecs.update_service(cluster=cluster, service=service, taskDefinition=arn)

    revision = f"{registered['family']}:{registered['revision']}"
    previous = str(raw["taskDefinition"]).rsplit("/", 1)[-1]
    summary = Text()
    summary.append(f"Deploying {revision} to {cluster}/{service}", style="bold")
    summary.append(f" (was {previous})\n")
    summary.append(f"  {target.get('name')}: {new_image}\n")
    summary.append(f"  git {commit.sha or '-'}")
    if message:
        summary.append(f'  "{message}"', style="italic")
    summary.append("\n  the ledger records the commit when ECS reports the deployment")
    cli.out.print(summary)
    if not wait.wanted:
        cli.out.print(f"Follow it with: ecs-rollback history {cluster} {service}", markup=False)
        return 0
    return Follower(cli, cluster, service, arn, wait).run()


def _known_bad_release(
    cli: Cli, cluster: str, service: str, definition: dict[str, Any], container: str, new_image: str
) -> Release | None:
    """The ledger's record of the release the deploy would make, when it is recorded BAD.

    The release is the described task definition with the new image, every image by the digest its
    tag resolves to now (ECR); a digest nobody can tell makes no release to compare (provisional).
    """
    candidate = {
        **definition,
        "containerDefinitions": [
            {**spec, "image": new_image} if spec.get("name") == container else spec
            for spec in definition.get("containerDefinitions", [])
        ],
    }
    images = []
    for spec in candidate["containerDefinitions"]:
        reference = ImageReference.parse(str(spec.get("image", "")))
        digest = reference.digest or cli.aws.image_registry.resolve_tag(reference)
        images.append(ContainerImage(str(spec.get("name", "")), str(reference), digest))
    release_id = release_id_of(candidate, images, str(definition["taskDefinitionArn"]))
    if is_provisional(release_id):
        return None
    release = cli.aws.ledger.get_release(cli.aws.service_id(cluster, service), release_id)
    return release if release is not None and release.is_bad else None
