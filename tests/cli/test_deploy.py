"""deploy: an immutable git-SHA tag, the commit carried to the ledger, --wait until steady state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import Result

from ecs_rollback.domain.model import RevisionId, Status
from ecs_rollback_cli.runtime import Runtime
from tests.cli.conftest import Fleet

pytestmark = pytest.mark.emulator


def _deploy_web(fleet: Fleet, tag: str, *flags: str, runtime: Runtime | None = None) -> Result:
    return fleet.run("deploy", "prod", "web", "--image", fleet.repo, "--tag", tag, *flags, runtime=runtime)


def _next_revision(fleet: Fleet, family: str = "web") -> str:
    """The revision ``deploy`` will register next (GOOD releases got pinned copies on the way)."""
    arns = fleet.world.emulator.client("ecs").list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
    return f"{family}:{max(int(arn.rsplit(':', 1)[1]) for arn in arns) + 1}"


def _latest_revision(fleet: Fleet) -> dict[str, object]:
    return fleet.task_definition(fleet.world.service_task_definition(fleet.web))


def test_deploy_tags_the_image_with_head_and_records_the_commit(
    fleet: Fleet, git_checkout: tuple[Path, str, str]
) -> None:
    # Given a checkout at a commit whose image was pushed under its short SHA
    checkout, full_sha, short_sha = git_checkout
    fleet.world.push_image("web", short_sha, content="v3")
    runtime = Runtime(now=fleet.world.clock.now, cwd=checkout)
    new = _next_revision(fleet, "web")
    # When
    result = fleet.run("deploy", "prod", "web", "--image", fleet.repo, runtime=runtime)
    # Then a copy of web:2 with the new image is registered, tagged with the commit, and deployed
    assert result.exit_code == 0, result.output
    assert f"Deploying {new} to prod/web (was web:2)" in result.stdout
    revision = _latest_revision(fleet)
    assert revision["taskDefinitionArn"].endswith(f":task-definition/{new}")
    assert revision["containerDefinitions"][0]["image"] == f"{fleet.repo}:{short_sha}"
    assert revision["containerDefinitions"][0]["memory"] == 256  # the rest is copied
    assert revision["tags"] == {
        "ecs-rollback:git-sha": full_sha,
        "ecs-rollback:commit-message": "Speed up search",
    }
    # When ECS reports the deployment, the ledger records the commit
    fleet.world.run_ecs()
    recorded = fleet.world.ledger.find_revision(
        fleet.web, RevisionId.from_arn(str(revision["taskDefinitionArn"]))
    )
    assert recorded is not None
    assert recorded.git_sha == full_sha and recorded.commit_message == "Speed up search"


def test_deploy_wait_shows_progress_until_steady_state(fleet: Fleet) -> None:
    # Given ECS makes progress between two polls
    runtime = Runtime(now=fleet.world.clock.now, sleep=lambda _seconds: fleet.world.run_ecs())
    fleet.world.push_image("web", "c3c3c3c", content="v3")
    new = _next_revision(fleet, "web")
    # When
    result = _deploy_web(fleet, "c3c3c3c", "--wait", runtime=runtime)
    # Then progress is on stderr, the deploy's summary alone on stdout
    assert result.exit_code == 0, result.output
    assert f"{new}: waiting for ECS to start the deployment" in result.stderr
    assert f"{new} COMPLETED: 2/2 running, 0 pending, 0 failed" in result.stderr
    assert f"prod/web reached steady state on {new}" in result.stderr
    assert "waiting" not in result.stdout and result.stdout.startswith(f"Deploying {new} to prod/web")
    assert "names no git commit" not in result.stderr
    assert _latest_revision(fleet)["tags"] == {"ecs-rollback:git-sha": "c3c3c3c"}
    assert fleet.world.ledger.load(fleet.web).current.status == Status.GOOD  # type: ignore[union-attr]


def test_deploy_wait_exits_4_when_the_deployment_fails_and_this_service_rolls_it_back(fleet: Fleet) -> None:
    # Given a deployment that ECS fails, and the rollback service then rolls back
    def ecs_fails(_seconds: float) -> None:
        fleet.world.deliver(fleet.world.ecs.start_deployment(fleet.web))
        fleet.world.deliver(fleet.world.ecs.fail(fleet.web))

    fleet.world.push_image("web", "d4d4d4d", content="v4")
    runtime = Runtime(now=fleet.world.clock.now, sleep=ecs_fails)
    new = _next_revision(fleet, "web")
    # When
    result = _deploy_web(fleet, "d4d4d4d", "--wait", runtime=runtime)
    # Then a CI pipeline fails, with ECS's reason and the ledger's rollback in one line
    assert result.exit_code == 4, result.output
    error = result.stderr.splitlines()[-1]
    assert error.startswith(f"error: the deployment of {new} FAILED: ECS deployment circuit breaker")
    record = fleet.world.ledger.rollbacks(fleet.web).items[0]
    assert f"the auto-rollback service rolled it back to web:2 (rollback {record.rollback_id}" in error
    assert "automatic, on deployment failed" in error


def test_deploy_wait_exits_4_when_ecs_rolls_the_deployment_back(fleet: Fleet) -> None:
    # Given a service whose circuit breaker rolls back by itself
    api, revisions = fleet.add_service("prod", "api")
    fleet.world.emulator.client("ecs").update_service(
        cluster="prod",
        service="api",
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    fleet.world.push_image("api", "a3a3a3a", content="api-3")

    def ecs_rolls_back(_seconds: float) -> None:
        if fleet.world.ecs.pending_update(api):
            fleet.world.deliver(fleet.world.ecs.start_deployment(api))
            for event in fleet.world.ecs.fail_with_ecs_rollback(api):
                fleet.world.deliver(event)

    runtime = Runtime(now=fleet.world.clock.now, sleep=ecs_rolls_back)
    new = _next_revision(fleet, "api")
    # When
    result = fleet.run(
        "deploy",
        "prod",
        "api",
        "--image",
        fleet.world.repository_uri("api"),
        "--tag",
        "a3a3a3a",
        "--wait",
        runtime=runtime,
    )
    # Then
    assert result.exit_code == 4, result.output
    assert result.stderr.splitlines()[-1] == (
        f"error: prod/api moved from {new} to api:2 while waiting; ECS rolled it back to api:2 "
        "(its circuit breaker or deployment alarms); see `ecs-rollback history prod api`"
    )
    assert fleet.world.service_task_definition(api) == revisions[1]


def test_deploy_wait_until_good_exits_4_when_an_alarm_rolls_it_back_during_the_bake(
    make_fleet: Callable[..., Fleet],
) -> None:
    # Given a 10-minute bake, and an alarm on the service that fires once the deployment completed
    fleet = make_fleet(bake_time_seconds=600)
    world = fleet.world
    world.cloudwatch.create_service_alarm("web-cpu", "prod", "web")
    world.push_image("web", "b4b4b4b", content="v4")
    steps: Iterator[Callable[[], object]] = iter(
        [
            world.run_ecs,
            lambda: world.clock.advance(timedelta(minutes=2)),
            lambda: world.deliver(world.cloudwatch.set_state("web-cpu", "ALARM")),
        ]
    )
    runtime = Runtime(now=world.clock.now, sleep=lambda _seconds: next(steps, lambda: None)())
    new = _next_revision(fleet, "web")
    # When
    result = _deploy_web(fleet, "b4b4b4b", "--wait", "--until-good", runtime=runtime)
    # Then the bake was shown counting down, then the rollback ends the wait with exit 4
    assert result.exit_code == 4, result.output
    assert f"{new} COMPLETED, baking: GOOD in 10 min" in result.stderr
    assert f"{new} COMPLETED, baking: GOOD in 8 min" in result.stderr
    assert result.stderr.splitlines()[-1].startswith(
        f"error: the ledger marks {new} ROLLED_BACK (BAD); the auto-rollback service rolled it back to web:2"
    )


def test_deploy_wait_is_bounded_by_the_timeout(fleet: Fleet) -> None:
    # Given ECS never starts the deployment
    polls: list[float] = []
    runtime = Runtime(now=fleet.world.clock.now, sleep=polls.append)
    fleet.world.push_image("web", "e5e5e5e", content="v5")
    new = _next_revision(fleet, "web")
    # When
    result = _deploy_web(
        fleet, "e5e5e5e", "--wait", "--timeout", "30", "--poll-interval", "10", runtime=runtime
    )
    # Then
    assert result.exit_code == 5
    assert result.stderr.splitlines()[-1].startswith(
        f"error: timed out after 30s waiting for {new} on prod/web"
    )
    assert polls == [10, 10, 10]


def test_redeploying_the_live_image_asks_first(fleet: Fleet) -> None:
    # Given the deployed revision runs f6f6f6f
    fleet.world.push_image("web", "f6f6f6f", content="v6")
    assert fleet.run("deploy", "prod", "web", "--image", fleet.repo, "--tag", "f6f6f6f").exit_code == 0
    deployed = int(str(_latest_revision(fleet)["revision"]))
    # When the operator declines
    declined = fleet.dialog("n", "deploy", "prod", "web", "--image", fleet.repo, "--tag", "f6f6f6f")
    # Then nothing is registered
    assert declined.exit_code == 1
    assert declined.stderr == "error: cancelled; nothing was changed\n"
    assert _latest_revision(fleet)["revision"] == deployed
    # When the operator passes --yes
    again = fleet.run("deploy", "prod", "web", "--image", fleet.repo, "--tag", "f6f6f6f", "--yes")
    # Then
    assert again.exit_code == 0, again.output
    assert _latest_revision(fleet)["revision"] == deployed + 1
    # Without a terminal and without --yes it says what to pass
    unattended = fleet.run("deploy", "prod", "web", "--image", fleet.repo, "--tag", "f6f6f6f")
    assert unattended.exit_code == 2
    assert unattended.stderr.startswith("error: no terminal to ask on: pass --yes")


def test_mutable_tag_is_deployed_with_a_warning(fleet: Fleet) -> None:
    # When
    result = fleet.run("deploy", "prod", "web", "--image", fleet.repo, "--tag", "latest", "--yes")
    # Then
    assert result.exit_code == 0, result.output
    assert "warning: tag 'latest' names no git commit" in result.stderr
    assert "ecs-rollback:git-sha" not in _latest_revision(fleet)["tags"]  # type: ignore[operator]


def test_deploy_errors_are_one_line(fleet: Fleet, tmp_path: Path) -> None:
    outside_git = Runtime(now=fleet.world.clock.now, cwd=tmp_path)
    cases = [
        (
            ["deploy", "prod", "web", "--image", fleet.repo],
            outside_git,
            2,
            "error: no --tag given and no git commit",
        ),
        (
            ["deploy", "prod", "ghost", "--image", fleet.repo, "--tag", "abcdef1"],
            None,
            1,
            "error: ECS has no active service prod/ghost in us-east-1",
        ),
        (
            ["deploy", "nowhere", "web", "--image", fleet.repo, "--tag", "abcdef1"],
            None,
            1,
            "error: ECS has no cluster 'nowhere' in us-east-1",
        ),
        (
            ["deploy", "prod", "web", "--image", fleet.repo, "--tag", "abcdef1"],
            None,
            1,
            f"error: {fleet.repo}:abcdef1 is not in ECR (ImageNotFoundException); build and push it first",
        ),
        (
            ["deploy", "prod", "web", "--image", f"{fleet.repo}:v1"],
            None,
            2,
            "error: --image takes the repository only",
        ),
        (
            ["deploy", "prod", "web", "--image", fleet.repo, "--tag", "latest", "--container", "db"],
            None,
            2,
            "error: the task definition has no container 'db'; it has app",
        ),
    ]
    for args, runtime, code, message in cases:
        # When
        result = fleet.run(*args, runtime=runtime)
        # Then
        assert result.exit_code == code, (args, result.output)
        assert result.stderr.startswith(message), (args, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert _latest_revision(fleet)["revision"] == 2


def test_deploy_refuses_a_release_recorded_bad_unless_forced(fleet: Fleet) -> None:
    # Given an image deployed, alarmed and rolled back: its release is recorded BAD
    world = fleet.world
    world.cloudwatch.create_service_alarm("web-cpu", "prod", "web")
    world.push_image("web", "b4d0b4d", content="broken")
    assert _deploy_web(fleet, "b4d0b4d", "--yes").exit_code == 0
    world.run_ecs()
    world.deliver(world.cloudwatch.set_state("web-cpu", "ALARM"))
    world.deliver(world.cloudwatch.set_state("web-cpu", "OK"))
    world.run_ecs()
    on_good = world.service_task_definition(fleet.web)
    registered = world.count("ecs.RegisterTaskDefinition")

    # When a pipeline deploys the same image again
    refused = _deploy_web(fleet, "b4d0b4d", "--yes")

    # Then it is refused, saying when and why, and nothing is registered or deployed
    assert refused.exit_code == 3, refused.output
    assert "records BAD" in refused.stderr and "rolled back" in refused.stderr
    assert refused.stderr.count("--force") == 1
    assert world.count("ecs.RegisterTaskDefinition") == registered
    assert world.service_task_definition(fleet.web) == on_good

    # When a person forces it
    forced = _deploy_web(fleet, "b4d0b4d", "--yes", "--force")

    # Then it is deployed, marked as chosen, and not rolled back as a known-BAD release
    assert forced.exit_code == 0, forced.output
    assert _latest_revision(fleet)["tags"]["ecs-rollback:allow-bad-release"] == "true"
    results = world.run_ecs(complete=False)
    assert all(result.get("decision") is None for result in results), results
