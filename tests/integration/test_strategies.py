"""ECS's own strategies and controllers, on the emulator: the harness plays service deployments,
``StopServiceDeployment`` and the controllers (moto has none of them); the product calls them as
it calls AWS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.integration.conftest import SHA_V2, SHA_V3


def _service_deployments(world: Any, web: Any) -> list[dict[str, Any]]:
    ecs = world.emulator.client("ecs")
    briefs = ecs.list_service_deployments(cluster=web.id.cluster, service=web.id.name)["serviceDeployments"]
    arns = [brief["serviceDeploymentArn"] for brief in briefs]
    return ecs.describe_service_deployments(serviceDeploymentArns=arns)["serviceDeployments"]


def test_a_blue_green_release_alarming_during_bake_is_rolled_back_by_ecs_itself(make_world, make_service):
    # Given a blue/green service on v1 (GOOD) whose v2 has taken the traffic and is baking
    world = make_world()
    web = make_service(world, pinned=True, strategy="BLUE_GREEN", bake_time_minutes=10)
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.deploy("v2", complete=False)
    world.ecs.shift_traffic(web.id)
    assert world.ledger.load(web.id).current.strategy == "BLUE_GREEN"

    # When v2's alarm fires
    world.clock.advance(timedelta(minutes=2))
    result = world.deliver(web.alarm_fires())

    # Then ECS's own rollback is asked for (StopServiceDeployment ROLLBACK), not a new deployment
    decision = result["decisions"][0]
    assert decision["outcome"] == "ROLLED_BACK"
    assert decision["to"]["revision"] == "web:1"
    assert "StopServiceDeployment" in decision["message"]
    assert world.count("ecs.StopServiceDeployment") == 1
    assert world.count("ecs.UpdateService") == 0
    record = world.ledger.rollbacks(web.id).items[0]
    assert record.path == "stop_service_deployment"
    assert (
        record.service_deployment_arn
        == world.ledger.find_revision(web.id, _rev(web, "v2")).service_deployment_arn
    )

    # And when ECS carries its rollback out, the rollback is followed to its end like any other
    world.run_ecs()
    assert web.task_definition == web.revisions["v1"]
    assert web.status_of("v2") == "ROLLED_BACK"
    state = world.ledger.load(web.id)
    assert state.in_flight is None
    assert world.ledger.get_rollback(web.id, record.record_key).result == "COMPLETED"
    stopped = next(
        d
        for d in _service_deployments(world, web)
        if d["serviceDeploymentArn"] == record.service_deployment_arn
    )
    assert stopped["status"] == "ROLLBACK_SUCCESSFUL"
    assert world.count("ecs.UpdateService") == 0


def _rev(web: Any, label: str) -> Any:
    from ecs_rollback.domain.model import RevisionId

    return RevisionId.from_arn(web.revisions[label])


def test_when_ecs_would_return_to_a_release_not_good_the_service_is_updated_to_the_good_one(
    make_world, make_service
):
    # Given a blue/green service: v1 GOOD, v2 COMPLETED but not yet GOOD, v3 deploying
    world = make_world()
    web = make_service(world, pinned=True, strategy="BLUE_GREEN", bake_time_minutes=10)
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.revision("v3", sha=SHA_V3, pinned=True)
    web.deploy("v2")
    web.deploy("v3", complete=False)

    # When v3's alarm fires
    world.clock.advance(timedelta(minutes=2))
    decision = world.deliver(web.alarm_fires())["decisions"][0]

    # Then ECS's own rollback (to v2) is not taken: UpdateService to v1, the newest GOOD release
    assert decision["outcome"] == "ROLLED_BACK"
    assert decision["to"]["revision"] == "web:1"
    assert "not" in decision["message"] and "UpdateService" in decision["message"]
    assert world.count("ecs.StopServiceDeployment") == 0
    assert world.count("ecs.UpdateService") == 1
    assert world.ledger.rollbacks(web.id).items[0].path == "update_service"
    world.run_ecs()
    assert web.task_definition == web.revisions["v1"]


def test_a_rolling_deployment_still_in_progress_is_stopped_with_rollback(make_world, make_service):
    # Given a rolling service (the default) deploying v2, v1 GOOD
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.deploy("v2", complete=False)

    # When its alarm fires while ECS is still deploying it
    world.clock.advance(timedelta(minutes=2))
    decision = world.deliver(web.alarm_fires())["decisions"][0]

    # Then ECS rolls its own deployment back
    assert decision["outcome"] == "ROLLED_BACK"
    assert world.count("ecs.StopServiceDeployment") == 1
    assert world.count("ecs.UpdateService") == 0
    world.run_ecs()
    assert web.task_definition == web.revisions["v1"]
    assert world.ledger.load(web.id).in_flight is None


def test_a_deployment_that_finished_before_the_stop_is_rolled_back_with_update_service(
    make_world, make_service
):
    # Given a rolling service deploying v2, whose service deployment ECS finishes just before the stop
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.deploy("v2", complete=False)
    world.ecs.complete(web.id)  # the COMPLETED event is still on its way

    # When the alarm fires
    world.clock.advance(timedelta(minutes=2))
    decision = world.deliver(web.alarm_fires())["decisions"][0]

    # Then ECS answers that the deployment is over, and the service is updated to v1 instead
    assert decision["outcome"] == "ROLLED_BACK"
    assert world.count("ecs.StopServiceDeployment") == 1
    assert world.count("ecs.UpdateService") == 1
    assert world.ledger.rollbacks(web.id).items[0].path == "update_service"
    world.run_ecs()
    assert web.task_definition == web.revisions["v1"]


@pytest.mark.parametrize(
    ("controller", "code", "advice"),
    [
        ("EXTERNAL", "external_controller", "update-service-primary-task-set"),
        ("CODE_DEPLOY", "codedeploy_controller", "aws deploy stop-deployment"),
    ],
)
def test_a_service_ecs_does_not_deploy_is_refused_with_what_to_do(
    make_world, make_service, controller: str, code: str, advice: str
):
    # Given a service whose deployments another controller makes
    world = make_world()
    web = make_service(world, pinned=True, controller=controller)
    web.revision("v2", sha=SHA_V2, pinned=True)

    # When an operator asks for a rollback
    answer = world.manual(cluster="prod", service="web", target="web:2", reason="5xx after deploy")

    # Then it is refused, saying why and what to do instead, and ECS is untouched
    assert answer.get("error") == code, answer
    assert advice in answer["message"]
    assert world.count("ecs.UpdateService") == 0
    assert world.count("ecs.StopServiceDeployment") == 0


def test_the_digests_are_the_ones_ecs_recorded_on_the_service_revision(make_world, make_service):
    # Given a service deploying v2 by a mutable tag
    world = make_world()
    web = make_service(world)
    web.revision("v2", sha=SHA_V2)
    web.deploy("v2", complete=False)

    # Then the deployment's digest is ECS's own (its service revision), known as the deployment starts
    recorded = world.ledger.find_revision(web.id, _rev(web, "v2"))
    assert recorded is not None
    (image,) = recorded.images
    assert image.digest_source == "ecs-revision"
    assert image.digest == world.ecs.resolve(image.image)
    assert world.count("ecs.ListTasks") == 0
