"""ECS's own strategies and controllers, on the emulator: the harness plays service deployments,
``StopServiceDeployment`` and the controllers (moto has none of them); the product calls them as
it calls AWS."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from ecs_rollback_sandbox import codedeploy_deployments
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
    current = world.ledger.load(web.id).current
    assert (current.controller, current.strategy, current.ecs_bake_time_minutes) == ("ECS", "BLUE_GREEN", 10)
    assert world.ledger.find_revision(web.id, _rev(web, "v2")).ecs_bake_time_minutes == 10

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


# -- CODE_DEPLOY-controlled services: rolled back through CodeDeploy --------------------------

APPLICATION, DEPLOYMENT_GROUP = "AppECS-prod-web", "DgpECS-prod-web"
CODE_DEPLOY = [{"service": "prod/web", "application": APPLICATION, "deploymentGroup": DEPLOYMENT_GROUP}]


def _codedeploy_service(world: Any, make_service: Any) -> Any:
    """A CODE_DEPLOY service on v1 behind a load balancer (container app, port 8080), and the
    CodeDeploy application and deployment group that deploy it."""
    web = make_service(world, pinned=True, controller="CODE_DEPLOY", load_balancer=("app", 8080))
    codedeploy = world.emulator.client("codedeploy")
    codedeploy.create_application(applicationName=APPLICATION, computePlatform="ECS")
    codedeploy.create_deployment_group(
        applicationName=APPLICATION,
        deploymentGroupName=DEPLOYMENT_GROUP,
        serviceRoleArn="arn:aws:iam::123456789012:role/CodeDeployECS",
        deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
        deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        ecsServices=[{"serviceName": web.id.name, "clusterName": web.id.cluster}],
    )
    return web


def _app_spec(task_definition: str) -> str:
    return json.dumps(
        {
            "version": 0.0,
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": task_definition,
                            "LoadBalancerInfo": {"ContainerName": "app", "ContainerPort": 8080},
                        },
                    }
                }
            ],
        }
    )


def _deploy_through_codedeploy(world: Any, web: Any, label: str, *, complete: bool = True) -> str:
    """What a deploy tool does for a CODE_DEPLOY service (CreateDeployment), then ECS's part."""
    world.clock.advance(timedelta(minutes=1))
    deployment_id: str = world.emulator.client("codedeploy").create_deployment(
        applicationName=APPLICATION,
        deploymentGroupName=DEPLOYMENT_GROUP,
        revision={
            "revisionType": "AppSpecContent",
            "appSpecContent": {"content": _app_spec(web.revisions[label])},
        },
    )["deploymentId"]
    world.run_ecs(complete=complete)
    return deployment_id


def _created_deployments(world: Any) -> list[dict[str, Any]]:
    codedeploy = world.emulator.client("codedeploy")
    ids = codedeploy.list_deployments(applicationName=APPLICATION, deploymentGroupName=DEPLOYMENT_GROUP)
    return [codedeploy.get_deployment(deploymentId=i)["deploymentInfo"] for i in ids["deployments"]]


