"""The CLI against the emulator: a World that plays ECS, the manual rollback handler served on a
loopback Lambda endpoint, and ``CliRunner`` with the environment an operator would set."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from typer.testing import CliRunner, Result

from ecs_rollback.contract import to_environment
from ecs_rollback.domain.gitsha import COMMIT_MESSAGE_TAG, GIT_SHA_TAG
from ecs_rollback.domain.model import ServiceId
from ecs_rollback_cli.main import app
from ecs_rollback_cli.runtime import Prompter, Runtime
from ecs_rollback_sandbox import lambda_endpoint
from ecs_rollback_sandbox.lambda_endpoint import LambdaEndpoint

FUNCTION = "ecs-rollback-manual"
SHA_V1 = "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
SHA_V2 = "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
ENTER, DOWN, SPACE = "\r", "\x1b[B", " "


@dataclass
class Fleet:
    """prod/web on web:2 (GOOD, deployed) with web:1 (GOOD, adopted baseline) before it."""

    world: Any
    web: ServiceId
    repo: str
    v1: str
    v2: str
    lambda_url: str
    endpoint: LambdaEndpoint
    runtime: Runtime
    extra_env: dict[str, str | None] = field(default_factory=dict)

    def environment(self) -> dict[str, str | None]:
        return {
            **self.world.emulator.environment,
            "AWS_ENDPOINT_URL_LAMBDA": self.lambda_url,
            "ECS_ROLLBACK_TABLE": "ledger",
            "ECS_ROLLBACK_FUNCTION": FUNCTION,
            "COLUMNS": "220",
            **self.extra_env,
        }

    def run(
        self, *args: str, runtime: Runtime | None = None, env: dict[str, str | None] | None = None
    ) -> Result:
        return CliRunner().invoke(
            app, list(args), env={**self.environment(), **(env or {})}, obj=runtime or self.runtime
        )

    def dialog(self, keys: str, *args: str) -> Result:
        """Run the CLI with its prompts answered by ``keys``, typed into the real prompts."""
        with create_pipe_input() as pipe:
            pipe.send_text(keys)
            pipe.close()  # a prompt the keys do not answer ends in EOF (cancelled), never a hang
            runtime = Runtime(prompter=Prompter(input=pipe, output=DummyOutput()), now=self.world.clock.now)
            return self.run(*args, runtime=runtime)

    def task_definition(self, arn: str) -> dict[str, Any]:
        response = self.world.emulator.client("ecs").describe_task_definition(
            taskDefinition=arn, include=["TAGS"]
        )
        return {
            **response["taskDefinition"],
            "tags": {t["key"]: t["value"] for t in response.get("tags", [])},
        }

    def add_service(self, cluster: str, name: str, versions: int = 2) -> tuple[ServiceId, list[str]]:
        """Another service with ``versions`` GOOD revisions, deployed through ECS's events."""
        world = self.world
        repo = world.repository_uri(name)
        arns = []
        for number in range(1, versions + 1):
            sha = f"{number}{name[0]}" * 20
            world.push_image(name, sha[:7], content=f"{cluster}-{name}-{number}")
            arns.append(
                world.register(
                    name,
                    {"app": f"{repo}:{sha[:7]}"},
                    tags={GIT_SHA_TAG: sha[:40], COMMIT_MESSAGE_TAG: f"{name} change {number}"},
                )
            )
        service = world.ecs.create_service(cluster, name, arns[0])
        for arn in arns[1:]:
            world.clock.advance(timedelta(minutes=5))
            world.deploy(service, arn)
        return service, arns


class _ConfigurationHandler(lambda_endpoint._InvokeHandler):
    """The sandbox's endpoint answers Invoke only; the CLI also reads the bake time from
    ``GetFunctionConfiguration`` (``GET .../functions/NAME/configuration``). Served here, with the
    environment the stack gives the function, for the functions ``environments`` names."""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        prefix, suffix = lambda_endpoint.INVOKE_PREFIX, "/configuration"
        environments: dict[str, dict[str, str]] = getattr(self.owner, "environments", {})
        found = (
            self.owner.resolve(unquote(path[len(prefix) : -len(suffix)])) if path.endswith(suffix) else None
        )
        if path.startswith(prefix) and found is not None and found[0] in environments:
            name = found[0]
            body = {
                "FunctionName": name,
                "FunctionArn": self.owner.function_arn(name),
                "Environment": {"Variables": environments[name]},
            }
            self._reply(200, json.dumps(body).encode(), {})
            return
        super().do_GET()


@pytest.fixture
def make_fleet(
    make_world: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Fleet]]:
    """Factory: the fleet below in a world configured as asked (bake time 0 unless given)."""
    monkeypatch.setattr(lambda_endpoint, "_InvokeHandler", _ConfigurationHandler)
    endpoints: list[LambdaEndpoint] = []

    def make(**options: Any) -> Fleet:
        world = make_world(**{"bake_time_seconds": 0, "scope": {"clusters": ["prod", "staging"]}, **options})
        repo = world.repository_uri("web")
        world.push_image("web", "latest", content="v1")
        v1 = world.register(
            "web",
            {"app": f"{repo}:latest"},
            tags={GIT_SHA_TAG: SHA_V1, COMMIT_MESSAGE_TAG: "Add checkout page"},
        )
        web = world.ecs.create_service("prod", "web", v1)
        world.clock.advance(timedelta(minutes=30))
        world.push_image("web", "latest", content="v2")
        v2 = world.register(
            "web",
            {"app": f"{repo}:latest"},
            tags={GIT_SHA_TAG: SHA_V2, COMMIT_MESSAGE_TAG: "Cache product pages"},
        )
        world.deploy(web, v2)
        world.clock.advance(timedelta(minutes=10))
        world.fire_timers()  # web:2 bakes to GOOD whatever the bake time
        endpoint = LambdaEndpoint({FUNCTION: lambda payload: world.invoke("manual_rollback", payload)})
        endpoint.environments = {FUNCTION: to_environment(world.settings["manual_rollback"])}  # type: ignore[attr-defined]
        endpoints.append(endpoint)
        url = endpoint.start()
        return Fleet(world, web, repo, v1, v2, url, endpoint, Runtime(now=world.clock.now))

    try:
        yield make
    finally:
        for endpoint in endpoints:
            endpoint.stop()


@pytest.fixture
def fleet(make_fleet: Callable[..., Fleet]) -> Fleet:
    return make_fleet()


@pytest.fixture
def git_checkout(tmp_path: Path) -> tuple[Path, str, str]:
    """A git repository with one commit: (path, full SHA, short SHA)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q")
    git("config", "user.email", "dev@example.com")
    git("config", "user.name", "Dev")
    (tmp_path / "app.py").write_text("print('v3')\n")
    git("add", "app.py")
    git("commit", "-q", "-m", "Speed up search\n\nLonger explanation that stays out of the tag.")
    return tmp_path, git("rev-parse", "HEAD"), git("rev-parse", "--short", "HEAD")
