"""The release gate against the emulator: ECS's lifecycle hooks played with the real target
revision of a deployment the simulator started (``World.lifecycle_hook``)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ecs_rollback.domain.gate import FIRST_SEEN_KEY
from tests.integration.conftest import SHA_V2, redeploy_known_bad


def test_a_release_rolled_back_earlier_is_failed_before_it_scales_up_again(make_world, make_service):
    # Given v2 was deployed, its alarm fired, and it was rolled back (its release recorded BAD),
    # then v2 deployed again
    world = make_world()
    web = make_service(world, pinned=True)
    redeploy_known_bad(world, web)

    # When ECS calls the gate before it scales up
    before = len(world.calls)
    answer = world.lifecycle_hook(web.id, "PRE_SCALE_UP")

    # Then the gate fails the deployment, having read the revision ECS deploys and the release's verdict
    assert answer == {"hookStatus": "FAILED"}
    assert world.calls[before:] == [
        "ecs.DescribeServiceRevisions",
        "ecs.DescribeTaskDefinition",
        "dynamodb.GetItem",
    ]


def test_a_good_release_goes_on_before_it_scales_up(make_world, make_service):
    # Given v1 running, and v2 never seen before
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", sha=SHA_V2, pinned=True)

    # When v2 starts deploying and ECS calls the gate
    world.emulator.client("ecs").update_service(
        cluster=web.id.cluster, service=web.id.name, taskDefinition=web.revisions["v2"]
    )
    world.ecs.start_deployment(web.id)

    # Then it goes on
    assert world.lifecycle_hook(web.id, "PRE_SCALE_UP") == {"hookStatus": "SUCCEEDED"}


@pytest.mark.parametrize("strategy", ["BLUE_GREEN", "LINEAR", "CANARY"])
def test_a_deployment_is_failed_after_a_traffic_shift_while_its_alarm_fires(
    make_world, make_service, strategy
):
    # Given a blue/green (or linear, or canary) service whose CPU alarm is linked by
    # configuration, deploying v2, with the production traffic shifted to it
    world = make_world(
        bake_time_seconds=300, alarm_links=[{"alarm": "web-cpu-high", "cluster": "prod", "service": "web"}]
    )
    web = make_service(world, pinned=True, strategy=strategy)
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.deploy("v2", complete=False)
    world.ecs.shift_traffic(web.id)

    # When ECS calls the gate after the shift, quiet: it waits out the bake
    waiting = world.lifecycle_hook(web.id, "POST_PRODUCTION_TRAFFIC_SHIFT")
    assert waiting["hookStatus"] == "IN_PROGRESS"
    assert waiting["callBackDelay"] == 60

    # And when the alarm fires before ECS calls again (its event not delivered yet)
    world.clock.advance(timedelta(minutes=1))
    world.cloudwatch.set_state(web.alarm, "ALARM")
    answer = world.lifecycle_hook(
        web.id, "POST_PRODUCTION_TRAFFIC_SHIFT", hook_details=waiting["hookDetails"]
    )

    # Then the gate fails the deployment
    assert answer == {"hookStatus": "FAILED"}

    # And once the alarm is back to OK and the bake time has passed since the hook first ran
    world.cloudwatch.set_state(web.alarm, "OK")
    world.clock.advance(timedelta(minutes=5))
    done = world.lifecycle_hook(web.id, "POST_PRODUCTION_TRAFFIC_SHIFT", hook_details=waiting["hookDetails"])

    # Then it goes on
    assert done == {"hookStatus": "SUCCEEDED"}
    assert FIRST_SEEN_KEY in waiting["hookDetails"]
