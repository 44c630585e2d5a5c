"""rollback with no arguments: the dialog, answered keystroke by keystroke through the real prompts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.cli.conftest import DOWN, ENTER, SPACE, Fleet

pytestmark = pytest.mark.emulator

UP = "\x1b[A"


def test_dialog_rolls_back_two_services_one_to_a_bad_revision_with_force(fleet: Fleet) -> None:
    # Given prod/api (api:2 over api:1), staging/worker, and prod/web already rolled back once:
    # web:3 (a pinned copy of web:1) runs, web:2 is ROLLED_BACK (BAD), web:1 GOOD
    api, api_revisions = fleet.add_service("prod", "api")
    fleet.add_service("staging", "worker")
    fleet.world.manual(cluster="prod", service="web")
    fleet.world.run_ecs()
    fleet.world.clock.advance(timedelta(minutes=2))
    web_before = fleet.world.service_task_definition(fleet.web)
    keys = (
        ENTER  # cluster: prod (first of prod, staging)
        + SPACE
        + DOWN
        + SPACE
        + ENTER  # services: api and web
        + ENTER  # api: the default, its last GOOD revision api:1
        + UP
        + ENTER  # web: from the default web:1 up to web:2, which is BAD
        + "y"  # roll back to a BAD revision anyway (force)
        + "api 5xx and web latency"
        + ENTER  # reason
        + ENTER  # go ahead: roll back now
    )
    # When
    result = fleet.dialog(keys, "rollback")
    # Then the plan and the reminder were shown, and both answers
    assert result.exit_code == 0, result.output
    assert "Rollback plan (reason: api 5xx and web latency)" in result.stdout
    assert "Data migrations are not rolled back" in result.stdout
    assert result.stdout.count("ROLLED_BACK  prod/") == 2
    # and the function was asked exactly this
    requests = {payload["service"]: payload for _name, payload in fleet.endpoint.invocations}
    assert requests["api"]["target"] == "api:1" and requests["api"]["force"] is False
    assert requests["web"]["target"] == "web:2" and requests["web"]["force"] is True
    assert requests["web"]["reason"] == "api 5xx and web latency"
    # and ECS moved both services
    api_now = fleet.task_definition(fleet.world.service_task_definition(api))
    assert api_now["taskDefinitionArn"] != api_revisions[1]
    assert api_now["tags"]["ecs-rollback:source-revision"] == "api:1"
    web_now = fleet.world.service_task_definition(fleet.web)
    assert web_now != web_before
    assert fleet.task_definition(web_now)["tags"]["ecs-rollback:source-revision"] == "web:2"


def test_dialog_dry_run_for_a_given_cluster_changes_nothing(fleet: Fleet) -> None:
    # Given
    fleet.add_service("prod", "api")
    keys = (
        DOWN
        + SPACE
        + ENTER  # services (api, web): web only
        + ENTER  # web:1, the default
        + "checking"
        + ENTER  # reason
        + DOWN
        + ENTER  # dry run only
    )
    # When
    result = fleet.dialog(keys, "rollback", "prod")
    # Then
    assert result.exit_code == 0, result.output
    assert "DRY_RUN  prod/web" in result.stdout
    assert [payload["dry_run"] for _name, payload in fleet.endpoint.invocations] == [True]
    assert fleet.world.service_task_definition(fleet.web) == fleet.v2


def test_dialog_declined_bad_revision_asks_again_and_cancel_changes_nothing(fleet: Fleet) -> None:
    # Given web:5 was deployed and rolled back: web:4 (the pinned copy registered when web:2's release
    # became GOOD) runs, web:5 is BAD
    fleet.world.push_image("web", "c3c3c3c", content="v3")
    fleet.world.deploy(fleet.web, fleet.world.register("web", {"app": f"{fleet.repo}:c3c3c3c"}))
    fleet.world.manual(cluster="prod", service="web")
    fleet.world.run_ecs()
    web_before = fleet.world.service_task_definition(fleet.web)
    keys = (
        UP
        + ENTER  # web:5 (BAD), up from the default web:1 (web:4 and web:2, one release, run now)
        + "n"  # not that one after all
        + ENTER  # the default, web:1
        + "x"
        + ENTER  # reason
        + DOWN
        + DOWN
        + ENTER  # cancel
    )
    # When (one cluster, one service: the checkbox still asks)
    result = fleet.dialog(SPACE + ENTER + keys, "rollback")
    # Then the plan came from the function's dry run, and cancelling changed nothing
    assert result.exit_code == 1
    assert "Cluster: prod (the only one in the ledger)" in result.stdout
    assert "Rollback plan (reason: x)" in result.stdout
    assert result.stderr == "error: cancelled; nothing was changed\n"
    requests = [request for _name, request in fleet.endpoint.invocations]
    assert [(request["target"], request["dry_run"]) for request in requests] == [("web:1", True)]
    assert fleet.world.service_task_definition(fleet.web) == web_before


def test_dialog_without_a_terminal_says_what_to_pass(fleet: Fleet) -> None:
    # When
    result = fleet.run("rollback")
    # Then
    assert result.exit_code == 2
    assert result.stderr == (
        "error: no terminal to ask on: give CLUSTER SERVICE, --reason and --yes to roll back without a dialog\n"
    )


def test_dialog_default_skips_the_revision_running_as_a_pinned_copy(fleet: Fleet) -> None:
    # Given web:3 was deployed and rolled back: web:4 (a pinned copy of web:2) runs
    fleet.world.push_image("web", "c3c3c3c", content="v3")
    fleet.world.deploy(fleet.web, fleet.world.register("web", {"app": f"{fleet.repo}:c3c3c3c"}))
    fleet.world.clock.advance(timedelta(minutes=5))
    fleet.world.manual(cluster="prod", service="web")
    fleet.world.run_ecs()
    keys = SPACE + ENTER + ENTER + "recheck" + ENTER + DOWN + ENTER  # the default revision, dry run
    # When
    result = fleet.dialog(keys, "rollback")
    # Then the default was web:1, the newest GOOD revision that is not what runs
    assert result.exit_code == 0, result.output
    assert [payload["target"] for _name, payload in fleet.endpoint.invocations] == ["web:1"]
    assert "DRY_RUN  prod/web" in result.stdout
