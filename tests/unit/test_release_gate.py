"""The release gate over in-memory fakes: what ECS is told at each lifecycle stage, and why."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecs_rollback.domain.gate import FIRST_SEEN_KEY, STAGE_KEY
from ecs_rollback.domain.gitsha import ALLOW_BAD_RELEASE_TAG
from ecs_rollback.domain.model import ContainerImage, Verdict, iso
from ecs_rollback.events.lifecycle_hook import LifecycleHookEvent
from ecs_rollback.handlers import release_gate
from ecs_rollback.ports import LedgerChange, ServiceRevision
from ecs_rollback.services import capture
from tests.fakes import Fakes
from tests.unit.builders import (
    ECR_REPO,
    NOW,
    OTHER_SERVICE,
    SERVICE,
    digest,
    load_event,
    minutes,
    release,
    task_definition,
)

LIFECYCLE_HOOK_SAMPLES = (
    "ecs_lifecycle_hook_pre_scale_up.json",
    "ecs_lifecycle_hook_post_test_traffic_shift_called_again.json",
    "ecs_lifecycle_hook_production_traffic_shift_top_level.json",
)
REVISION = "arn:aws:ecs:us-east-1:123456789012:service-revision/prod/web/9313423515462893900"
BAKE = timedelta(seconds=600)


def hook(stage: str, *, service_arn: str = SERVICE.arn, **hook_details: Any) -> dict[str, Any]:
    """The payload ECS sends (the developer guide's sample), at ``stage``."""
    event = copy.deepcopy(load_event("ecs_lifecycle_hook_pre_scale_up.json"))
    event["lifecycleStage"] = stage
    event["executionDetails"]["serviceArn"] = service_arn
    if hook_details:
        event["hookDetails"] = hook_details
    return event


def deploying(fakes: Fakes, *, verdict: Verdict | None, tags: dict[str, str] | None = None) -> str:
    """web:3 naming ``repo:latest``, the target of the service revision ECS is deploying; ECS
    resolved the tag to sha256:3... for that revision. The ledger holds the release it makes,
    with ``verdict``. Returns the release id."""
    arn = fakes.ecs.add_task_definition(task_definition(("app", f"{ECR_REPO}:latest"), revision=3), tags)
    fakes.ecs.revisions[REVISION] = ServiceRevision(REVISION, SERVICE.arn, arn, {"app": digest(3)})
    fakes.ecs.digests[arn] = {"app": digest(3)}  # what its tasks ran, the last time it was deployed
    earlier = capture.capture(
        fakes.ecs, None, SERVICE, "ecs-svc/3", arn, NOW - minutes(90), NOW - minutes(90)
    )
    assert earlier is not None and earlier.images[0] == ContainerImage(
        "app", f"{ECR_REPO}:latest", digest(3), "ecs-task"
    )
    fakes.ecs.digests.clear()
    if verdict is not None:
        judged = release(earlier, verdict=verdict, verdict_reason="rolled back: alarm web-5xx in ALARM")
        fakes.ledger.commit(LedgerChange(state=None, expected_version=0, releases=[judged]))
    return earlier.release


# -- PRE_SCALE_UP ---------------------------------------------------------------------------------


def test_a_release_recorded_bad_is_failed_before_it_scales_up() -> None:
    # Given the release ECS is about to deploy was recorded BAD on this service
    fakes = Fakes()
    release_id = deploying(fakes, verdict=Verdict.BAD)

    # When ECS calls the gate at PRE_SCALE_UP
    answer = release_gate.handle(hook("PRE_SCALE_UP"), fakes.deps())

    # Then the deployment fails (ECS rolls it back), and the answer is counted
    assert answer == {"hookStatus": "FAILED"}
    assert fakes.telemetry.events == ["ReleaseGateFailed"]
    assert release_id.startswith("rel-")


@pytest.mark.parametrize("verdict", [Verdict.GOOD, None], ids=["good", "unknown"])
def test_a_good_or_unknown_release_goes_on(verdict: Verdict | None) -> None:
    # Given the release is GOOD, or the ledger never saw it
    fakes = Fakes()
    deploying(fakes, verdict=verdict)

    # When ECS calls the gate at PRE_SCALE_UP
    answer = release_gate.handle(hook("PRE_SCALE_UP"), fakes.deps())

    # Then it goes on
    assert answer == {"hookStatus": "SUCCEEDED"}
    assert fakes.telemetry.events == ["ReleaseGateSucceeded"]


def test_a_bad_release_tagged_to_be_allowed_goes_on() -> None:
    # Given a person tagged the revision to deploy the BAD release anyway (ecs-rollback deploy --force)
    fakes = Fakes()
    deploying(fakes, verdict=Verdict.BAD, tags={ALLOW_BAD_RELEASE_TAG: "true"})

    # When ECS calls the gate at PRE_SCALE_UP
    answer = release_gate.handle(hook("PRE_SCALE_UP"), fakes.deps())

    # Then it goes on
    assert answer == {"hookStatus": "SUCCEEDED"}


def test_a_bad_release_goes_on_where_known_bad_releases_are_not_rolled_back() -> None:
    # Given an installation told not to roll known-BAD releases back
    fakes = Fakes()
    deploying(fakes, verdict=Verdict.BAD)

    # When ECS calls the gate at PRE_SCALE_UP
    answer = release_gate.handle(hook("PRE_SCALE_UP"), fakes.deps(rollback_known_bad_releases=False))

    # Then the gate does not stop it either
    assert answer == {"hookStatus": "SUCCEEDED"}


def test_a_revision_unknown_to_ecs_goes_on() -> None:
    # Given ECS cannot describe the target revision
    fakes = Fakes()

    # When ECS calls the gate at PRE_SCALE_UP
    answer = release_gate.handle(hook("PRE_SCALE_UP"), fakes.deps())

    # Then nothing is known against it
    assert answer == {"hookStatus": "SUCCEEDED"}


# -- after a traffic shift ------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["POST_TEST_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"])
def test_a_linked_alarm_in_alarm_fails_the_deployment_after_a_traffic_shift(stage: str) -> None:
    # Given an alarm linked to the service (configured) is in ALARM
    fakes = Fakes()
    fakes.alarms.firing = ["web-5xx"]
    deps = fakes.deps(alarm_links=[{"alarm": "web-5xx", "cluster": "prod", "service": "web"}])

    # When ECS calls the gate after the traffic shifted
    answer = release_gate.handle(hook(stage), deps)

    # Then the deployment fails
    assert answer == {"hookStatus": "FAILED"}


def test_an_alarm_the_ledger_saw_linked_counts_too() -> None:
    # Given an alarm the ledger saw linked to the service (by its tags) is in ALARM
    fakes = Fakes()
    fakes.ledger.commit(LedgerChange(state=None, expected_version=0, alarm_seen=(SERVICE, "web-latency")))
    fakes.alarms.firing = ["web-latency"]

    # When ECS calls the gate after the production traffic shifted
    answer = release_gate.handle(hook("POST_PRODUCTION_TRAFFIC_SHIFT"), fakes.deps())

    # Then the deployment fails
    assert answer == {"hookStatus": "FAILED"}


def test_within_the_bake_time_the_gate_asks_to_be_called_again_and_carries_when_it_first_ran() -> None:
    # Given no linked alarm fires
    fakes = Fakes()

    # When ECS calls the gate for the first time after the test traffic shifted
    first = release_gate.handle(hook("POST_TEST_TRAFFIC_SHIFT"), fakes.deps(bake_time_seconds=600))

    # Then ECS is asked to call again within a minute, with the time it first ran
    assert first == {
        "hookStatus": "IN_PROGRESS",
        "callBackDelay": 60,
        "hookDetails": {FIRST_SEEN_KEY: iso(NOW), STAGE_KEY: "POST_TEST_TRAFFIC_SHIFT"},
    }
    assert fakes.telemetry.events == ["ReleaseGateInProgress"]

    # When ECS calls again nine and a half minutes later, with what the gate returned
    fakes.clock.moment = NOW + timedelta(seconds=570)
    again = release_gate.handle(
        hook("POST_TEST_TRAFFIC_SHIFT", **first["hookDetails"]), fakes.deps(bake_time_seconds=600)
    )

    # Then it still waits, only for what is left of the bake time, and keeps the first time
    assert again["hookStatus"] == "IN_PROGRESS"
    assert again["callBackDelay"] == 30
    assert again["hookDetails"][FIRST_SEEN_KEY] == iso(NOW)


def test_after_the_bake_time_with_no_alarm_the_deployment_goes_on() -> None:
    # Given the hook first ran five minutes ago (the sample ECS sends back) and no alarm fires
    fakes = Fakes()
    event = load_event("ecs_lifecycle_hook_post_test_traffic_shift_called_again.json")

    # When ECS calls again with a bake time of five minutes, and of ten
    done = release_gate.handle(event, fakes.deps(bake_time_seconds=300))
    waiting = release_gate.handle(event, fakes.deps(bake_time_seconds=600))

    # Then after five minutes it goes on; with ten it waits the five minutes left (polling each minute)
    assert done == {"hookStatus": "SUCCEEDED"}
    assert waiting["hookStatus"] == "IN_PROGRESS"
    assert waiting["callBackDelay"] == 60


def test_a_first_seen_time_of_another_stage_or_unreadable_starts_the_bake_again() -> None:
    # Given hookDetails carrying another stage's time, or nonsense
    fakes = Fakes()
    other = {FIRST_SEEN_KEY: iso(NOW - minutes(30)), STAGE_KEY: "POST_TEST_TRAFFIC_SHIFT"}
    nonsense = {FIRST_SEEN_KEY: "yesterday", STAGE_KEY: "POST_PRODUCTION_TRAFFIC_SHIFT"}

    # When ECS calls after the production traffic shifted
    answers = [
        release_gate.handle(hook("POST_PRODUCTION_TRAFFIC_SHIFT", **d), fakes.deps())
        for d in (other, nonsense)
    ]

    # Then the bake starts now
    assert [a["hookDetails"][FIRST_SEEN_KEY] for a in answers] == [iso(NOW), iso(NOW)]


# -- what the gate does not watch -----------------------------------------------------------------


@pytest.mark.parametrize("stage", ["RECONCILE_SERVICE", "POST_SCALE_UP", "PRODUCTION_TRAFFIC_SHIFT"])
def test_other_stages_go_on(stage: str) -> None:
    # Given a firing alarm and a BAD release (neither matters at these stages)
    fakes = Fakes()
    deploying(fakes, verdict=Verdict.BAD)
    fakes.alarms.firing = ["web-5xx"]

    # When ECS calls the gate at a stage it does not check (during a rollback too)
    answer = release_gate.handle(hook(stage), fakes.deps())

    # Then it goes on
    assert answer == {"hookStatus": "SUCCEEDED"}


@pytest.mark.parametrize(
    "service_arn",
    [
        "arn:aws:ecs:us-east-1:123456789012:service/staging/web",  # another cluster
        "arn:aws:ecs:eu-west-1:123456789012:service/prod/web",  # another region
    ],
)
def test_a_service_outside_the_scope_is_never_blocked(service_arn: str) -> None:
    # Given a BAD release and a firing alarm, on a service this installation does not watch
    fakes = Fakes()
    deploying(fakes, verdict=Verdict.BAD)
    fakes.alarms.firing = ["web-5xx"]
    deps = fakes.deps(alarm_links=[{"alarm": "web-5xx", "cluster": "prod", "service": "web"}])

    # When ECS calls the gate
    answers = [
        release_gate.handle(hook(stage, service_arn=service_arn), deps)
        for stage in ("PRE_SCALE_UP", "POST_TEST_TRAFFIC_SHIFT")
    ]

    # Then it goes on, and nothing was asked of AWS for it
    assert answers == [{"hookStatus": "SUCCEEDED"}] * 2
    assert fakes.alarms.tag_calls == []


def test_another_service_of_the_cluster_in_scope_is_gated_on_its_own_release() -> None:
    # Given web's release is BAD, and api deploys a revision the ledger knows nothing of for api
    fakes = Fakes()
    deploying(fakes, verdict=Verdict.BAD)
    event = hook("PRE_SCALE_UP", service_arn=OTHER_SERVICE.arn)

    # When ECS calls the gate for api
    answer = release_gate.handle(event, fakes.deps())

    # Then a verdict on web does not stop api
    assert answer == {"hookStatus": "SUCCEEDED"}


# -- malformed payloads and AWS faults ------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        {},
        "PRE_SCALE_UP",
        {"lifecycleStage": "PRE_SCALE_UP", "executionDetails": {"serviceArn": "web"}},
        {"lifecycleStage": "PRE_SCALE_UP"},
    ],
    ids=["empty", "not-an-object", "bad-arns", "no-details"],
)
def test_a_malformed_payload_is_refused_with_failed(event: Any) -> None:
    # Given a payload the gate cannot read
    fakes = Fakes()

    # When it is invoked with it
    answer = release_gate.handle(event, fakes.deps())

    # Then it answers FAILED (ECS would roll back on a missing hookStatus anyway), logged and counted
    assert answer == {"hookStatus": "FAILED"}
    assert fakes.telemetry.events == ["MalformedEvent", "ReleaseGateFailed"]


