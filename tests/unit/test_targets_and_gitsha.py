"""What a manual request may name as target, and where a revision's git commit comes from."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecs_rollback.domain.errors import InvalidRequest
from ecs_rollback.domain.gitsha import (
    COMMIT_MESSAGE_TAG,
    GIT_SHA_TAG,
    OCI_REVISION_LABEL,
    git_sha_of,
    sha_from_tag,
    tag_safe,
)
from ecs_rollback.domain.model import RevisionId
from ecs_rollback.domain.targets import GitShaTarget, LastGood, RevisionTarget, TargetSpec, parse_target
from tests.unit.builders import ECR_REPO, td_arn

SHA = "3f2c1ab9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3"

TARGETS: dict[str, tuple[str, TargetSpec]] = {
    "last-good": ("last-good", LastGood()),
    "last-good with spaces around": ("  last-good ", LastGood()),
    "family:revision": ("web:42", RevisionTarget(RevisionId("web", 42))),
    "family with dashes and underscores": ("my_web-app:7", RevisionTarget(RevisionId("my_web-app", 7))),
    "task definition ARN": (td_arn(42), RevisionTarget(RevisionId("web", 42), "123456789012", "us-east-1")),
    "china partition ARN": (
        "arn:aws-cn:ecs:cn-north-1:123456789012:task-definition/web:3",
        RevisionTarget(RevisionId("web", 3), "123456789012", "cn-north-1"),
    ),
    "7-character SHA prefix": ("3f2c1ab", GitShaTarget("3f2c1ab")),
    "full SHA": (SHA, GitShaTarget(SHA)),
    "upper-case SHA is lowered": ("3F2C1AB9", GitShaTarget("3f2c1ab9")),
}


@pytest.mark.parametrize(("text", "expected"), TARGETS.values(), ids=TARGETS.keys())
def test_parse_target(text: str, expected: TargetSpec) -> None:
    # Given a target as an operator types it

    # When parsing it
    spec = parse_target(text)

    # Then it is understood as the right kind of target
    assert spec == expected


INVALID_TARGETS = {
    "empty": "",
    "blank": "   ",
    "latest": "latest",
    "family alone": "web",
    "family and colon": "web:",
    "revision alone": ":42",
    "revision not a number": "web:abc",
    "negative revision": "web:-1",
    "revision over ten digits": "web:12345678901",
    "family with a space": "my web:1",
    "family with a slash": "team/web:1",
    "6-character SHA": "3f2c1ab"[:6],
    "41-character SHA": SHA + "a",
    "non-hex SHA": "3f2c1ag",
    "service ARN": "arn:aws:ecs:us-east-1:123456789012:service/prod/web",
    "task definition ARN without revision": "arn:aws:ecs:us-east-1:123456789012:task-definition/web",
    "ARN with a short account": "arn:aws:ecs:us-east-1:1234:task-definition/web:1",
    "last-good with another case": "LAST-GOOD",
    "injection attempt": "web:1; rm -rf /",
    "newline inside": "web:1\nweb:2",
    "full-width digit": "web:\uff11",
    "Arabic-Indic digits": "web:\u0661\u0662",
    "full-width digits in an ARN": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:\uff11",
    "full-width digits in a SHA": "3f2c1a\uff11",
}


@pytest.mark.parametrize("text", INVALID_TARGETS.values(), ids=INVALID_TARGETS.keys())
def test_parse_target_rejects(text: str) -> None:
    # Given a target that is none of the accepted forms

    # When parsing it
    with pytest.raises(InvalidRequest) as raised:
        parse_target(text)

    # Then it is refused with invalid_target and a message naming the accepted forms
    assert raised.value.code == "invalid_target"
    assert "last-good" in raised.value.message


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_parse_target_answers_any_text_with_a_target_or_invalid_target(text: str) -> None:
    # Given any text at all

    # When parsing it
    try:
        spec = parse_target(text)
    except InvalidRequest as error:
        # Then it is either refused as invalid_target, with a bounded message
        assert error.code == "invalid_target"
        assert len(error.message) < 400
        return

    # or understood as one of the three kinds
    assert isinstance(spec, (LastGood, RevisionTarget, GitShaTarget))


SHA_TAGS = {
    "bare short SHA": ("3f2c1ab", "3f2c1ab"),
    "bare full SHA": (SHA, SHA),
    "upper-case SHA": ("3F2C1AB", "3f2c1ab"),
    "sha- prefix": ("sha-3f2c1ab", "3f2c1ab"),
    "git- prefix": ("git-3f2c1ab", "3f2c1ab"),
    "version then SHA": ("v1.2.3-3f2c1ab", "3f2c1ab"),
    "branch then SHA": ("main-3f2c1ab9e8", "3f2c1ab9e8"),
    "git describe": ("v1.4.2-3-g3f2c1ab", "3f2c1ab"),
    "latest": ("latest", None),
    "stable": ("stable", None),
    "purely numeric build number": ("20240101", None),
    "numeric after a version": ("v1.2.3-20240101", None),
    "short hex": ("3f2c1a", None),
    "semantic version": ("v1.2.3", None),
    "empty": ("", None),
    "none": (None, None),
}


@pytest.mark.parametrize(("tag", "expected"), SHA_TAGS.values(), ids=SHA_TAGS.keys())
def test_sha_from_tag(tag: str | None, expected: str | None) -> None:
    # Given an image tag

    # When reading a git SHA from it
    sha = sha_from_tag(tag)

    # Then only immutable SHA tags give one
    assert sha == expected


def container(image: str, label: str | None = None) -> dict[str, Any]:
    return {"name": "app", "image": image, "dockerLabels": {OCI_REVISION_LABEL: label} if label else {}}


PRECEDENCE: dict[str, tuple[dict[str, str], list[dict[str, Any]], str | None]] = {
    "task definition tag beats label and image tag": (
        {GIT_SHA_TAG: "aaaaaaa1"},
        [container(f"{ECR_REPO}:bbbbbbb2", label="ccccccc3")],
        "aaaaaaa1",
    ),
    "OCI label beats image tag": ({}, [container(f"{ECR_REPO}:bbbbbbb2", label="ccccccc3")], "ccccccc3"),
    "image tag when nothing else": ({}, [container(f"{ECR_REPO}:sha-bbbbbbb2")], "bbbbbbb2"),
    "label of a second container": (
        {},
        [container(f"{ECR_REPO}:latest"), container("envoy:v1", label="DDDDDDD4")],
        "ddddddd4",
    ),
    "an invalid tag value falls through": (
        {GIT_SHA_TAG: "not-a-sha"},
        [container(f"{ECR_REPO}:eeeeeee5")],
        "eeeeeee5",
    ),
    "nothing known": ({}, [container(f"{ECR_REPO}:latest")], None),
    "no containers": ({}, [], None),
}


@pytest.mark.parametrize(("tags", "containers", "expected"), PRECEDENCE.values(), ids=PRECEDENCE.keys())
def test_git_sha_of_precedence(
    tags: dict[str, str], containers: list[dict[str, Any]], expected: str | None
) -> None:
    # Given a task definition's tags and containers

    # When reading its git commit
    sha, _ = git_sha_of(tags, containers)

    # Then the most trusted source wins: tag > OCI label > image tag
    assert sha == expected


def test_git_sha_of_returns_the_commit_message_tag() -> None:
    # Given a deploy that tagged the commit message
    tags = {GIT_SHA_TAG: SHA, COMMIT_MESSAGE_TAG: "Fix checkout totals"}

    # When reading the commit
    sha, message = git_sha_of(tags, [container(f"{ECR_REPO}:latest")])

    # Then both come back; an empty message is unknown
    assert (sha, message) == (SHA, "Fix checkout totals")
    assert git_sha_of({COMMIT_MESSAGE_TAG: ""}, []) == (None, None)


TAG_SAFE = {
    "plain text kept": ("Fix checkout totals", "Fix checkout totals"),
    "allowed punctuation kept": ("feat: a/b=c+d-e@f_g.h", "feat: a/b=c+d-e@f_g.h"),
    "first line only": ("Fix checkout\n\nLonger body", "Fix checkout"),
    "forbidden characters become spaces, collapsed": ("Fix #123 (urgent!)", "Fix 123 urgent"),
    "quotes and brackets": ('say "hi" [now]', "say hi now"),
    "empty": ("", ""),
    "only forbidden": ("!!!", ""),
}


@pytest.mark.parametrize(("text", "expected"), TAG_SAFE.values(), ids=TAG_SAFE.keys())
def test_tag_safe(text: str, expected: str) -> None:
    # Given a commit message

    # When making it an ECS tag value
    value = tag_safe(text)

    # Then only allowed characters remain
    assert value == expected


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=600))
def test_tag_safe_is_always_a_valid_ecs_tag_value(text: str) -> None:
    # Given any text

    # When making it a tag value
    value = tag_safe(text)

    # Then it fits ECS's rules: at most 256 characters, one line, letters/digits/spaces and _ . : / = + - @
    assert len(value) <= 256
    assert value == value.strip()
    assert all(ch.isalnum() or ch in " _.:/=+-@" for ch in value), value