def test_a_codedeploy_service_is_rolled_back_with_a_codedeploy_deployment_of_the_good_release(
    make_world, make_service
):
    # Given a CODE_DEPLOY service whose deployment group is configured: v1 GOOD, v2 deployed by
    # CodeDeploy and live
    world = make_world(code_deploy=CODE_DEPLOY)
    web = _codedeploy_service(world, make_service)
    web.revision("v2", sha=SHA_V2, pinned=True)
    _deploy_through_codedeploy(world, web, "v2")
    assert web.task_definition == web.revisions["v2"]
    assert world.ledger.load(web.id).current.controller == "CODE_DEPLOY"

    # When v2's alarm fires
    world.clock.advance(timedelta(minutes=2))
    decision = world.deliver(web.alarm_fires())["decisions"][0]

    # Then CodeDeploy is asked to deploy v1 with the service's AppSpec, and ECS is not asked to
    assert decision["outcome"] == "ROLLED_BACK", decision
    assert decision["to"]["revision"] == "web:1"
    assert "CreateDeployment" in decision["message"]
    assert world.count("codedeploy.ListDeployments") == 1
    assert world.count("codedeploy.CreateDeployment") == 1
    assert world.count("codedeploy.StopDeployment") == 0
    assert world.count("ecs.UpdateService") == 0
    assert world.count("ecs.StopServiceDeployment") == 0
    record = world.ledger.rollbacks(web.id).items[0]
    assert record.path == "codedeploy"
    created = next(
        d for d in _created_deployments(world) if d["deploymentId"] == record.codedeploy_deployment_id
    )
    assert created["revision"]["revisionType"] == "AppSpecContent"
    assert json.loads(created["revision"]["appSpecContent"]["content"]) == json.loads(
        _app_spec(web.revisions["v1"])
    )

    # And when CodeDeploy (and ECS) carry it out, the rollback is followed to its end
    world.run_ecs()
    assert web.task_definition == web.revisions["v1"]
    assert web.status_of("v2") == "ROLLED_BACK"
    assert world.ledger.load(web.id).in_flight is None
    assert world.ledger.get_rollback(web.id, record.record_key).result == "COMPLETED"
    assert world.count("ecs.UpdateService") == 0


def test_a_codedeploy_deployment_still_in_progress_is_stopped_with_rollback(make_world, make_service):
    # Given a configured CODE_DEPLOY service on v1 (GOOD) whose CodeDeploy deployment of v2 is
    # still in progress
    world = make_world(code_deploy=CODE_DEPLOY)
    web = _codedeploy_service(world, make_service)
    web.revision("v2", sha=SHA_V2, pinned=True)
    ongoing = _deploy_through_codedeploy(world, web, "v2", complete=False)

    # When v2's alarm fires
    world.clock.advance(timedelta(minutes=2))
    decision = world.deliver(web.alarm_fires())["decisions"][0]

    # Then CodeDeploy's own deployment is stopped with rollback: no new deployment, no UpdateService
    assert decision["outcome"] == "ROLLED_BACK", decision
    assert "StopDeployment" in decision["message"]
    assert world.count("codedeploy.StopDeployment") == 1
    assert world.count("codedeploy.CreateDeployment") == 0
    assert world.count("ecs.UpdateService") == 0
    record = world.ledger.rollbacks(web.id).items[0]
    assert record.path == "codedeploy" and record.codedeploy_deployment_id == ongoing
    (stopped,) = _created_deployments(world)
    assert stopped["status"] == "Stopped"

    # And the service returns to v1, followed to its end
    world.run_ecs()
    assert web.task_definition == web.revisions["v1"]
    assert world.ledger.load(web.id).in_flight is None
    assert world.ledger.get_rollback(web.id, record.record_key).result == "COMPLETED"


def test_a_codedeploy_service_whose_group_is_not_configured_stays_refused(make_world, make_service):
    # Given a CODE_DEPLOY service and no codeDeploy configuration
    world = make_world()
    web = _codedeploy_service(world, make_service)
    web.revision("v2", sha=SHA_V2, pinned=True)
    _deploy_through_codedeploy(world, web, "v2")

    # When v2's alarm fires
    world.clock.advance(timedelta(minutes=2))
    decision = world.deliver(web.alarm_fires())["decisions"][0]

    # Then it is refused, saying what to do, and neither CodeDeploy nor ECS is asked
    assert decision["outcome"] == "REFUSED" and decision["code"] == "codedeploy_controller", decision
    assert "codeDeploy" in decision["message"]
    assert not [call for call in world.calls if call.startswith("codedeploy.")]
    assert world.count("ecs.UpdateService") == 0
    assert web.task_definition == web.revisions["v2"]