def test_a_transient_aws_fault_asks_ecs_to_call_again_soon() -> None:
    # Given DescribeAlarms throttles, within the bake of a hook that first ran a minute ago
    fakes = Fakes()
    throttled = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "DescribeAlarms"
    )

    def in_alarm(names: Any) -> list[str]:
        raise throttled

    fakes.alarms.in_alarm = in_alarm  # type: ignore[method-assign]
    carried = {FIRST_SEEN_KEY: iso(NOW - minutes(1)), STAGE_KEY: "POST_TEST_TRAFFIC_SHIFT"}
    deps = fakes.deps(alarm_links=[{"alarm": "web-5xx", "cluster": "prod", "service": "web"}])

    # When ECS calls the gate
    answer = release_gate.handle(hook("POST_TEST_TRAFFIC_SHIFT", **carried), deps)

    # Then ECS is asked to call again shortly, keeping the bake's start
    assert answer == {"hookStatus": "IN_PROGRESS", "callBackDelay": 15, "hookDetails": carried}


def test_a_permanent_aws_fault_fails_the_invocation() -> None:
    # Given ECS refuses DescribeServiceRevisions to the gate's role
    fakes = Fakes()
    denied = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeServiceRevisions"
    )

    def describe(arn: str) -> ServiceRevision | None:
        raise denied

    fakes.ecs.describe_service_revision = describe  # type: ignore[method-assign]

    # When ECS calls the gate, then the invocation fails (and ECS rolls the deployment back)
    with pytest.raises(ClientError):
        release_gate.handle(hook("PRE_SCALE_UP"), fakes.deps())


# -- the payload ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LIFECYCLE_HOOK_SAMPLES)
def test_both_documented_payload_forms_are_read(name: str) -> None:
    # Given a documented payload: executionDetails (the Lambda hooks page) or its fields top-level
    event = LifecycleHookEvent.model_validate(load_event(name))

    # Then the service, the stage and the target revision are read
    assert event.service == SERVICE
    assert event.target_revision == REVISION
    assert event.lifecycle_stage in ("PRE_SCALE_UP", "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")


def test_hook_details_configured_as_a_json_string_or_nonsense_do_not_fail_the_deployment() -> None:
    # Given hookDetails as CloudFormation's HookDetails string, or not an object at all
    as_string = {**hook("POST_TEST_TRAFFIC_SHIFT"), "hookDetails": '{"team": "payments"}'}
    as_list = {**hook("POST_TEST_TRAFFIC_SHIFT"), "hookDetails": ["x"]}

    # Then they are read, or ignored
    assert LifecycleHookEvent.model_validate(as_string).hook_details == {"team": "payments"}
    assert LifecycleHookEvent.model_validate(as_list).hook_details == {}
