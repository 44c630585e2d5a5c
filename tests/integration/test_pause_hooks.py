"""Pause hooks against the emulator: ECS pauses a service deployment at a PAUSE lifecycle hook
and emits ``ECS Hook State Change`` (HOOK_AWAITING_ACTION); the release gate answers it with
``ContinueServiceDeployment`` by the gate's rules, for the services that opt in. The harness plays
the pause and ``ContinueServiceDeployment`` (moto has neither)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import SHA_V2, redeploy_known_bad

OPTED_IN = {"services": ["prod/web"]}


def _service_deployment(world: Any, arn: str) -> dict[str, Any]:
    ecs = world.emulator.client("ecs")
    (found,) = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"]
    return found


def _hook(world: Any, event: dict[str, Any]) -> dict[str, Any]:
    deployment = _service_deployment(world, event["detail"]["serviceDeploymentArn"])
    return next(h for h in deployment["lifecycleHookDetails"] if h["hookId"] == event["detail"]["hookId"])


def test_a_known_bad_release_paused_before_it_scales_up_is_rolled_back(make_world, make_service):
    # Given a service that opts in, deploying again a release recorded BAD
    world = make_world(answer_pause_hooks=OPTED_IN)
    web = make_service(world, pinned=True)
    redeploy_known_bad(world, web)

    # When ECS pauses the deployment at its PRE_SCALE_UP pause hook
    event = world.ecs.pause(web.id, "PRE_SCALE_UP")
    before = len(world.calls)
    answer = world.deliver(event)

    # Then the gate rolls it back through ContinueServiceDeployment, as ECS's own rollback
    assert answer["action"] == "ROLLBACK"
    assert answer["code"] == "known_bad"
    assert answer["hook_ids"] == [event["detail"]["hookId"]]
    assert world.calls[before:] == [
        "ecs.DescribeServiceDeployments",
        "ecs.DescribeServiceRevisions",
        "ecs.DescribeTaskDefinition",
        "dynamodb.GetItem",
        "ecs.ContinueServiceDeployment",
    ]
    deployment = _service_deployment(world, event["detail"]["serviceDeploymentArn"])
    assert deployment["status"] == "ROLLBACK_REQUESTED"
    assert _hook(world, event)["status"] == "FAILED"
    assert web.task_definition == web.revisions["v1"]


def test_a_paused_deployment_whose_linked_alarm_fires_after_the_shift_is_rolled_back(
    make_world, make_service
):
    # Given a blue/green service that opts in, its CPU alarm linked, v2 taking the traffic
    world = make_world(
        answer_pause_hooks=OPTED_IN,
        alarm_links=[{"alarm": "web-cpu-high", "cluster": "prod", "service": "web"}],
    )
    web = make_service(world, pinned=True, strategy="BLUE_GREEN")
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.deploy("v2", complete=False)
    world.ecs.shift_traffic(web.id)

    # When the alarm is in ALARM (its event not delivered yet) and ECS pauses after the shift
    world.cloudwatch.set_state(web.alarm, "ALARM")
    event = world.ecs.pause(web.id, "POST_PRODUCTION_TRAFFIC_SHIFT")
    answer = world.deliver(event)

    # Then the gate answers ROLLBACK
    assert (answer["action"], answer["code"]) == ("ROLLBACK", "alarm")
    assert world.count("ecs.ContinueServiceDeployment") == 1
    assert _service_deployment(world, event["detail"]["serviceDeploymentArn"])["status"] == (
        "ROLLBACK_REQUESTED"
    )
    assert web.task_definition == web.revisions["v1"]


def test_a_clean_release_paused_before_it_scales_up_is_continued(make_world, make_service):
    # Given a service that opts in, deploying a release never seen before
    world = make_world(answer_pause_hooks=OPTED_IN)
    web = make_service(world, pinned=True)
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.deploy("v2", complete=False)

    # When ECS pauses it before it scales up
    event = world.ecs.pause(web.id, "PRE_SCALE_UP")
    answer = world.deliver(event)

    # Then the gate continues it, and the deployment goes on
    assert (answer["action"], answer["code"]) == ("CONTINUE", "not_bad")
    assert _hook(world, event)["status"] == "SUCCEEDED"
    assert _service_deployment(world, event["detail"]["serviceDeploymentArn"])["status"] == "IN_PROGRESS"
    assert web.task_definition == web.revisions["v2"]

    # And the same event delivered again finds no hook awaiting action: nothing more is called
    again = world.deliver(event)
    assert (again["status"], again["code"]) == ("left", "not_awaiting")
    assert world.count("ecs.ContinueServiceDeployment") == 1


def test_after_the_shift_a_clean_pause_is_left_while_baking_and_continued_once_baked(
    make_world, make_service
):
    # Given a blue/green service that opts in, quiet, v2 taking the traffic; a 5-minute bake
    world = make_world(answer_pause_hooks=OPTED_IN, bake_time_seconds=300)
    web = make_service(world, pinned=True, strategy="BLUE_GREEN")
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.deploy("v2", complete=False)
    world.ecs.shift_traffic(web.id)

    # When ECS pauses after the shift and the event arrives at once
    event = world.ecs.pause(web.id, "POST_PRODUCTION_TRAFFIC_SHIFT")
    answer = world.deliver(event)

    # Then the hook is left awaiting (the bake counts from the pause)
    assert (answer["status"], answer["code"]) == ("left", "baking")
    assert world.count("ecs.ContinueServiceDeployment") == 0
    assert _hook(world, event)["status"] == "AWAITING_ACTION"

    # And when the event is delivered again after the bake (a retry), it is continued
    world.clock.advance(timedelta(minutes=6))
    assert world.deliver(event)["action"] == "CONTINUE"


def test_a_service_that_does_not_opt_in_is_left_untouched(make_world, make_service):
    # Given the default configuration (no answerPauseHooks) and a BAD release paused before it scales up
    world = make_world()
    web = make_service(world, pinned=True)
    redeploy_known_bad(world, web)
    event = world.ecs.pause(web.id, "PRE_SCALE_UP")
    before = len(world.calls)

    # When the event is delivered
    answer = world.deliver(event)

    # Then nothing is read or answered: the hook still awaits its owner
    assert (answer["status"], answer["code"]) == ("left", "not_opted_in")
    assert world.calls[before:] == []
    assert _hook(world, event)["status"] == "AWAITING_ACTION"


def test_continue_service_deployment_refuses_what_is_not_awaiting_action(make_world, make_service):
    # Given a deployment paused at a hook, answered once
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.deploy("v2", complete=False)
    event = world.ecs.pause(web.id, "PRE_SCALE_UP")
    ecs = world.emulator.client("ecs")
    arn, hook_id = event["detail"]["serviceDeploymentArn"], event["detail"]["hookId"]
    assert (
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook_id)["serviceDeploymentArn"]
        == arn
    )

    # Then answering it again, an unknown hook or an unknown deployment fail as ECS fails them
    for request, code in (
        ({"serviceDeploymentArn": arn, "hookId": hook_id}, "InvalidParameterException"),
        ({"serviceDeploymentArn": arn, "hookId": "ecs-pause-unknown"}, "InvalidParameterException"),
        ({"serviceDeploymentArn": arn + "x", "hookId": hook_id}, "ServiceDeploymentNotFoundException"),
    ):
        with pytest.raises(ClientError) as raised:
            ecs.continue_service_deployment(**request, action="ROLLBACK")
        assert raised.value.response["Error"]["Code"] == code
