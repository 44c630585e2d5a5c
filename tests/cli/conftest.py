"""The CLI against the emulator: a World that plays ECS, the manual rollback handler served on a
loopback Lambda endpoint, and ``CliRunner`` with the environment an operator would set."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from typer.testing import CliRunner, Result

from ecs_rollback.domain.gitsha import COMMIT_MESSAGE_TAG, GIT_SHA_TAG
from ecs_rollback.domain.model import ServiceId
from ecs_rollback_cli.main import app
from ecs_rollback_cli.runtime import Prompter, Runtime
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


@pytest.fixture
def fleet(make_world: Callable[..., Any]) -> Iterator[Fleet]:
    world = make_world(bake_time_seconds=0, scope={"clusters": ["prod", "staging"]})
    repo = world.repository_uri("web")
    world.push_image("web", "latest", content="v1")
    v1 = world.register(
        "web", {"app": f"{repo}:latest"}, tags={GIT_SHA_TAG: SHA_V1, COMMIT_MESSAGE_TAG: "Add checkout page"}
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
    endpoint = LambdaEndpoint({FUNCTION: lambda payload: world.invoke("manual_rollback", payload)})
    url = endpoint.start()
    try:
        yield Fleet(world, web, repo, v1, v2, url, endpoint, Runtime(now=world.clock.now))
    finally:
        endpoint.stop()


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
