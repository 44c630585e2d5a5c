"""deploy: an immutable git-SHA tag, the commit carried to the ledger, --wait until steady state."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecs_rollback.domain.model import RevisionId, Status
from ecs_rollback_cli.runtime import Runtime
from tests.cli.conftest import Fleet

pytestmark = pytest.mark.emulator


def _latest_revision(fleet: Fleet) -> dict[str, object]:
    return fleet.task_definition(fleet.world.service_task_definition(fleet.web))


def test_deploy_tags_the_image_with_head_and_records_the_commit(
    fleet: Fleet, git_checkout: tuple[Path, str, str]
) -> None:
    # Given a checkout at a commit whose image was pushed under its short SHA
    checkout, full_sha, short_sha = git_checkout
    fleet.world.push_image("web", short_sha, content="v3")
    runtime = Runtime(now=fleet.world.clock.now, cwd=checkout)
    # When
    result = fleet.run("deploy", "prod", "web", "--image", fleet.repo, runtime=runtime)
    # Then a copy of web:2 with the new image is registered, tagged with the commit, and deployed
    assert result.exit_code == 0, result.output
    assert "Deploying web:3 to prod/web (was web:2)" in result.stdout
    revision = _latest_revision(fleet)
    assert revision["taskDefinitionArn"].endswith(":task-definition/web:3")
    assert revision["containerDefinitions"][0]["image"] == f"{fleet.repo}:{short_sha}"
    assert revision["containerDefinitions"][0]["memory"] == 256  # the rest is copied
    assert revision["tags"] == {
        "ecs-rollback:git-sha": full_sha,
        "ecs-rollback:commit-message": "Speed up search",
    }
    # When ECS reports the deployment, the ledger records the commit
    fleet.world.run_ecs()
    recorded = fleet.world.ledger.find_revision(fleet.web, RevisionId("web", 3))
    assert recorded is not None
    assert recorded.git_sha == full_sha and recorded.commit_message == "Speed up search"


def test_deploy_wait_shows_progress_until_steady_state(fleet: Fleet) -> None:
    # Given ECS makes progress between two polls
    runtime = Runtime(now=fleet.world.clock.now, sleep=lambda _seconds: fleet.world.run_ecs())
    fleet.world.push_image("web", "c3c3c3c", content="v3")
    # When
    result = fleet.run(
        "deploy", "prod", "web", "--image", fleet.repo, "--tag", "c3c3c3c", "--wait", runtime=runtime
    )
    # Then
    assert result.exit_code == 0, result.output
    assert "web:3: waiting for ECS to start the deployment" in result.stdout
    assert "web:3 COMPLETED: 2/2 running, 0 pending, 0 failed" in result.stdout
    assert "prod/web reached steady state on web:3" in result.stdout
    assert "names no git commit" not in result.stderr
    assert _latest_revision(fleet)["tags"] == {"ecs-rollback:git-sha": "c3c3c3c"}
    assert fleet.world.ledger.load(fleet.web).current.status == Status.GOOD  # type: ignore[union-attr]


def test_deploy_wait_fails_when_the_deployment_fails(fleet: Fleet) -> None:
    # Given a deployment that ECS fails (and the rollback service then rolls back)
    def ecs_fails(_seconds: float) -> None:
        fleet.world.deliver(fleet.world.ecs.start_deployment(fleet.web))
        fleet.world.deliver(fleet.world.ecs.fail(fleet.web))

    fleet.world.push_image("web", "d4d4d4d", content="v4")
    runtime = Runtime(now=fleet.world.clock.now, sleep=ecs_fails)
    # When
    result = fleet.run(
        "deploy", "prod", "web", "--image", fleet.repo, "--tag", "d4d4d4d", "--wait", runtime=runtime
    )
    # Then
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the deployment of web:3 FAILED: ")
    assert result.stderr.count("\n") == 1


def test_deploy_wait_is_bounded_by_the_timeout(fleet: Fleet) -> None:
    # Given ECS never starts the deployment
    polls: list[float] = []
    runtime = Runtime(now=fleet.world.clock.now, sleep=polls.append)
    fleet.world.push_image("web", "e5e5e5e", content="v5")
    # When
    result = fleet.run(
        "deploy",
        "prod",
        "web",
        "--image",
        fleet.repo,
        "--tag",
        "e5e5e5e",
        "--wait",
        "--timeout",
        "30",
        "--poll-interval",
        "10",
        runtime=runtime,
    )
    # Then
    assert result.exit_code == 1
    assert result.stderr.startswith("error: timed out after 30s waiting for web:3 on prod/web")
    assert polls == [10, 10, 10]


def test_redeploying_the_live_image_asks_first(fleet: Fleet) -> None:
    # Given web:3 runs f6f6f6f
    fleet.world.push_image("web", "f6f6f6f", content="v6")
    assert fleet.run("deploy", "prod", "web", "--image", fleet.repo, "--tag", "f6f6f6f").exit_code == 0
    # When the operator declines
    declined = fleet.dialog("n", "deploy", "prod", "web", "--image", fleet.repo, "--tag", "f6f6f6f")
    # Then nothing is registered
    assert declined.exit_code == 1
    assert declined.stderr == "error: cancelled; nothing was changed\n"
    assert _latest_revision(fleet)["revision"] == 3
    # When the operator passes --yes
    again = fleet.run("deploy", "prod", "web", "--image", fleet.repo, "--tag", "f6f6f6f", "--yes")
    # Then
    assert again.exit_code == 0, again.output
    assert _latest_revision(fleet)["revision"] == 4
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
