"""Pause hooks over in-memory fakes: a deployment paused at a PAUSE hook is told CONTINUE or
ROLLBACK by the release gate's rules, or left awaiting, and only for services that opt in."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from ecs_rollback.domain import gate
from ecs_rollback.domain.gate import GateAnswer, HookStatus, PauseAction
from ecs_rollback.domain.model import Verdict, iso
from ecs_rollback.events.pause_hook import PauseHookEvent
from ecs_rollback.handlers import release_gate
from ecs_rollback.ports import PausedDeployment
from tests.fakes import Fakes
from tests.unit.builders import NOW, SERVICE, load_event
from tests.unit.test_release_gate import REVISION, deploying

DEPLOYMENT = "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/r9i43YFjvgF_xlg7m2eJ1r"
HOOK = "ecs-pause-e7tK9G_WRJqNF_EOMjztDXfKenlJuEUVjsNStf4WLKw"
OPTED_IN = {"services": ["prod/web"]}
LINKED = [{"alarm": "web-5xx", "cluster": "prod", "service": "web"}]


def paused_event(*, at: Any = NOW, **detail: Any) -> dict[str, Any]:
    """The sample ``ECS Hook State Change``, of the service deployment paused in the fakes."""
    event = copy.deepcopy(load_event("ecs_hook_awaiting_action.json"))
    event.update(account=SERVICE.account, region=SERVICE.region, time=iso(at), resources=[SERVICE.arn])
    event["detail"].update(serviceDeploymentArn=DEPLOYMENT, hookId=HOOK, **detail)
    return event


def pause(fakes: Fakes, stage: str) -> None:
    fakes.ecs.paused[DEPLOYMENT] = PausedDeployment(DEPLOYMENT, "IN_PROGRESS", stage, REVISION, (HOOK,))


# -- the rules: the Lambda hook's answer, as a pause hook's action ---------------------------------


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (HookStatus.SUCCEEDED, PauseAction.CONTINUE),
        (HookStatus.FAILED, PauseAction.ROLLBACK),
        (HookStatus.IN_PROGRESS, None),
    ],
)
def test_each_hook_status_is_one_pause_action(status: HookStatus, action: PauseAction | None) -> None:
    assert gate.pause_action(GateAnswer(status, "code", "why")) == action


def test_the_bake_of_a_pause_counts_from_when_the_deployment_paused() -> None:
    # Given a pause five minutes ago, a ten-minute bake, no alarm
    carried = gate.paused_since("POST_TEST_TRAFFIC_SHIFT", NOW - timedelta(minutes=5))

    # Then it still bakes, and goes on once ten minutes have passed since the pause
    baking = gate.after_traffic_shift("POST_TEST_TRAFFIC_SHIFT", [], carried, NOW, timedelta(minutes=10))
    baked = gate.after_traffic_shift(
        "POST_TEST_TRAFFIC_SHIFT", [], carried, NOW + timedelta(minutes=5), timedelta(minutes=10)
    )
    assert gate.pause_action(baking) is None
    assert gate.pause_action(baked) == PauseAction.CONTINUE


# -- the event ------------------------------------------------------------------------------------


def test_the_sample_event_reads_as_its_service_deployment() -> None:
    event = PauseHookEvent.model_validate(load_event("ecs_hook_awaiting_action.json"))
    assert str(event.service) == "my-cluster/my-service"
    assert event.detail.hook_id == HOOK
    assert event.detail.lifecycle_stage == "POST_TEST_TRAFFIC_SHIFT"


def test_the_service_deployment_may_be_named_in_resources_only() -> None:
    raw = paused_event()
    del raw["detail"]["serviceDeploymentArn"]
    raw["resources"] = [SERVICE.arn, DEPLOYMENT]
    assert PauseHookEvent.model_validate(raw).service_deployment_arn == DEPLOYMENT


def test_an_event_without_its_service_deployment_is_refused() -> None:
    # Given an event naming no service deployment
    fakes = Fakes()
    raw = paused_event()
    del raw["detail"]["serviceDeploymentArn"]

    # Then it is refused, nothing asked of ECS
    answer = release_gate.handle(raw, fakes.deps(answer_pause_hooks=OPTED_IN))
    assert answer["status"] == "rejected"
    assert fakes.ecs.continued == []


# -- the answers ----------------------------------------------------------------------------------


def test_a_release_recorded_bad_paused_before_it_scales_up_is_rolled_back() -> None:
    # Given a service that opts in, paused at PRE_SCALE_UP deploying a release recorded BAD
    fakes = Fakes()
    deploying(fakes, verdict=Verdict.BAD)
    pause(fakes, "PRE_SCALE_UP")

    # When the event arrives
    answer = release_gate.handle(paused_event(), fakes.deps(answer_pause_hooks=OPTED_IN))

    # Then ECS is told ROLLBACK on that hook
    assert (answer["action"], answer["code"]) == ("ROLLBACK", "known_bad")
    assert fakes.ecs.continued == [(DEPLOYMENT, HOOK, "ROLLBACK")]
    assert fakes.telemetry.events == ["PauseHookRolledBack"]


def test_a_clean_release_paused_before_it_scales_up_is_continued() -> None:
    fakes = Fakes()
    deploying(fakes, verdict=Verdict.GOOD)
    pause(fakes, "PRE_SCALE_UP")

    answer = release_gate.handle(paused_event(), fakes.deps(answer_pause_hooks=OPTED_IN))

    assert answer["action"] == "CONTINUE"
    assert fakes.ecs.continued == [(DEPLOYMENT, HOOK, "CONTINUE")]
    assert fakes.telemetry.events == ["PauseHookContinued"]


def test_a_linked_alarm_in_alarm_after_a_shift_rolls_the_paused_deployment_back() -> None:
    fakes = Fakes()
    fakes.alarms.firing = ["web-5xx"]
    pause(fakes, "POST_PRODUCTION_TRAFFIC_SHIFT")

    answer = release_gate.handle(paused_event(), fakes.deps(answer_pause_hooks=OPTED_IN, alarm_links=LINKED))

    assert (answer["action"], answer["code"]) == ("ROLLBACK", "alarm")
    assert fakes.ecs.continued == [(DEPLOYMENT, HOOK, "ROLLBACK")]


def test_after_a_shift_a_quiet_pause_is_left_while_it_bakes_and_continued_after() -> None:
    # Given a quiet service paused after the shift, the event sent when it paused
    fakes = Fakes()
    pause(fakes, "POST_TEST_TRAFFIC_SHIFT")
    deps = fakes.deps(answer_pause_hooks=OPTED_IN, alarm_links=LINKED)

    # When it arrives at once, the hook is left awaiting
    waiting = release_gate.handle(paused_event(), deps)
    assert (waiting["status"], waiting["code"]) == ("left", "baking")
    assert fakes.ecs.continued == []

    # And when it arrives after the bake time (a retry, late), it is continued
    late = release_gate.handle(paused_event(at=NOW - timedelta(seconds=601)), deps)
    assert (late["action"], late["code"]) == ("CONTINUE", "baked")


def test_a_stage_the_gate_does_not_check_is_continued() -> None:
    fakes = Fakes()
    fakes.alarms.firing = ["web-5xx"]
    pause(fakes, "POST_SCALE_UP")

    answer = release_gate.handle(paused_event(), fakes.deps(answer_pause_hooks=OPTED_IN, alarm_links=LINKED))

    assert (answer["action"], answer["code"]) == ("CONTINUE", "stage_not_gated")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({}, "not_opted_in"),
        ({"answer_pause_hooks": {"services": ["prod/api"]}}, "not_opted_in"),
        ({"answer_pause_hooks": OPTED_IN, "scope": {"clusters": ["staging"]}}, "out_of_scope"),
    ],
)
def test_a_service_not_opted_in_or_out_of_scope_is_left_untouched(
    overrides: dict[str, Any], code: str
) -> None:
    # Given a BAD release paused before it scales up
    fakes = Fakes()
    deploying(fakes, verdict=Verdict.BAD)
    pause(fakes, "PRE_SCALE_UP")

    # When the event arrives for a service that does not opt in (or is out of scope)
    answer = release_gate.handle(paused_event(), fakes.deps(**overrides))

    # Then nothing is answered
    assert (answer["status"], answer["code"]) == ("left", code)
    assert fakes.ecs.continued == []


def test_a_hook_no_longer_awaiting_action_is_left_alone() -> None:
    # Given the hook was answered already (the event delivered twice)
    fakes = Fakes()
    fakes.ecs.paused[DEPLOYMENT] = PausedDeployment(DEPLOYMENT, "IN_PROGRESS", "PRE_SCALE_UP", REVISION, ())

    answer = release_gate.handle(paused_event(), fakes.deps(answer_pause_hooks=OPTED_IN))

    assert (answer["status"], answer["code"]) == ("left", "not_awaiting")
    assert fakes.ecs.continued == []
