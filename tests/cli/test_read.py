"""status, history, the stack lookup, and the one-line errors, against the emulator."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.cli.conftest import SHA_V1, SHA_V2, Fleet

pytestmark = pytest.mark.emulator

STACK_TEMPLATE = json.dumps(
    {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "LedgerTableName": {"Value": "ledger"},
            "ManualRollbackFunctionName": {"Value": "ecs-rollback-manual"},
        },
    }
)


def test_help_describes_every_command_and_option(fleet: Fleet) -> None:
    # Given / When
    top = fleet.run("--help")
    # Then
    assert top.exit_code == 0
    for command in ("status", "history", "rollback", "deploy", "adopt"):
        assert command in top.stdout
        help_text = fleet.run(command, "--help")
        assert help_text.exit_code == 0, help_text.output
        assert "Usage: ecs-rollback " + command in " ".join(help_text.stdout.split())
    assert "--requested-by" in fleet.run("rollback", "--help").stdout
    for command in ("rollback", "deploy"):
        options = fleet.run(command, "--help").stdout
        assert all(flag in options for flag in ("--wait", "--until-good", "--timeout", "--poll-interval"))
    assert "env var: ECS_ROLLBACK_STACK" in top.stdout
    assert "4 a deployment --wait followed FAILED or was rolled back, 5 --wait timed out" in " ".join(
        top.stdout.split()
    )


def test_version_is_the_installed_package_version(fleet: Fleet) -> None:
    # When
    result = fleet.run("--version")
    # Then
    assert result.exit_code == 0
    assert result.stdout == f"ecs-rollback {version('ecs-auto-rollback')}\n"


def test_shell_completion_is_shown_installed_and_answers(fleet: Fleet, tmp_path: Path) -> None:
    # When the script is shown
    shown = fleet.run("--show-completion", "bash")
    # Then
    assert shown.exit_code == 0, shown.output
    assert "_ECS_ROLLBACK_COMPLETE=complete_bash" in shown.stdout
    # When it is installed, into a home of its own
    installed = fleet.run("--install-completion", "bash", env={"HOME": str(tmp_path)})
    # Then
    assert installed.exit_code == 0, installed.output
    assert "_ECS_ROLLBACK_COMPLETE" in (tmp_path / ".bash_completions" / "ecs-rollback.sh").read_text()
    # When the shell asks for the words after "ecs-rollback ro" and "ecs-rollback rollback --un"
    commands = fleet.run(
        env={"_ECS_ROLLBACK_COMPLETE": "complete_bash", "COMP_WORDS": "ecs-rollback ro", "COMP_CWORD": "1"}
    )
    options = fleet.run(
        env={
            "_ECS_ROLLBACK_COMPLETE": "complete_bash",
            "COMP_WORDS": "ecs-rollback rollback --un",
            "COMP_CWORD": "2",
        }
    )
    # Then
    assert commands.stdout.split() == ["rollback"]
    assert options.stdout.split() == ["--until-good"]


def test_stack_comes_from_the_environment(fleet: Fleet) -> None:
    # When
    result = fleet.run("status", env={"ECS_ROLLBACK_TABLE": None, "ECS_ROLLBACK_STACK": "FromEnv"})
    # Then
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no CloudFormation stack 'FromEnv' in us-east-1;")


def test_status_shows_current_last_good_and_commit(fleet: Fleet) -> None:
    # Given prod/web runs web:2 (GOOD) with web:1 as its last good revision
    # When
    result = fleet.run("status")
    # Then
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "prod/web" in line)
    assert "web:2" in row and "GOOD" in row and "latest" in row and SHA_V2[:7] in row
    assert f"web:1 ({SHA_V1[:7]}" in row


def test_status_json_is_plain_json_with_rollback_in_flight(fleet: Fleet) -> None:
    # Given a manual rollback whose ECS deployment has not finished yet
    answer = fleet.world.manual(cluster="prod", service="web")
    assert answer["outcome"] == "ROLLED_BACK"
    # When
    result = fleet.run("status", "--json")
    # Then
    assert result.exit_code == 0, result.output
    services = json.loads(result.stdout)["services"]
    web = next(s for s in services if s["service"] == "prod/web")
    assert web["current"]["revision"] == "web:2"
    assert web["current"]["git_sha"] == SHA_V2
    assert web["last_good"]["revision"] == "web:1"
    assert web["rollback_in_flight"]["rollback_id"] == answer["rollback_id"]
    assert web["rollback_in_flight"]["active"] is True
    table = fleet.run("status")
    assert "manual rollback to web:1" in table.stdout


def test_history_pages_newest_first_with_commit_digest_trigger_and_actor(fleet: Fleet) -> None:
    # Given two deployments of prod/web
    # When the first page holds one
    first = fleet.run("history", "prod", "web", "--limit", "1", "--json")
    # Then
    assert first.exit_code == 0, first.output
    page = json.loads(first.stdout)
    assert [d["revision"] for d in page["deployments"]] == ["web:2"]
    newest = page["deployments"][0]
    assert newest["git_sha"] == SHA_V2
    assert newest["commit_message"] == "Cache product pages"
    assert newest["images"][0]["tag"] == "latest"
    assert newest["images"][0]["digest"].startswith("sha256:")
    assert newest["trigger"] == "deploy" and newest["actor"] == "ecs"
    assert newest["status"] == "GOOD" and newest["started_at"] and newest["good_at"]
    assert page["next_cursor"]
    # When the next page is asked for with the printed cursor
    second = fleet.run("history", "prod", "web", "--limit", "1", "--cursor", page["next_cursor"], "--json")
    # Then
    older = json.loads(second.stdout)["deployments"]
    assert [d["revision"] for d in older] == ["web:1"]
    assert older[0]["trigger"] == "adopted" and older[0]["commit_message"] == "Add checkout page"


def test_history_table(fleet: Fleet) -> None:
    # When
    result = fleet.run("history", "prod", "web", "--limit", "1")
    # Then
    assert result.exit_code == 0, result.output
    assert "● web:2" in result.stdout and "● running now" in result.stdout
    assert "Cache product pages" in result.stdout and SHA_V2[:7] in result.stdout
    assert "More: ecs-rollback history prod web --limit 1 --cursor " in result.stdout
    everything = fleet.run("history", "prod", "web", "--all")
    assert "Add checkout page" in everything.stdout and "adopted" in everything.stdout


def test_unknown_service_is_one_line_and_exit_1(fleet: Fleet) -> None:
    # When
    result = fleet.run("history", "prod", "nope")
    # Then
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: prod/nope is not in the ledger (table ledger)")
    assert "Traceback" not in result.output


def test_stack_outputs_are_found_automatically(fleet: Fleet) -> None:
    # Given the stack's outputs name the table; no --table-name, no environment variable
    fleet.world.emulator.client("cloudformation").create_stack(
        StackName="EcsAutoRollback", TemplateBody=STACK_TEMPLATE
    )
    # When
    result = fleet.run("status", "--json", env={"ECS_ROLLBACK_TABLE": None})
    # Then
    assert result.exit_code == 0, result.output
    assert [s["service"] for s in json.loads(result.stdout)["services"]] == ["prod/web"]


def test_no_stack_is_one_line(fleet: Fleet) -> None:
    # When
    result = fleet.run("--stack", "Missing", "status", env={"ECS_ROLLBACK_TABLE": None})
    # Then
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no CloudFormation stack 'Missing' in us-east-1;")
    assert result.stderr.count("\n") == 1


def test_no_credentials_is_one_line(fleet: Fleet, tmp_path: object) -> None:
    # Given no credentials anywhere in the chain
    nothing = {
        "AWS_ACCESS_KEY_ID": None,
        "AWS_SECRET_ACCESS_KEY": None,
        "AWS_SESSION_TOKEN": None,
        "AWS_SHARED_CREDENTIALS_FILE": f"{tmp_path}/none",
        "AWS_CONFIG_FILE": f"{tmp_path}/none",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    # When
    result = fleet.run("status", env=nothing)
    # Then
    assert result.exit_code == 1
    assert (
        result.stderr
        == "error: no AWS credentials found; configure them (aws configure, aws sso login) or pass --profile NAME\n"
    )


def test_missing_table_is_one_line(fleet: Fleet) -> None:
    # When
    result = fleet.run("--table-name", "no-such-table", "status")
    # Then
    assert result.exit_code == 1
    assert result.stderr.startswith("error: Query failed: ResourceNotFoundException")
    assert result.stderr.count("\n") == 1
