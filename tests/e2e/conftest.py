"""End-to-end fixtures: the sandbox's machinery, deployed-stack edition.

The app is synthesized once per session exactly as ``python -m ecs_rollback_sandbox`` synthesizes it (cdk-nag
included). Each test empties the emulator and deploys that template again (a fraction of a
second), so every scenario starts from a fresh stack: the functions run with the environment
CloudFormation resolved for them and every event reaches them through the deployed rules.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from ecs_rollback.domain.model import Deployment, RollbackRecord
from ecs_rollback_sandbox.clock import ManualClock
from ecs_rollback_sandbox.demo import V1
from ecs_rollback_sandbox.deploy import SynthesizedApp
from ecs_rollback_sandbox.emulator import Emulator
from ecs_rollback_sandbox.fleet import DemoService, Release
from ecs_rollback_sandbox.lambda_endpoint import LambdaEndpoint
from ecs_rollback_sandbox.serve import invokers
from ecs_rollback_sandbox.stack import SandboxStack, provision_stack, synthesize
from ecs_rollback_sandbox.timeline import Mode, Timeline
from ecs_rollback_sandbox.world import World

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="session")
def sandbox_app(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    return synthesize(tmp_path_factory.mktemp("sandbox-cdk.out"))


def bad_release(number: int) -> Release:
    sha = f"{number:x}bad".ljust(40, "0")
    return Release(f"bad{number}", sha, f"bad change {number}", f"web bad build {number}")


@dataclass
class Harness:
    """The deployed stack in a fresh emulator, with ECS, CloudWatch and Scheduler played."""

    world: World
    deployed: SandboxStack
    timeline: Timeline

    @property
    def clock(self) -> ManualClock:
        return self.world.clock

    def service(self, name: str = "web", **options: Any) -> DemoService:
        """``demo/<name>`` created on V1 (ECS's first deployment played through the rules)."""
        return DemoService.create(self.world, self.timeline, V1, name=name, **options)

    def good_service(self) -> DemoService:
        """``demo/web`` on V1, baked to GOOD; the inbox drained."""
        web = self.service()
        assert [r["status"] for r in web.bake()] == ["promoted"]
        self.world.notifications()
        return web

    def invoke(self, endpoint: LambdaEndpoint, function_name: str, payload: Any) -> dict[str, Any]:
        """The Lambda Invoke REST call a caller makes (boto3), answered by the deployed function's handler."""
        client = self.world.emulator.session().client("lambda", endpoint_url=endpoint.url)
        response = client.invoke(FunctionName=function_name, Payload=json.dumps(payload).encode())
        assert "FunctionError" not in response, response
        answer: dict[str, Any] = json.loads(response["Payload"].read())
        return answer

    # -- the emulator's state, read through its APIs -------------------------------------------

    def running_digests(self, service: DemoService) -> set[str]:
        """Image digests the service's running tasks report (what ECS resolved when it started them)."""
        return service.running_digests()

    def history(self, service: DemoService) -> list[Deployment]:
        return list(self.world.ledger.history(service.id, limit=100).items)

    def rollbacks(self, service: DemoService) -> list[RollbackRecord]:
        return list(self.world.ledger.rollbacks(service.id).items)

    def later(self, minutes: float) -> None:
        self.clock.advance(timedelta(minutes=minutes))


@pytest.fixture
def harness(aws: Emulator, sandbox_app: SynthesizedApp) -> Harness:
    clock = ManualClock()
    timeline = Timeline(clock.now, mode=Mode.QUIET)
    deployed = provision_stack(aws, sandbox_app)
    return Harness(World(aws, clock, deployed, observers=[timeline.observe]), deployed, timeline)


@pytest.fixture
def manual_endpoint(harness: Harness) -> Iterator[tuple[LambdaEndpoint, str]]:
    """The Lambda Invoke endpoint serving the deployed functions, and the manual-rollback function's name."""
    name = harness.deployed.stack.outputs["ManualRollbackFunctionName"]
    endpoint = LambdaEndpoint(invokers(harness.world, threading.RLock()))
    endpoint.start()
    try:
        yield endpoint, name
    finally:
        endpoint.stop()