def test_a_manual_rollback_of_a_configured_codedeploy_service_the_ledger_never_saw_goes_through_codedeploy(
    make_world, make_service
):
    # Given a configured CODE_DEPLOY service on v1 the ledger has never seen, and a v2 revision
    world = make_world(code_deploy=CODE_DEPLOY)
    web = _codedeploy_service(world, make_service)
    web.revision("v2", sha=SHA_V2, pinned=True)

    # When an operator asks for web:2
    answer = world.manual(cluster="prod", service="web", target="web:2", reason="known good build")

    # Then what runs is adopted (not refused) and CodeDeploy deploys web:2; ECS is not asked to
    assert answer["outcome"] == "ROLLED_BACK", answer
    assert world.count("codedeploy.CreateDeployment") == 1
    assert world.count("ecs.UpdateService") == 0
    world.run_ecs()
    assert web.task_definition == web.revisions["v2"]


# -- a rollback through CodeDeploy followed to its end by CodeDeploy's own events -------------
# ECS sends no deployment events for a CODE_DEPLOY-controlled service: below, ECS's part is played
# without delivering any, and only CodeDeploy's "Deployment State-change Notification" is heard.


def _results_told(world: Any) -> list[dict[str, Any]]:
    return [
        n["body"] for n in world.notifications() if "result" in n["body"] and n["body"].get("rollback_id")
    ]


def _rolled_back_through_codedeploy(
    world: Any, make_service: Any, *, complete: bool = True
) -> tuple[Any, Any]:
    """v1 GOOD, v2 deployed by CodeDeploy and live (its SUCCESS event heard: not a rollback), then
    v2's alarm: CodeDeploy is asked to deploy v1. ECS carries the deployment out (or only starts
    it), silently."""
    web = _codedeploy_service(world, make_service)
    web.revision("v2", sha=SHA_V2, pinned=True)
    _deploy_through_codedeploy(world, web, "v2")
    (release,) = world.run_codedeploy()
    assert release["status"] == "not_a_rollback", release
    world.notifications()
    world.clock.advance(timedelta(minutes=2))
    decision = world.deliver(web.alarm_fires())["decisions"][0]
    assert decision["outcome"] == "ROLLED_BACK" and "CreateDeployment" in decision["message"], decision
    record = world.ledger.rollbacks(web.id).items[0]
    world.ecs.start_deployment(web.id)  # ECS's part, with no event (CODE_DEPLOY service)
    if complete:
        world.ecs.complete(web.id)
        assert web.task_definition == web.revisions["v1"]
    return web, record


def test_codedeploy_success_event_finishes_the_rollback_once(make_world, make_service):
    # Given a rollback through CodeDeploy whose deployment ECS carried out (no ECS event sent)
    world = make_world(code_deploy=CODE_DEPLOY)
    web, record = _rolled_back_through_codedeploy(world, make_service)
    assert world.ledger.load(web.id).in_flight is not None
    assert world.ledger.get_rollback(web.id, record.record_key).result is None
    world.notifications()

    # When CodeDeploy's SUCCESS event of the rollback's deployment arrives
    (event,) = world.codedeploy_events()
    assert (event["detail"]["deploymentId"], event["detail"]["state"]) == (
        record.codedeploy_deployment_id,
        "SUCCESS",
    )
    answer = world.deliver(event)

    # Then the rollback is COMPLETED, the lock released, v2 stays ROLLED_BACK, told once
    assert answer["status"] == "completed", answer
    finished = world.ledger.get_rollback(web.id, record.record_key)
    assert finished.result == "COMPLETED" and finished.result_at is not None
    state = world.ledger.load(web.id)
    assert state.in_flight is None and state.halted is None
    assert web.status_of("v2") == "ROLLED_BACK"
    assert [body["result"] for body in _results_told(world)] == ["COMPLETED"]

    # And a redelivery of the event changes nothing and tells nothing
    version = world.ledger.load(web.id).version
    again = world.deliver(event)
    assert again["status"] == "not_a_rollback", again
    assert world.ledger.load(web.id).version == version
    assert _results_told(world) == []
    assert world.count("ecs.UpdateService") == 0


