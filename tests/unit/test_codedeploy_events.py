"""The end of a rollback through CodeDeploy: CodeDeploy's deployment event parses, its final
state says how the rollback ended, and that end releases the lock as the ECS path does."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from ecs_rollback.domain import lifecycle
from ecs_rollback.domain.codedeploy import FINAL_STATES, rollback_result
from ecs_rollback.domain.state import Step
from ecs_rollback.events.codedeploy_deployment import CODEDEPLOY_DETAIL_TYPE, CodeDeployDeploymentEvent
from tests.unit.builders import deployment, load_event, lock, state

SAMPLE = "codedeploy_deployment_success.json"


def test_the_user_guide_sample_parses() -> None:
    # Given CodeDeploy's sample "CodeDeploy Deployment State-change Notification"
    raw = load_event(SAMPLE)

    # When it is parsed
    event = CodeDeployDeploymentEvent.model_validate(raw)

    # Then its detail is typed
    assert event.detail_type == CODEDEPLOY_DETAIL_TYPE
    assert event.detail.deployment_id == "d-123456789"
    assert (event.detail.application, event.detail.deployment_group) == ("myApplication", "myDeploymentGroup")
    assert event.detail.state == "SUCCESS"
    assert event.detail.instance_group_id == "9fd2fbef-2157-40d8-91e7-6845af69e2d2"
    assert event.time.tzinfo is not None


@pytest.mark.parametrize("state_name", ["START", "SUCCESS", "FAILURE", "STOP", "READY"])
def test_every_documented_state_parses(state_name: str) -> None:
    # Given the sample in each state CodeDeploy sends
    raw = load_event(SAMPLE)
    raw["detail"]["state"] = state_name

    # When it is parsed, then the state is kept
    assert CodeDeployDeploymentEvent.model_validate(raw).detail.state == state_name


def _without(key: str) -> Any:
    return lambda raw: raw["detail"].pop(key)


@pytest.mark.parametrize(
    "edit",
    [
        lambda raw: raw.update(source="aws.ecs"),
        lambda raw: raw.update({"detail-type": "CodeDeploy Instance State-change Notification"}),
        lambda raw: raw["detail"].update(state="SUCCEEDED"),
        lambda raw: raw["detail"].update(deploymentId="d-1/2"),
        _without("deploymentId"),
        _without("application"),
        _without("deploymentGroup"),
        _without("state"),
    ],
)
def test_near_misses_fail_validation(edit: Any) -> None:
    # Given the sample with one thing wrong
    raw = copy.deepcopy(load_event(SAMPLE))
    edit(raw)

    # When it is parsed, then it is refused
    with pytest.raises(ValidationError):
        CodeDeployDeploymentEvent.model_validate(raw)


def test_unknown_fields_are_ignored() -> None:
    raw = load_event(SAMPLE)
    raw["detail"]["newAttribute"] = {"from": "AWS"}
    assert CodeDeployDeploymentEvent.model_validate(raw).detail.state == "SUCCESS"


@pytest.mark.parametrize(
    ("state_name", "stopped", "expected"),
    [
        # a deployment the rollback created: only its success is the rollback done
        ("SUCCESS", False, "COMPLETED"),
        ("FAILURE", False, "FAILED"),
        ("STOP", False, "FAILED"),
        # the deployment the rollback stopped with rollback: its stop is the rollback done
        ("STOP", True, "COMPLETED"),
        ("SUCCESS", True, "FAILED"),
        ("FAILURE", True, "FAILED"),
        # not ended
        ("START", False, None),
        ("READY", True, None),
    ],
)
def test_how_a_rollback_through_codedeploy_ended(
    state_name: str, stopped: bool, expected: str | None
) -> None:
    assert rollback_result(state_name, stopped=stopped) == expected


def test_get_deployment_final_statuses_are_the_events_states() -> None:
    assert FINAL_STATES == {"Succeeded": "SUCCESS", "Failed": "FAILURE", "Stopped": "STOP"}


def test_the_end_of_the_rollback_in_flight_releases_the_lock() -> None:
    # Given a rollback in flight whose CodeDeploy deployment was asked for
    in_flight = lock(1, rollback_id="rb-9", step=Step.UPDATED)
    service_state = state(deployment(3), in_flight=in_flight)

    # When it ends
    transition = lifecycle.finish_in_flight(lifecycle.Transition(service_state), "rb-9", "COMPLETED")

    # Then the lock is released and the record is to get its result
    assert transition.state.in_flight is None
    assert (transition.rollback_finished, transition.finished_rollback_key) == (
        "COMPLETED",
        in_flight.record_key,
    )


def test_the_end_of_another_rollback_keeps_the_lock() -> None:
    in_flight = lock(1, rollback_id="rb-9", step=Step.UPDATED)
    service_state = state(deployment(3), in_flight=in_flight)

    transition = lifecycle.finish_in_flight(lifecycle.Transition(service_state), "rb-other", "COMPLETED")

    assert transition.state.in_flight == in_flight and transition.rollback_finished is None


def test_an_end_before_the_run_recorded_the_call_waits_for_the_resuming_run() -> None:
    # Given a rollback whose run died before recording that CodeDeploy was asked
    in_flight = lock(1, rollback_id="rb-9", step=Step.LOCKED)
    service_state = state(deployment(3), in_flight=in_flight)

    # When its deployment ends
    transition = lifecycle.finish_in_flight(lifecycle.Transition(service_state), "rb-9", "FAILED")

    # Then the lock is kept with the result, for the run that resumes it
    assert transition.state.in_flight is not None and transition.state.in_flight.ended == "FAILED"
    assert transition.rollback_finished is None
