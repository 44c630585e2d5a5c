"""rollback --group: a configured group of services back to one git SHA, all or none."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from ecs_rollback.domain.gitsha import COMMIT_MESSAGE_TAG, GIT_SHA_TAG
from ecs_rollback.domain.model import ServiceId
from tests.cli.conftest import DOWN, ENTER, SHA_V1, SHA_V2, SPACE, Fleet

pytestmark = pytest.mark.emulator

GROUPS = {"checkout": ["prod/web", "prod/api"]}


@pytest.fixture
def checkout(make_fleet: Callable[..., Fleet]) -> tuple[Fleet, ServiceId]:
    """prod/web and prod/api released together: both built from SHA_V1 then SHA_V2, on SHA_V2."""
    fleet = make_fleet(groups=GROUPS)
    world = fleet.world
    repo = world.repository_uri("api")
    arns = []
    for number, sha in enumerate((SHA_V1, SHA_V2), start=1):
        world.push_image("api", sha[:7], content=f"api-{number}")
        arns.append(
            world.register(
                "api",
                {"app": f"{repo}:{sha[:7]}"},
                tags={GIT_SHA_TAG: sha, COMMIT_MESSAGE_TAG: f"api {number}"},
            )
        )
    api = world.ecs.create_service("prod", "api", arns[0])
    world.clock.advance(timedelta(minutes=5))
    world.deploy(api, arns[1])
    world.clock.advance(timedelta(minutes=10))
    world.fire_timers()
    return fleet, api


def _sources(fleet: Fleet, *services: ServiceId) -> list[str]:
    tags = [
        fleet.task_definition(fleet.world.service_task_definition(service))["tags"] for service in services
    ]
    return [tag.get("ecs-rollback:source-revision", "") for tag in tags]


def test_group_rollback_to_a_sha_rolls_every_member_back(checkout: tuple[Fleet, ServiceId]) -> None:
    fleet, api = checkout

    result = fleet.run(
        "rollback", "--group", "checkout", "--to", SHA_V1[:7], "--reason", "checkout 5xx", "--yes"
    )

    assert result.exit_code == 0, result.output
    assert "ROLLED_BACK  group checkout" in result.stdout
    assert "prod/web" in result.stdout and "prod/api" in result.stdout
    _, request = fleet.endpoint.invocations[-1]
    assert request["group"] == "checkout" and request["target"] == SHA_V1[:7]
    assert "cluster" not in request
    assert _sources(fleet, fleet.web, api) == ["web:1", "api:1"]


def test_group_rollback_refused_changes_nothing_and_exits_3(checkout: tuple[Fleet, ServiceId]) -> None:
    fleet, api = checkout
    before = [fleet.world.service_task_definition(service) for service in (fleet.web, api)]

    result = fleet.run("rollback", "--group", "checkout", "--to", "9" * 12, "--reason", "typo", "--yes")

    assert result.exit_code == 3, result.output
    assert "REFUSED  group checkout" in result.stdout
    assert "nothing was done" in result.stdout
    assert [fleet.world.service_task_definition(service) for service in (fleet.web, api)] == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--group", "checkout", "--to", "web:1", "--reason", "x", "--yes"], "one git SHA"),
        (["prod", "--group", "checkout", "--reason", "x", "--yes"], "leave out CLUSTER and SERVICE"),
    ],
)
def test_group_usage_errors_say_what_to_pass(checkout: tuple[Fleet, ServiceId], args, expected) -> None:
    fleet, _ = checkout

    result = fleet.run("rollback", *args)

    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert fleet.endpoint.invocations == []


def test_an_unknown_group_is_the_functions_answer(checkout: tuple[Fleet, ServiceId]) -> None:
    fleet, _ = checkout

    result = fleet.run("rollback", "--group", "nope", "--reason", "x", "--yes")

    assert result.exit_code == 1, result.output
    assert "unknown_group" in result.output and "checkout" in result.output


def test_the_dialog_offers_the_group_when_the_chosen_services_form_one(
    checkout: tuple[Fleet, ServiceId],
) -> None:
    fleet, api = checkout
    keys = (
        SPACE
        + DOWN
        + SPACE
        + ENTER  # services: api and web (the only cluster: prod)
        + "y"  # roll them back together
        + SHA_V1[:8]
        + ENTER  # to v1's commit
        + "checkout errors"
        + ENTER  # reason
        + "y"  # go ahead
    )

    result = fleet.dialog(keys, "rollback")

    assert result.exit_code == 0, result.output
    assert "ROLLED_BACK  group checkout" in result.stdout
    requests = [payload for _, payload in fleet.endpoint.invocations]
    assert [(payload["group"], payload["dry_run"]) for payload in requests] == [
        ("checkout", True),
        ("checkout", False),
    ]
    assert _sources(fleet, fleet.web, api) == ["web:1", "api:1"]