def test_codedeploy_failure_event_records_failed_and_halts(make_world, make_service):
    # Given a rollback through CodeDeploy whose deployment fails
    world = make_world(code_deploy=CODE_DEPLOY)
    web, record = _rolled_back_through_codedeploy(world, make_service, complete=False)
    world.notifications()
    _fail_codedeploy(world, record.codedeploy_deployment_id)

    # When CodeDeploy's FAILURE event arrives
    (answer,) = world.run_codedeploy()

    # Then the rollback is FAILED, the lock released, automatic rollbacks halted, told once
    assert answer["status"] == "failed", answer
    assert world.ledger.get_rollback(web.id, record.record_key).result == "FAILED"
    state = world.ledger.load(web.id)
    assert state.in_flight is None
    assert state.halted is not None and record.codedeploy_deployment_id in state.halted.reason
    assert state.halted.rollback_id == record.rollback_id
    assert [body["result"] for body in _results_told(world)] == ["FAILED"]

    # And the next alarm is refused: a person must act, as after a failed ECS rollback deployment
    world.clock.advance(timedelta(minutes=5))
    decision = world.deliver(web.alarm_fires())["decisions"][0]
    assert decision["code"] == "automation_halted", decision


def _fail_codedeploy(world: Any, deployment_id: str) -> None:
    codedeploy_deployments.fail(world.ecs.account, world.emulator.region, deployment_id)


def _stopped_with_rollback(world: Any, make_service: Any) -> tuple[Any, Any]:
    """CodeDeploy's deployment of v2 still in progress, stopped with rollback on v2's alarm."""
    web = _codedeploy_service(world, make_service)
    web.revision("v2", sha=SHA_V2, pinned=True)
    ongoing = _deploy_through_codedeploy(world, web, "v2", complete=False)
    world.clock.advance(timedelta(minutes=2))
    decision = world.deliver(web.alarm_fires())["decisions"][0]
    assert "StopDeployment" in decision["message"], decision
    record = world.ledger.rollbacks(web.id).items[0]
    assert record.codedeploy_deployment_id == ongoing and record.codedeploy_stopped
    world.notifications()
    return web, record


def test_a_lost_codedeploy_event_is_made_good_by_the_reconciler(make_world, make_service):
    # Given a CodeDeploy deployment stopped with rollback (CodeDeploy puts the original task set
    # back: no ECS deployment, no ECS event), and CodeDeploy's STOP event lost
    world = make_world(code_deploy=CODE_DEPLOY)
    web, record = _stopped_with_rollback(world, make_service)
    assert [event["detail"]["state"] for event in world.codedeploy_events()] == ["STOP"]  # lost

    # When the reconciler runs within the grace, then after it
    world.reconcile()
    gets_within_grace = world.count("codedeploy.GetDeployment")
    assert world.ledger.load(web.id).in_flight is not None
    world.clock.advance(timedelta(minutes=4))
    world.reconcile()

    # Then one GetDeployment finishes it as the event would have: COMPLETED, unlocked, told once
    assert world.count("codedeploy.GetDeployment") == gets_within_grace + 1
    assert world.ledger.get_rollback(web.id, record.record_key).result == "COMPLETED"
    assert world.ledger.load(web.id).in_flight is None
    assert [body["result"] for body in _results_told(world)] == ["COMPLETED"]

    # And the next pass asks CodeDeploy nothing more
    world.clock.advance(timedelta(minutes=1))
    world.reconcile()
    assert world.count("codedeploy.GetDeployment") == gets_within_grace + 1


def test_the_stop_event_of_the_deployment_stopped_with_rollback_completes_the_rollback(
    make_world, make_service
):
    # Given a CodeDeploy deployment of v2 still in progress, stopped with rollback on v2's alarm
    world = make_world(code_deploy=CODE_DEPLOY)
    web, record = _stopped_with_rollback(world, make_service)

    # When CodeDeploy's STOP event of that deployment arrives
    (answer,) = world.run_codedeploy()

    # Then the rollback is COMPLETED and the lock released, told once
    assert answer["status"] == "completed", answer
    assert world.ledger.get_rollback(web.id, record.record_key).result == "COMPLETED"
    assert world.ledger.load(web.id).in_flight is None
    assert [body["result"] for body in _results_told(world)] == ["COMPLETED"]
