"""Shared fixtures. AWS is the emulator on loopback, never a real account: credentials are fake
and set before anything imports boto3's credential chain."""

from __future__ import annotations

import os

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "EcsAutoRollbackTests",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
)
for _variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_variable, None)

import logging  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from ecs_rollback_sandbox.clock import ManualClock  # noqa: E402
from ecs_rollback_sandbox.emulator import Emulator  # noqa: E402

logging.getLogger("werkzeug").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """The AWS emulator on a free loopback port, for the whole session."""
    with Emulator() as running:
        yield running


@pytest.fixture
def aws(emulator: Emulator) -> Iterator[Emulator]:
    """The emulator, emptied before each test that uses it."""
    emulator.reset()
    yield emulator


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make_world(aws: Emulator, clock: ManualClock) -> Callable[..., Any]:
    """Factory: a fresh emulated account with the rollback service configured as asked."""
    from ecs_rollback_sandbox.world import World

    def make(**options: Any) -> World:
        return World.direct(aws, clock, **options)

    return make
