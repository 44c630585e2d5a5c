"""Restoring exactly what was good: tagged images pinned to the digest that ran."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecs_rollback.domain import pinning
from ecs_rollback.domain.model import ContainerImage, ImageReference
from tests.unit.builders import ECR_REPO, digest, task_definition

DESCRIBE_ONLY = {
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
}


def test_tagged_image_is_pinned_to_its_recorded_digest() -> None:
    # Given web:1 names a mutable tag, and the digest that ran was recorded
    definition = task_definition(("app", f"{ECR_REPO}:latest"))
    recorded = (ContainerImage("app", f"{ECR_REPO}:latest", digest(1), "ecs-task"),)

    # When planning the restore
    plan = pinning.plan(definition, recorded, must_register=False)

    # Then a copy is registered naming repo@sha256:... and nothing is left on a tag
    assert plan.needs_registration
    assert plan.registration is not None
    assert plan.registration["containerDefinitions"][0]["image"] == f"{ECR_REPO}@{digest(1)}"
    assert plan.images == (ContainerImage("app", f"{ECR_REPO}@{digest(1)}", digest(1), "recorded"),)
    assert plan.unpinned == ()
    # and the described definition itself is not modified
    assert definition["containerDefinitions"][0]["image"] == f"{ECR_REPO}:latest"


def test_already_pinned_images_are_used_as_is() -> None:
    # Given web:1 already names its image by digest (with or without a tag)
    definition = task_definition(
        ("app", f"{ECR_REPO}@{digest(1)}"), ("sidecar", f"{ECR_REPO}:v2@{digest(2)}")
    )

    # When planning the restore, even with a different digest recorded
    plan = pinning.plan(definition, (ContainerImage("app", "x", digest(9)),), must_register=False)

    # Then the revision is deployed as it is, no copy registered
    assert not plan.needs_registration
    assert plan.registration is None
    assert plan.images == (
        ContainerImage("app", f"{ECR_REPO}@{digest(1)}", digest(1), "reference"),
        ContainerImage("sidecar", f"{ECR_REPO}:v2@{digest(2)}", digest(2), "reference"),
    )


def test_multi_container_pins_the_tagged_one_and_keeps_the_pinned_one() -> None:
    # Given one container on a tag and one on a digest
    definition = task_definition(("app", f"{ECR_REPO}:main"), ("envoy", f"public.ecr.aws/envoy@{digest(5)}"))
    recorded = (
        ContainerImage("app", f"{ECR_REPO}:main", digest(1), "ecs-task"),
        ContainerImage("envoy", f"public.ecr.aws/envoy@{digest(5)}", digest(5), "reference"),
    )

    # When planning the restore
    plan = pinning.plan(definition, recorded, must_register=False)

    # Then the copy pins the tagged one and carries the other unchanged
    assert plan.registration is not None
    images = [c["image"] for c in plan.registration["containerDefinitions"]]
    assert images == [f"{ECR_REPO}@{digest(1)}", f"public.ecr.aws/envoy@{digest(5)}"]
    assert [image.digest_source for image in plan.images] == ["recorded", "reference"]


def test_container_without_recorded_digest_is_listed_and_left_on_its_tag() -> None:
    # Given two tagged containers, only one of which had its digest recorded
    definition = task_definition(("app", f"{ECR_REPO}:main"), ("worker", "docker.io/library/worker:stable"))
    recorded = (ContainerImage("app", f"{ECR_REPO}:main", digest(1)), ContainerImage("worker", "w", None))

    # When planning the restore
    plan = pinning.plan(definition, recorded, must_register=False)

    # Then the one without a digest is reported and keeps its tag; the other is pinned
    assert plan.unpinned == ("worker",)
    assert plan.registration is not None
    images = [c["image"] for c in plan.registration["containerDefinitions"]]
    assert images == [f"{ECR_REPO}@{digest(1)}", "docker.io/library/worker:stable"]
    assert plan.images[1] == ContainerImage("worker", "docker.io/library/worker:stable", None, None)


def test_nothing_recorded_and_nothing_to_register_uses_the_revision_as_is() -> None:
    # Given a tagged image with no digest ever recorded
    definition = task_definition(("app", f"{ECR_REPO}:main"))

    # When planning the restore of an ACTIVE revision
    plan = pinning.plan(definition, (), must_register=False)

    # Then there is nothing to pin and nothing to register
    assert plan.registration is None
    assert plan.unpinned == ("app",)


def test_must_register_with_nothing_to_pin_still_registers() -> None:
    # Given an INACTIVE revision whose images are already pinned
    definition = task_definition(("app", f"{ECR_REPO}@{digest(1)}"))

    # When planning the restore from the ledger's stored copy
    plan = pinning.plan(definition, (), must_register=True)

    # Then it is registered again, as it was
    assert plan.needs_registration
    assert plan.registration == pinning.registration_input(definition)


def test_registration_input_strips_describe_only_keys() -> None:
    # Given what DescribeTaskDefinition returns
    definition = task_definition(("app", f"{ECR_REPO}:main"))

    # When turning it into RegisterTaskDefinition input
    registration = pinning.registration_input(definition)

    # Then only what RegisterTaskDefinition accepts remains, as an independent copy
    assert DESCRIBE_ONLY.isdisjoint(registration)
    assert set(registration) == set(definition) - DESCRIBE_ONLY
    assert registration["family"] == "web"
    registration["containerDefinitions"][0]["image"] = "changed"
    assert definition["containerDefinitions"][0]["image"] == f"{ECR_REPO}:main"


def test_ecr_checks_list_only_pinned_ecr_images() -> None:
    # Given an ECR image pinned by the plan, a Docker Hub image by digest, and an unpinned ECR image
    definition = task_definition(
        ("app", f"{ECR_REPO}:main"),
        ("hub", f"docker.io/library/nginx@{digest(2)}"),
        ("cn", f"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/web@{digest(3)}"),
        ("tagged", f"{ECR_REPO}:nightly"),
    )
    recorded = (ContainerImage("app", f"{ECR_REPO}:main", digest(1)),)

    # When listing what to confirm in ECR
    checks = pinning.plan(definition, recorded, must_register=False).ecr_checks()

    # Then only the ECR images with a digest are checked
    assert [(reference.repository, pinned) for reference, pinned in checks] == [
        (ECR_REPO, digest(1)),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/web", digest(3)),
    ]
    assert checks[0][0].ecr == ("123456789012", "us-east-1", "web")


PARSES = {
    "repository only": ("nginx", "nginx", None, None),
    "repository and tag": ("nginx:1.27", "nginx", "1.27", None),
    "registry with port, no tag": ("registry:5000/team/app", "registry:5000/team/app", None, None),
    "registry with port and tag": ("registry:5000/team/app:v1", "registry:5000/team/app", "v1", None),
    "digest only": (f"{ECR_REPO}@{digest(1)}", ECR_REPO, None, digest(1)),
    "tag and digest": (f"{ECR_REPO}:v1@{digest(1)}", ECR_REPO, "v1", digest(1)),
    "port, tag and digest": (
        f"localhost:5000/app:v1@{digest(1)}",
        "localhost:5000/app",
        "v1",
        digest(1),
    ),
}


@pytest.mark.parametrize(("text", "repository", "tag", "pinned"), PARSES.values(), ids=PARSES.keys())
def test_image_reference_parse(text: str, repository: str, tag: str | None, pinned: str | None) -> None:
    # Given an image reference

    # When parsing it
    reference = ImageReference.parse(text)

    # Then it splits into repository, tag and digest, and prints back as it was
    assert (reference.repository, reference.tag, reference.digest) == (repository, tag, pinned)
    assert reference.is_pinned is (pinned is not None)
    assert str(reference) == text


LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"
TAG_START = LOWER + "ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
WORD = st.text(alphabet=LOWER, min_size=1, max_size=10)
COMPONENT = st.builds(
    lambda head, sep, tail: head + sep + tail if tail else head,
    WORD,
    st.sampled_from("._-"),
    st.just("") | WORD,
)
HOSTS = st.one_of(
    st.just(""),
    st.builds(lambda host, port: f"{host}.example.com{port}/", WORD, st.sampled_from(["", ":5000", ":443"])),
    st.builds(lambda account: f"{account:012d}.dkr.ecr.us-east-1.amazonaws.com/", st.integers(0, 10**12 - 1)),
)
TAGS = st.none() | st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(TAG_START),
    st.text(alphabet=TAG_START + ".-", max_size=40),
)
DIGESTS = st.none() | st.binary(min_size=32, max_size=32).map(lambda raw: "sha256:" + raw.hex())


@settings(max_examples=200, deadline=None)
@given(HOSTS, st.lists(COMPONENT, min_size=1, max_size=3), TAGS, DIGESTS)
def test_image_reference_round_trips(host: str, path: list[str], tag: str | None, pinned: str | None) -> None:
    # Given any registry[:port]/repo[:tag][@digest] reference
    repository = host + "/".join(path)
    text = repository + (f":{tag}" if tag else "") + (f"@{pinned}" if pinned else "")

    # When parsing it
    reference = ImageReference.parse(text)

    # Then every part is recovered and the reference prints back unchanged
    assert (reference.repository, reference.tag, reference.digest) == (repository, tag, pinned)
    assert str(reference) == text
    if pinned:
        assert ImageReference.parse(reference.pinned(pinned)) == ImageReference(repository, None, pinned)
