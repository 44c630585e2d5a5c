"""The functions' Lambda entry points, as Lambda calls them: environment in, context, real clients.

Everything else drives ``handle(event, deps)``; this drives ``handler(event, context)`` with the
environment the stack writes (``contract.to_environment``), so the composition root, the
Powertools decorators and the settings mapping are exercised on the emulator's request path.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import pytest

from ecs_rollback.contract import to_environment
from tests.integration.conftest import SHA_V2

pytestmark = pytest.mark.emulator


@dataclass(frozen=True)
class LambdaContextStub:
    """The attributes of Lambda's context object the handlers and Powertools read."""

    function_name: str = "ecs-rollback-fn"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:ecs-rollback-fn"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "6f1f3c8e-0b7a-4d0e-9a57-5d2b1c3e4f60"
    log_group_name: str = "/aws/lambda/ecs-rollback-fn"
    log_stream_name: str = "2026/12/02/[$LATEST]abc"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def lambda_environment(make_world, monkeypatch):
    """A world, and the process environment its deployed functions would have."""
    world = make_world()
    for name, value in to_environment(world.settings["manual_rollback"]).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", world.emulator.endpoint)
    return world


@pytest.mark.parametrize("module", ["alarm_events", "deployment_events", "bake_timer"])
def test_an_unreadable_event_is_refused_by_the_entry_point(lambda_environment, module):
    # Given a function's entry point, configured as the stack configures it
    handler = importlib.import_module(f"ecs_rollback.handlers.{module}").handler

    # When Lambda hands it an event of the wrong shape
    answer = handler({"id": "e-1", "detail": {"unexpected": True}}, LambdaContextStub())

    # Then it answers a refusal (no exception, so no retry)
    assert answer["status"] == "rejected"
    assert answer["problems"]


def test_the_manual_entry_point_rolls_back_through_the_real_clients(lambda_environment, make_service):
    # Given a service on v2 whose v1 was adopted GOOD
    world = lambda_environment
    web = make_service(world, pinned=True)
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.deploy("v2")
    handler = importlib.import_module("ecs_rollback.handlers.manual_rollback").handler

    # When an operator invokes the function by hand
    answer = handler(
        {"cluster": "prod", "service": "web", "reason": "5xx after deploy", "requested_by": "oncall"},
        LambdaContextStub(),
    )

    # Then the entry point built its own clients from the environment and rolled back
    assert answer["outcome"] == "ROLLED_BACK", answer
    assert web.task_definition == web.revisions["v1"]
