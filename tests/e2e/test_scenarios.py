"""The issue's end-to-end scenarios, on the deployed stack.

Each event is routed by the deployed rules' own patterns to the handler of the deployed function,
which runs with the environment CloudFormation resolved for it. Assertions read the emulator:
the ECS service's task definition and images, the tasks' digests, the ledger, the inbox queue
subscribed to the notification topic, and the AWS calls the functions made.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from ecs_rollback.domain.model import ImageReference
from ecs_rollback_sandbox.demo import V1, V2, V3
from ecs_rollback_sandbox.fleet import play_ecs, revision_of
from tests.e2e.conftest import Harness, bad_release


def test_alarm_after_a_bad_deploy_rolls_back_to_the_last_good_revision(harness: Harness) -> None:
    # Given web:1 GOOD, web:2 whose deployment failed (rolled back, so BAD), then web:3 deployed
    web = harness.good_service()
    web.release(V2)
    web.deploy("v2", complete=False)
    assert web.fail()["decision"]["outcome"] == "ROLLED_BACK"
    play_ecs(harness.world, harness.timeline)
    harness.later(30)
    web.release(V3)
    web.deploy("v3")
    harness.world.notifications()
    updates_before = harness.world.count("ecs.UpdateService")

    # When the linked 5xx alarm fires five minutes later
    harness.later(5)
    result = web.alarm()

    # Then the alarm rule's function rolls back to web:1, the newest GOOD, not to the previous web:2
    (decision,) = result["decisions"]
    assert (decision["outcome"], decision["from"]["revision"], decision["to"]["revision"]) == (
        "ROLLED_BACK",
        revision_of(web.revisions["v3"]),
        "web:1",
    )
    assert harness.world.count("ecs.UpdateService") == updates_before + 1
    assert web.images() == [f"{web.repository_uri}@{web.digests['v1']}"]
    assert web.status_of("v3") == "ROLLED_BACK"
    assert web.status_of("v2") == "FAILED"
    (note,) = harness.world.notifications()
    assert (
        note["subject"]
        == f"[ecs-rollback] demo/web: rolled back ({revision_of(web.revisions['v3'])} -> web:1)"
    )
    assert note["body"]["trigger"] == "alarm"

    # And once ECS has played the rollback deployment, the tasks run web:1's image
    play_ecs(harness.world, harness.timeline)
    assert harness.running_digests(web) == {web.digests["v1"]}


def test_failed_deployment_rolls_back(harness: Harness) -> None:
    # Given web:1 GOOD and web:2 deploying
    web = harness.good_service()
    web.release(V2)
    web.deploy("v2", complete=False)

    # When ECS reports the deployment FAILED (circuit breaker without rollback)
    result = web.fail()

    # Then the deployment rule's function records it FAILED and rolls back to web:1
    assert result["status"] == "failed"
    assert result["decision"]["outcome"] == "ROLLED_BACK"
    assert result["decision"]["trigger"] == "deployment_failed"
    assert harness.world.count("ecs.UpdateService") == 1
    assert web.images() == [f"{web.repository_uri}@{web.digests['v1']}"]
    assert web.status_of("v2") == "FAILED"

    # And ECS's rollback deployment completes, which the ledger and a notification report
    play_ecs(harness.world, harness.timeline)
    assert harness.rollbacks(web)[0].result == "COMPLETED"
    assert [n["subject"] for n in harness.world.notifications()] == [
        f"[ecs-rollback] demo/web: rolled back ({revision_of(web.revisions['v2'])} -> web:1)",
        "[ecs-rollback] demo/web: rollback deployment COMPLETED",
    ]


def test_ecs_circuit_breaker_already_rolling_back_is_recorded_with_no_action(harness: Harness) -> None:
    # Given a service whose circuit breaker rolls back by itself, deploying web:2
    web = harness.service(circuit_breaker_rollback=True)
    web.bake()
    web.release(V2)
    web.deploy("v2", complete=False)
    harness.world.notifications()
    registered = harness.world.count("ecs.RegisterTaskDefinition")

    # When ECS fails the deployment and starts its own rollback to web:1
    harness.later(4)
    failed, rolling_back = web.fail_with_ecs_rollback()

    # Then both are recorded, the decision is "ECS is rolling back", and the service makes no ECS change
    assert failed["decision"]["outcome"] == "SKIPPED"
    assert failed["decision"]["code"] == "ecs_rolling_back"
    assert rolling_back["status"] == "in_progress"
    assert harness.world.count("ecs.UpdateService") == 0
    assert harness.world.count("ecs.RegisterTaskDefinition") == registered
    newest = harness.history(web)[0]
    assert (newest.origin.value, newest.task_definition_arn) == ("ecs_rollback", web.revisions["v1"])
    assert web.status_of("v2") == "FAILED"
    assert web.task_definition == web.revisions["v1"]


def test_late_regression_inside_the_watch_window_rolls_back_a_good_revision(harness: Harness) -> None:
    # Given web:2 deployed, baked to GOOD (10 minutes), and 20 minutes past its COMPLETED
    web = harness.good_service()
    web.release(V2)
    web.deploy("v2")
    completed_at = web.recorded("v2").completed_at
    assert [r["status"] for r in web.bake()] == ["promoted"]
    assert web.status_of("v2") == "GOOD"
    harness.clock.advance(completed_at + _minutes(20) - harness.clock.now())
    harness.world.notifications()

    # When the alarm fires: a regression ECS's deployment alarms (deployment and bake only) miss
    result = web.alarm()

    # Then it is inside the 60-minute watch window: rolled back to web:1
    (decision,) = result["decisions"]
    assert (decision["outcome"], decision["to"]["revision"]) == ("ROLLED_BACK", "web:1")
    assert web.images() == [f"{web.repository_uri}@{web.digests['v1']}"]
    assert web.status_of("v2") == "ROLLED_BACK"
    assert harness.world.count("ecs.UpdateService") == 1


def test_alarm_on_a_service_stable_past_the_watch_window_only_notifies(harness: Harness) -> None:
    # Given web:2 GOOD and stable for 61 minutes after COMPLETED
    web = harness.good_service()
    web.release(V2)
    web.deploy("v2")
    completed_at = web.recorded("v2").completed_at
    web.bake()
    harness.clock.advance(completed_at + _minutes(61) - harness.clock.now())
    harness.world.notifications()

    # When the CPU alarm, linked to the service by its ClusterName/ServiceName dimensions, fires
    result = web.alarm(web.dimension_alarm)

    # Then nothing changes in ECS; one notification says why
    (decision,) = result["decisions"]
    assert (decision["outcome"], decision["code"]) == ("SKIPPED", "outside_watch_window")
    assert harness.world.count("ecs.UpdateService") == 0
    assert web.task_definition == web.revisions["v2"]
    assert web.status_of("v2") == "GOOD"
    (note,) = harness.world.notifications()
    assert note["body"]["code"] == "outside_watch_window"
    assert note["subject"] == "[ecs-rollback] demo/web: no rollback (outside watch window)"


def test_flapping_the_loop_guard_stops_the_fourth_rollback_and_notifies(harness: Harness) -> None:
    # Given web:1 GOOD and the stack's loop guard (3 automatic rollbacks per service per hour)
    web = harness.good_service()
    assert harness.world.settings["alarm_events"].loop_guard_limit == 3

    # When bad releases are deployed in a row, each one's alarm firing five minutes later
    outcomes = []
    for number in range(1, 5):
        web.release(bad_release(number))
        web.deploy(f"bad{number}")
        harness.later(5)
        (decision,) = web.alarm()["decisions"]
        outcomes.append((decision["outcome"], decision["code"]))
        play_ecs(harness.world, harness.timeline)
        harness.later(3)

    # Then three are rolled back, and the fourth is refused, left running, and a person is told
    assert outcomes == [("ROLLED_BACK", "rollback")] * 3 + [("REFUSED", "loop_guard")]
    assert harness.world.count("ecs.UpdateService") == 3
    assert web.task_definition == web.revisions["bad4"]
    refused = [n for n in harness.world.notifications() if n["body"]["outcome"] == "REFUSED"]
    assert len(refused) == 1
    assert "loop guard" in refused[0]["subject"]
    assert [r.outcome.value for r in harness.rollbacks(web)].count("ROLLED_BACK") == 3


def test_mutable_tag_rollback_runs_the_recorded_digest_not_the_moved_tag(harness: Harness) -> None:
    # Given web:1 (image web:latest = D1) GOOD, then `latest` moved to D2 and web:2 (also web:latest) deployed
    web = harness.good_service()
    d1 = web.digests["v1"]
    web.release(V2)
    d2 = web.digests["v2"]
    web.deploy("v2")
    assert d1 != d2
    assert harness.running_digests(web) == {d2}
    assert web.images(web.revisions["v1"]) == [f"{web.repository_uri}:latest"]

    # When the alarm rolls the service back to web:1
    harness.later(4)
    (decision,) = web.alarm()["decisions"]
    play_ecs(harness.world, harness.timeline)

    # Then the service's task definition names web:1's recorded digest, not the tag that now means D2
    assert web.tag_digest("latest") == d2
    deployed = web.task_definition
    assert deployed == decision["deployed_task_definition_arn"] != web.revisions["v1"]
    (image,) = web.images(deployed)
    assert ImageReference.parse(image).digest == d1
    assert image == f"{web.repository_uri}@{d1}"
    assert harness.running_digests(web) == {d1}

    # And the pinned copy says where it came from, and the ledger holds both revisions' digests
    tags = _task_definition_tags(harness, deployed)
    assert tags["ecs-rollback:source-revision"] == "web:1"
    assert tags["ecs-rollback:git-sha"] == V1.git_sha
    assert [image.digest for image in web.recorded("v1").images] == [d1]
    assert [image.digest for image in web.recorded("v2").images] == [d2]


def test_manual_rollback_to_a_git_sha_through_the_functions_contract(
    harness: Harness, manual_endpoint: tuple[Any, str]
) -> None:
    # Given web:1 (V1's commit) GOOD, web:2 GOOD, web:3 running; the manual function served for Invoke
    endpoint, function_name = manual_endpoint
    web = harness.good_service()
    web.release(V2, tag=V2.git_sha[:7])
    web.deploy("v2")
    web.bake()
    harness.later(90)
    web.release(V3, tag=V3.git_sha[:7])
    web.deploy("v3")
    harness.world.notifications()

    # When an operator invokes the deployed function by name, with the contract's JSON, for V1's commit
    answer = harness.invoke(
        endpoint,
        function_name,
        {
            "cluster": "demo",
            "service": "web",
            "target": V1.git_sha[:8],
            "reason": "checkout errors since web:3",
            "requested_by": "arn:aws:iam::123456789012:user/oncall",
        },
    )

    # Then the answer follows the contract, and the service runs V1's image
    assert answer["outcome"] == "ROLLED_BACK"
    assert answer["to"]["git_sha"] == V1.git_sha
    assert (answer["from"]["revision"], answer["to"]["revision"]) == (
        revision_of(web.revisions["v3"]),
        "web:1",
    )
    assert answer["rollback_id"] and answer["message"]
    assert "data migrations" in answer["reminder"]
    play_ecs(harness.world, harness.timeline)
    assert harness.running_digests(web) == {web.digests["v1"]}
    record = harness.rollbacks(web)[0]
    assert (record.trigger.value, record.requested_by) == ("manual", "arn:aws:iam::123456789012:user/oncall")
    assert record.result == "COMPLETED"


def test_a_malformed_event_or_request_is_refused_and_changes_nothing(
    harness: Harness, manual_endpoint: tuple[Any, str]
) -> None:
    # Given web:1 GOOD and web:2 running
    endpoint, function_name = manual_endpoint
    web = harness.good_service()
    web.release(V2)
    web.deploy("v2")
    harness.world.notifications()
    before = _ledger_snapshot(harness, web)
    registered = harness.world.count("ecs.RegisterTaskDefinition")

    # When an ECS event the rule matches arrives without its deployment id, and a manual request without a reason
    event = harness.world.ecs.deployment_event(
        web.id, "SERVICE_DEPLOYMENT_FAILED", "x", "broken", event_type="ERROR"
    )
    del event["detail"]["deploymentId"]
    routed = [target.function for target in harness.world.targets(event)]
    result = harness.world.deliver(event)
    answer = harness.invoke(endpoint, function_name, {"cluster": "demo", "service": "web", "target": "web:1"})

    # Then each is refused with a clear reason, and nothing changed: no ECS change, ledger as before, no notification
    assert routed == ["deployment_events"]
    assert result["status"] == "rejected"
    assert any(problem["field"].endswith("deploymentId") for problem in result["problems"])
    assert answer["error"] == "missing_field"
    assert "reason" in answer["message"]
    assert harness.world.count("ecs.UpdateService") == 0
    assert harness.world.count("ecs.RegisterTaskDefinition") == registered
    assert web.task_definition == web.revisions["v2"]
    assert _ledger_snapshot(harness, web) == before
    assert harness.world.notifications() == []


def test_events_for_a_service_outside_the_scope_are_refused_and_change_nothing(
    harness: Harness, manual_endpoint: tuple[Any, str]
) -> None:
    # Given demo/web in scope, and demo/api (not in scope) with its own alarms, deployed twice
    endpoint, function_name = manual_endpoint
    web = harness.good_service()
    api = harness.service("api")
    api.release(V2)
    api.deploy("v2")
    harness.world.cloudwatch.create_service_alarm("web-api-latency", "demo", "api")
    harness.world.notifications()
    web_before = _ledger_snapshot(harness, web)
    dropped_before = sum(1 for entry in harness.timeline.entries if "no rule matched" in entry.text)

    # When api's events arrive: its deployment, its own alarm, an alarm the rule's name prefix lets
    # through but whose dimensions name demo/api, and a manual request for api
    api_alarm = api.alarm(api.linked_alarm)
    prefixed_alarm = api.alarm("web-api-latency")
    answer = harness.invoke(
        endpoint,
        function_name,
        {
            "cluster": "demo",
            "service": "api",
            "reason": "try",
            "requested_by": "arn:aws:iam::123456789012:user/x",
        },
    )

    # Then the deployed rules dropped the deployment events and api's alarm (their patterns name
    # only demo/web and web-* alarms), the alarm function linked the other to no service in scope,
    # the manual function refused, and nothing changed
    assert dropped_before >= 4  # api's first deployment and its v2 deployment: IN_PROGRESS, COMPLETED each
    assert api_alarm == {"status": "no rule matched"}
    assert prefixed_alarm == {"status": "ignored", "decisions": []}
    assert answer["outcome"] == "REFUSED"
    assert answer["code"] == "out_of_scope"
    assert harness.world.count("ecs.UpdateService") == 0
    assert api.task_definition == api.revisions["v2"]
    assert harness.world.ledger.load(api.id) is None
    assert _ledger_snapshot(harness, web) == web_before
    # (the Notifier publishes the refusal's notice, which names api: no event of api reached a function)
    assert not [
        payload
        for function, payload, _ in harness.world.delivered
        if function != "notifier" and api.id.arn in json.dumps(payload)
    ]


def _minutes(count: float) -> timedelta:
    return timedelta(minutes=count)


def _ledger_snapshot(harness: Harness, service: Any) -> tuple[Any, ...]:
    state = harness.world.ledger.load(service.id)
    return (
        state.version if state else None,
        [(d.deployment_id, d.status, d.task_definition_arn) for d in harness.history(service)],
        len(harness.rollbacks(service)),
    )


def _task_definition_tags(harness: Harness, arn: str) -> dict[str, str]:
    response = harness.world.emulator.client("ecs").describe_task_definition(
        taskDefinition=arn, include=["TAGS"]
    )
    return {tag["key"]: tag["value"] for tag in response.get("tags", [])}
