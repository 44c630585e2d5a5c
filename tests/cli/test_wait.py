"""rollback --wait / --until-good, and status's bake countdown; the harness plays ECS between polls."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from typer.testing import Result

from ecs_rollback.domain.model import Status
from ecs_rollback_cli.runtime import Runtime
from tests.cli.conftest import Fleet

pytestmark = pytest.mark.emulator


def _ecs_between_polls(fleet: Fleet, step: timedelta = timedelta(minutes=1)) -> Runtime:
    """Each poll's sleep: ECS acts on every UpdateService, time passes, due bake timers fire."""

    def sleep(_seconds: float) -> None:
        fleet.world.run_ecs()
        fleet.world.clock.advance(step)
        fleet.world.fire_timers()

    return Runtime(now=fleet.world.clock.now, sleep=sleep)


def _roll_back_web(fleet: Fleet, *flags: str, runtime: Runtime) -> Result:
    return fleet.run("rollback", "prod", "web", "--reason", "5xx", "--yes", *flags, runtime=runtime)


def test_rollback_wait_json_follows_to_steady_state_with_progress_on_stderr(fleet: Fleet) -> None:
    # When
    result = _roll_back_web(fleet, "--wait", "--json", runtime=_ecs_between_polls(fleet))
    # Then stdout is the function's answer, JSON only, while the progress went to stderr
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["outcome"] == "ROLLED_BACK" and answer["deployed_task_definition_arn"].endswith("/web:3")
    assert "web:3: waiting for ECS to start the deployment" in result.stderr
    assert "web:3 COMPLETED: 2/2 running, 0 pending, 0 failed" in result.stderr
    assert "prod/web reached steady state on web:3" in result.stderr


def test_rollback_until_good_waits_out_the_bake(make_fleet: Callable[..., Fleet]) -> None:
    # Given a 10-minute bake: the rollback's own deployment must bake before it is GOOD
    fleet = make_fleet(bake_time_seconds=600)
    # When
    result = _roll_back_web(
        fleet,
        "--until-good",
        "--poll-interval",
        "120",
        runtime=_ecs_between_polls(fleet, timedelta(minutes=2)),
    )
    # Then steady state two minutes in, then the bake counting down to GOOD
    assert result.exit_code == 0, result.output
    assert "[ 120s] web:3 COMPLETED: 2/2 running, 0 pending, 0 failed" in result.stderr
    assert "[ 120s] web:3 COMPLETED, baking: GOOD in 8 min" in result.stderr
    assert "[ 480s] web:3 COMPLETED, baking: GOOD in 2 min" in result.stderr
    assert "[ 600s] web:3 GOOD" in result.stderr
    assert result.stderr.rstrip().endswith("prod/web: web:3 is GOOD")
    assert fleet.world.ledger.load(fleet.web).current.status == Status.GOOD  # type: ignore[union-attr]


def test_rollback_wait_exits_4_when_the_rollbacks_own_deployment_fails(fleet: Fleet) -> None:
    # Given ECS fails the rollback's deployment
    def ecs_fails(_seconds: float) -> None:
        if fleet.world.ecs.pending_update(fleet.web):
            fleet.world.deliver(fleet.world.ecs.start_deployment(fleet.web))
            fleet.world.deliver(fleet.world.ecs.fail(fleet.web))

    # When
    result = _roll_back_web(fleet, "--wait", runtime=Runtime(now=fleet.world.clock.now, sleep=ecs_fails))
    # Then the answer was printed, then the wait failed
    assert result.exit_code == 4, result.output
    assert "ROLLED_BACK  prod/web" in result.stdout
    assert result.stderr.splitlines()[-1].startswith("error: the deployment of web:3 FAILED: ECS deployment")


def test_rollback_wait_is_bounded_by_the_timeout(fleet: Fleet) -> None:
    # Given ECS never starts the rollback's deployment
    polls: list[float] = []
    # When
    result = _roll_back_web(
        fleet,
        "--wait",
        "--timeout",
        "20",
        "--poll-interval",
        "10",
        runtime=Runtime(now=fleet.world.clock.now, sleep=polls.append),
    )
    # Then
    assert result.exit_code == 5, result.output
    assert result.stderr.splitlines()[-1].startswith(
        "error: timed out after 20s waiting for web:3 on prod/web"
    )
    assert polls == [10, 10]


def test_rollback_wait_with_dry_run_is_a_usage_error(fleet: Fleet) -> None:
    # When
    result = fleet.run("rollback", "prod", "web", "--reason", "x", "--dry-run", "--wait")
    # Then
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --wait and --until-good follow a rollback's deployment")
    assert fleet.endpoint.invocations == []


def test_status_shows_how_long_a_completed_release_still_bakes(make_fleet: Callable[..., Fleet]) -> None:
    # Given web:3 completed three minutes ago, with a 10-minute bake
    fleet = make_fleet(bake_time_seconds=600)
    fleet.world.push_image("web", "c3c3c3c", content="v3")
    fleet.world.deploy(fleet.web, fleet.world.register("web", {"app": f"{fleet.repo}:c3c3c3c"}))
    completed_at = fleet.world.clock.now()
    fleet.world.clock.advance(timedelta(minutes=3))
    # When
    table = fleet.run("status")
    as_json = fleet.run("status", "--json")
    # Then
    assert table.exit_code == 0, table.output
    row = table.stdout.splitlines().index(
        next(line for line in table.stdout.splitlines() if "prod/web" in line)
    )
    assert "COMPLETED" in table.stdout.splitlines()[row]
    assert "GOOD in 7 min" in table.stdout.splitlines()[row + 1]
    bake = json.loads(as_json.stdout)["services"][0]["current"]["bake"]
    assert bake["bake_time_seconds"] == 600 and bake["remaining_seconds"] == 420
    assert bake["good_expected_at"] == (completed_at + timedelta(minutes=10)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )


def test_status_without_the_bake_time_still_shows_the_services(make_fleet: Callable[..., Fleet]) -> None:
    # Given a COMPLETED release, and a function whose configuration cannot be read
    fleet = make_fleet(bake_time_seconds=600)
    fleet.world.push_image("web", "c3c3c3c", content="v3")
    fleet.world.deploy(fleet.web, fleet.world.register("web", {"app": f"{fleet.repo}:c3c3c3c"}))
    # When
    result = fleet.run("--function-name", "nope", "status", "--json")
    # Then
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["services"][0]["current"]["bake"] is None
    assert result.stderr.startswith("warning: no bake countdown: GetFunctionConfiguration failed")
