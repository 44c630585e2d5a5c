"""The confirmation shows what the function itself decided: its dry run of the same request."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.cli.conftest import ENTER, SPACE, Fleet

pytestmark = pytest.mark.emulator


def _alarm_rolls_back(fleet: Fleet) -> None:
    """An alarm on prod/web: the service rolls back by itself, and ECS completes that deployment."""
    fleet.world.cloudwatch.create_service_alarm("web-cpu", "prod", "web")
    answer = fleet.world.deliver(fleet.world.cloudwatch.set_state("web-cpu", "ALARM"))
    assert "ROLLED_BACK" in str(answer)
    fleet.world.run_ecs()
    fleet.world.clock.advance(timedelta(minutes=5))


def test_confirmation_shows_the_functions_target_not_the_revision_a_pinned_copy_runs(fleet: Fleet) -> None:
    # Given web:3 went bad and an automatic rollback put web:4, a pinned copy of web:2, on the
    # service; web:2 and web:1 are GOOD. The ledger's newest GOOD other than web:4 is web:2, but
    # web:2 is what runs: the function's last-good is web:1.
    fleet.world.push_image("web", "c3c3c3c", content="v3")
    fleet.world.deploy(fleet.web, fleet.world.register("web", {"app": f"{fleet.repo}:c3c3c3c"}))
    fleet.world.clock.advance(timedelta(minutes=2))
    _alarm_rolls_back(fleet)
    running = fleet.world.service_task_definition(fleet.web)
    assert fleet.task_definition(running)["tags"]["ecs-rollback:source-revision"] == "web:2"
    # When the operator confirms a rollback to last-good
    result = fleet.dialog("y", "rollback", "prod", "web", "--reason", "still slow")
    # Then the plan showed the function's target, web:1, with its pinned image and commit
    assert result.exit_code == 0, result.output
    plan = result.stdout.split("Data migrations are not rolled back")[0]
    row = next(line for line in plan.splitlines() if "prod/web" in line)
    assert "web:4" in row.split("web:1")[0] and "web:1" in row
    assert "web:2" not in plan
    assert f"{fleet.repo.split('/')[-1]}@sha256:" in plan and "1111111" in plan
    # and the function was asked twice, the same request: dry run first, then for real
    requests = [request for _name, request in fleet.endpoint.invocations]
    assert [request["dry_run"] for request in requests] == [True, False]
    assert requests[0] | {"dry_run": False} == requests[1]
    # and it rolled back to what was confirmed
    assert "ROLLED_BACK  prod/web" in result.stdout and "warning" not in result.stderr
    deployed = fleet.task_definition(fleet.world.service_task_definition(fleet.web))
    assert deployed["tags"]["ecs-rollback:source-revision"] == "web:1"


def test_a_refused_dry_run_is_shown_and_exits_3_without_a_second_call(fleet: Fleet) -> None:
    # Given an automatic rollback put web:3, a pinned copy of web:1, on the service: web:2 is
    # ROLLED_BACK and web:1 is what runs, so last-good has nowhere to go
    _alarm_rolls_back(fleet)
    running = fleet.world.service_task_definition(fleet.web)
    assert fleet.task_definition(running)["tags"]["ecs-rollback:source-revision"] == "web:1"
    # When (a terminal to confirm on, but nothing typed: a question would be cancelled)
    result = fleet.dialog("", "rollback", "prod", "web", "--reason", "errors again")
    # Then the function's refusal is shown, with the flag that helps, and nothing is asked
    assert result.exit_code == 3, result.output
    assert "REFUSED  prod/web" in result.stdout and "Rollback plan" not in result.stdout
    assert result.stderr.startswith("refused (no_known_good): no GOOD release other than the one running")
    assert "from this CLI: --to REVISION or --to GIT_SHA" in result.stderr
    assert [request["dry_run"] for _name, request in fleet.endpoint.invocations] == [True]
    assert fleet.world.service_task_definition(fleet.web) == running


def test_dialog_never_offers_a_revision_of_the_release_that_runs(fleet: Fleet) -> None:
    # Given web:1's release runs again (as its pinned copy) after an automatic rollback; web:2 is BAD
    _alarm_rolls_back(fleet)
    running = fleet.world.service_task_definition(fleet.web)
    keys = SPACE + ENTER + ENTER + "n"  # web; the default revision; "no" to forcing it
    # When
    result = fleet.dialog(keys, "rollback")
    # Then web:1 and its copy are not offered (they are what runs): the default is the only other
    # release, web:2, which is BAD and needs force; declining it changes nothing and asks nothing
    assert result.exit_code in (1, 130), result.output
    assert "cancelled; nothing was changed" in result.stderr
    assert fleet.endpoint.invocations == []
    assert fleet.world.service_task_definition(fleet.web) == running
