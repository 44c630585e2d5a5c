"""rollback CLUSTER SERVICE: the real Lambda Invoke call, served by the manual rollback handler."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from ecs_rollback.domain.model import RevisionId
from ecs_rollback_sandbox.lambda_endpoint import LambdaEndpoint
from tests.cli.conftest import ENTER, FUNCTION, SHA_V1, Fleet

pytestmark = pytest.mark.emulator

MOTO_CALLER = "arn:aws:sts::123456789012:user/moto"


def test_rollback_to_last_good_rolls_back_in_ecs(fleet: Fleet) -> None:
    # Given prod/web on web:2 with web:1 GOOD
    # When
    result = fleet.run("rollback", "prod", "web", "--reason", "5xx spike after deploy", "--yes")
    # Then the answer is printed
    assert result.exit_code == 0, result.output
    assert "ROLLED_BACK  prod/web" in result.stdout
    assert "rolling back from web:2" in result.stdout and SHA_V1[:7] in result.stdout
    assert "Data migrations are not rolled back" in result.stdout
    # and the function really ran: ECS runs a copy of web:1 pinned to the digest that ran
    deployed = fleet.world.service_task_definition(fleet.web)
    assert deployed not in (fleet.v1, fleet.v2)
    image = fleet.task_definition(deployed)["containerDefinitions"][0]["image"]
    v1 = fleet.world.ledger.find_revision(fleet.web, RevisionId.from_arn(fleet.v1))
    assert v1 is not None and v1.images[0].digest
    assert image == f"{fleet.repo}@{v1.images[0].digest}"
    # through the contract, with the caller's identity and the reason
    name, request = fleet.endpoint.invocations[-1]
    assert name == FUNCTION
    assert request == {
        "cluster": "prod",
        "service": "web",
        "target": "last-good",
        "reason": "5xx spike after deploy",
        "dry_run": False,
        "force": False,
        "requested_by": MOTO_CALLER,
    }
    record = fleet.world.ledger.rollbacks(fleet.web).items[0]
    assert record.requested_by == MOTO_CALLER and record.outcome.value == "ROLLED_BACK"


def test_dry_run_json_prints_the_raw_answer_and_changes_nothing(fleet: Fleet) -> None:
    # When
    result = fleet.run(
        "rollback", "prod", "web", "--reason", "check", "--dry-run", "--json", "--requested-by", "ci"
    )
    # Then
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["outcome"] == "DRY_RUN"
    assert answer["from"]["revision"] == "web:2" and answer["to"]["revision"] == "web:1"
    assert answer["requested_by"] == "ci"
    assert fleet.world.service_task_definition(fleet.web) == fleet.v2


def test_bad_target_is_refused_with_exit_3_then_forced(fleet: Fleet) -> None:
    # Given a rollback from web:2 to web:1 that ECS completed: web:2 is now ROLLED_BACK (BAD)
    first = fleet.run("rollback", "prod", "web", "--reason", "errors", "--yes")
    assert first.exit_code == 0, first.output
    fleet.world.run_ecs()
    fleet.world.clock.advance(timedelta(minutes=5))
    # When asking for web:2 again
    refused = fleet.run("rollback", "prod", "web", "--to", "web:2", "--reason", "retry", "--yes")
    # Then
    assert refused.exit_code == 3, refused.output
    assert "REFUSED" in refused.stdout and "pass force=true" in refused.stdout  # the function's words
    assert refused.stderr.startswith("refused (target_is_bad): the release of web:2")
    assert refused.stderr.count("--force") == 1 and "from this CLI: --force" in refused.stderr
    # When forced, by git SHA prefix this time
    fleet.world.clock.advance(timedelta(minutes=1))
    forced = fleet.run("rollback", "prod", "web", "--to", "2222222", "--reason", "retry", "--yes", "--force")
    # Then
    assert forced.exit_code == 0, forced.output
    assert fleet.task_definition(fleet.world.service_task_definition(fleet.web))["containerDefinitions"][0][
        "image"
    ].startswith(f"{fleet.repo}@sha256:")
    assert fleet.endpoint.invocations[-1][1]["force"] is True


def test_confirmation_prompt_is_answered(fleet: Fleet) -> None:
    # When the operator answers no
    declined = fleet.dialog("n", "rollback", "prod", "web", "--reason", "errors")
    # Then only the function's dry run was asked, and nothing changed
    assert declined.exit_code == 1
    assert "web:2" in declined.stdout and "web:1" in declined.stdout  # the plan was shown
    assert declined.stderr == "error: cancelled; nothing was changed\n"
    assert [request["dry_run"] for _name, request in fleet.endpoint.invocations] == [True]
    assert fleet.world.service_task_definition(fleet.web) == fleet.v2
    # When the operator answers yes
    accepted = fleet.dialog("y", "rollback", "prod", "web", "--reason", "errors")
    # Then
    assert accepted.exit_code == 0, accepted.output
    assert fleet.world.service_task_definition(fleet.web) != fleet.v2


def test_reason_is_asked_when_missing_and_required_without_a_terminal(fleet: Fleet) -> None:
    # Without a terminal and without --reason
    missing = fleet.run("rollback", "prod", "web", "--yes")
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: --reason is required")
    # With a terminal, the reason is asked for
    asked = fleet.dialog("bad latency" + ENTER + "y", "rollback", "prod", "web")
    assert asked.exit_code == 0, asked.output
    assert fleet.endpoint.invocations[-1][1]["reason"] == "bad latency"


def test_confirmation_needs_a_terminal_or_yes(fleet: Fleet) -> None:
    # When
    result = fleet.run("rollback", "prod", "web", "--reason", "errors")
    # Then
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no terminal to ask on: pass --yes")
    assert fleet.endpoint.invocations == []


def test_invalid_target_is_a_usage_error(fleet: Fleet) -> None:
    # When
    result = fleet.run("rollback", "prod", "web", "--to", "yesterday", "--reason", "x", "--yes")
    # Then
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --to: target 'yesterday' is not understood")
    assert result.stderr.count("\n") == 1


def test_unknown_service_is_refused(fleet: Fleet) -> None:
    # When
    result = fleet.run("rollback", "prod", "ghost", "--reason", "x", "--yes")
    # Then
    assert result.exit_code == 3
    assert "unknown_service" in result.stderr


def test_lambda_function_error_is_one_line(fleet: Fleet) -> None:
    # Given a function that crashes
    def crash(_payload: object) -> dict[str, object]:
        raise RuntimeError("the handler ran out of memory")

    with LambdaEndpoint({"crashing": crash}) as url:
        # When
        result = fleet.run(
            "--function-name",
            "crashing",
            "rollback",
            "prod",
            "web",
            "--reason",
            "x",
            "--yes",
            env={"AWS_ENDPOINT_URL_LAMBDA": url},
        )
    # Then
    assert result.exit_code == 1
    assert result.stderr == (
        "error: the rollback function crashing failed (RuntimeError: the handler ran out of memory); "
        "see its CloudWatch logs\n"
    )


def test_missing_function_is_one_line(fleet: Fleet) -> None:
    # When
    result = fleet.run("--function-name", "nope", "rollback", "prod", "web", "--reason", "x", "--yes")
    # Then
    assert result.exit_code == 1
    assert (
        result.stderr
        == "error: Lambda function 'nope' not found in us-east-1; check --function-name or --stack\n"
    )


def test_contract_error_answer_exits_1(fleet: Fleet) -> None:
    # When the function rejects the request (a reason of blanks only)
    result = fleet.run("rollback", "prod", "web", "--reason", "   ", "--yes", "--json")
    # Then
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == "invalid_field"
    assert result.stderr.startswith("error: the rollback function rejected the request (invalid_field)")
