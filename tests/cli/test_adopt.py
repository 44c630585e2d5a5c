"""adopt: the running revision becomes the baseline GOOD, in the ledger the other commands read."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from ecs_rollback.domain.gitsha import COMMIT_MESSAGE_TAG, GIT_SHA_TAG
from ecs_rollback.domain.model import Origin, Status
from ecs_rollback_cli.main import app
from ecs_rollback_cli.runtime import Runtime

pytestmark = pytest.mark.emulator


def _cli(world: Any, *args: str) -> Any:
    env = {**world.emulator.environment, "ECS_ROLLBACK_TABLE": "ledger", "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env, obj=Runtime(now=world.clock.now))


def test_adopt_records_a_never_seen_service_as_good(make_world: Callable[..., Any]) -> None:
    # Given a service that ran before the rollback service was installed: no ledger record
    world = make_world()
    repo = world.repository_uri("billing")
    world.push_image("billing", "9f8e7d6", content="billing-1")
    first = world.register(
        "billing",
        {"app": f"{repo}:9f8e7d6"},
        tags={GIT_SHA_TAG: "9f8e7d6" + "0" * 33, COMMIT_MESSAGE_TAG: "Invoices"},
    )
    service = world.ecs.create_service("prod", "billing", first)
    assert world.ledger.load(service) is None
    # When
    result = _cli(world, "adopt", "prod", "billing")
    # Then
    assert result.exit_code == 0, result.output
    assert "Adopted billing:1 as the GOOD baseline of prod/billing" in result.stdout
    state = world.ledger.load(service)
    assert state is not None and state.version == 1
    assert state.current is not None and state.current.task_definition_arn == first
    assert [d.task_definition_arn for d in state.good] == [first]
    recorded = world.ledger.history(service).items[0]
    assert recorded.status == Status.GOOD and recorded.origin == Origin.ADOPTED and recorded.adopted
    assert recorded.actor == "arn:aws:sts::123456789012:user/moto"
    assert recorded.git_sha == "9f8e7d6" + "0" * 33 and recorded.commit_message == "Invoices"
    assert recorded.images[0].digest and recorded.images[0].digest.startswith("sha256:")
    # and status now shows it
    status = json.loads(_cli(world, "status", "--json").stdout)["services"][0]
    assert status["current"]["revision"] == "billing:1" and status["current"]["status"] == "GOOD"


def test_adopt_marks_a_completed_deployment_good_and_keeps_its_record(make_world: Callable[..., Any]) -> None:
    # Given a deployment that completed but is still baking (bake time 10 min)
    world = make_world(bake_time_seconds=600)
    repo = world.repository_uri("web")
    world.push_image("web", "a1b2c3d", content="one")
    service = world.ecs.create_service("prod", "web", world.register("web", {"app": f"{repo}:a1b2c3d"}))
    world.clock.advance(timedelta(minutes=5))
    world.push_image("web", "e4f5a6b", content="two")
    second = world.register("web", {"app": f"{repo}:e4f5a6b"})
    world.deploy(service, second)
    assert world.ledger.load(service).current.status == Status.COMPLETED
    # When
    result = _cli(world, "adopt", "prod", "web", "--json")
    # Then
    assert result.exit_code == 0, result.output
    adopted = json.loads(result.stdout)
    assert adopted["revision"] == "web:2" and adopted["status"] == "GOOD" and adopted["adopted"] is True
    assert adopted["trigger"] == "deploy" and adopted["actor"] == "ecs"  # who deployed it is kept
    state = world.ledger.load(service)
    assert state.current.task_definition_arn == second and state.current.status == Status.GOOD
    assert [d.revision.revision for d in state.good] == [2, 1]


def test_adopt_refuses_a_bad_revision_without_force(make_world: Callable[..., Any]) -> None:
    # Given the running revision web:2 FAILED, and dry-run kept the rollback service from moving it
    world = make_world(dry_run=True)
    repo = world.repository_uri("web")
    world.push_image("web", "a1b2c3d", content="one")
    service = world.ecs.create_service("prod", "web", world.register("web", {"app": f"{repo}:a1b2c3d"}))
    world.push_image("web", "e4f5a6b", content="two")
    world.deploy(service, world.register("web", {"app": f"{repo}:e4f5a6b"}), complete=False)
    world.deliver(world.ecs.fail(service))
    assert world.ledger.load(service).current.status == Status.FAILED
    # When
    refused = _cli(world, "adopt", "prod", "web")
    # Then
    assert refused.exit_code == 1
    assert refused.stderr.startswith(
        "error: the running revision web:2 (e4f5a6b) runs a release recorded BAD"
    )
    assert "task failed to start" in refused.stderr  # why it was marked BAD
    assert refused.stderr.count("--force") == 1
    # When forced
    forced = _cli(world, "adopt", "prod", "web", "--force")
    # Then
    assert forced.exit_code == 0, forced.output
    state = world.ledger.load(service)
    assert state.current.status == Status.GOOD and state.good[0].revision.revision == 2


def test_adopt_unknown_service_is_one_line(make_world: Callable[..., Any]) -> None:
    # Given
    world = make_world()
    world.emulator.client("ecs").create_cluster(clusterName="prod")
    # When
    result = _cli(world, "adopt", "prod", "ghost")
    # Then
    assert result.exit_code == 1
    assert result.stderr == (
        "error: ECS has no active service prod/ghost in us-east-1; check the names, --region and --profile\n"
    )
