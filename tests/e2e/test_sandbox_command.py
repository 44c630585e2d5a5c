"""``python -m ecs_rollback_sandbox``, the command a newcomer runs: the whole story, ``--keep`` for the CLI, and
nothing left running afterwards."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from ecs_rollback.adapters.ledger_dynamodb import DynamoDBLedger
from ecs_rollback.domain.model import ServiceId
from ecs_rollback_cli.main import app as cli_app
from ecs_rollback_sandbox.__main__ import app as sandbox_command
from ecs_rollback_sandbox.demo import V1
from ecs_rollback_sandbox.deploy import SynthesizedApp
from ecs_rollback_sandbox.emulator import Emulator

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 180  # a cold synth is ~10 s on this machine; CI machines may be slower
STORY_LINES = (
    "deployment of web:1 IN_PROGRESS",
    "web:1 COMPLETED (steady state)",
    "promoted: web:1 is GOOD",
    "(the tag moved from sha256:",
    "web-5xx-rate: OK -> ALARM",
    "ROLLED_BACK web:3 -> web:1, deployed as web:2 (web@sha256:",
    "web:1's recorded digest; `latest` still points at",
    "[ecs-rollback] demo/web: rolled back (web:3 -> web:1)",
    "[ecs-rollback] demo/web: rollback deployment COMPLETED",
    "promoted: web:2 is GOOD",
    "Deployment history (newest first)",
    "Done: rolled back demo/web to web:2",
)
WEB = ServiceId("aws", "us-east-1", "123456789012", "demo", "web")


def test_the_command_tells_the_story_as_json_and_leaves_no_thread_behind(
    aws: Emulator, sandbox_app: SynthesizedApp
) -> None:
    # Given the process's threads before: the session's emulator, and jsii's Node runtime, which
    # the session's synth started and which lives as long as the process (sandbox_app)
    before = {thread.ident for thread in threading.enumerate()}

    # When the command runs in this process
    result = CliRunner().invoke(sandbox_command, ["--json"])

    # Then it exits 0 with the timeline, the ledger and the notifications as one document
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    texts = "\n".join(entry["text"] for entry in document["timeline"])
    for line in STORY_LINES[:-2]:
        assert line in texts
    history = {row["revision"]: row for row in document["ledger"]["history"]}
    assert {revision: row["status"] for revision, row in history.items()} == {
        "web:2": "GOOD",  # web:1's pinned copy, registered when web:1 became GOOD
        "web:3": "ROLLED_BACK",
        "web:1": "GOOD",
    }
    repository = history["web:1"]["images"][0].removesuffix(":latest")
    assert history["web:2"]["images"] == [f"{repository}@{history['web:1']['digests'][0]}"]
    assert history["web:2"]["origin"] == "automatic_rollback"
    (rollback,) = document["ledger"]["rollbacks"]
    assert (rollback["outcome"], rollback["from"], rollback["to"], rollback["result"]) == (
        "ROLLED_BACK",
        "web:3",
        "web:1",
        "COMPLETED",
    )
    assert document["rollback_aws_calls"]["ecs.UpdateService"] == 1
    assert len(document["notifications"]) == 2

    # And the emulator it started is stopped: no thread of its own is left
    leftover = [thread.name for thread in threading.enumerate() if thread.ident not in before]
    assert leftover == []


def test_the_blue_green_story_rolls_back_through_ecs_itself(
    aws: Emulator, sandbox_app: SynthesizedApp
) -> None:
    # When the command tells the blue/green story
    result = CliRunner().invoke(sandbox_command, ["--json", "--strategy", "blue-green"])

    # Then the bad release alarms during ECS's bake and ECS's own rollback is asked for, once
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    texts = "\n".join(entry["text"] for entry in document["timeline"])
    assert "takes 100% of production traffic and bakes" in texts
    assert "ECS kept the revision's digests" in texts
    calls = document["rollback_aws_calls"]
    assert calls["ecs.StopServiceDeployment"] == 1
    assert calls.get("ecs.UpdateService", 0) == 0
    (rollback,) = document["ledger"]["rollbacks"]
    assert (rollback["outcome"], rollback["from"], rollback["to"], rollback["result"]) == (
        "ROLLED_BACK",
        "web:3",
        "web:1",
        "COMPLETED",
    )
    history = {row["revision"]: row["status"] for row in document["ledger"]["history"]}
    assert history["web:3"] == "ROLLED_BACK"


def test_two_accounts_a_members_service_is_rolled_back_through_the_member_role(
    aws: Emulator, sandbox_app: SynthesizedApp
) -> None:
    # When the command tells the story with a second (member) account
    result = CliRunner().invoke(sandbox_command, ["--json", "--accounts", "2"])

    # Then after the usual story, the member's demo/web is rolled back in its own account
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    member = document["member"]
    assert member["service_arn"] == "arn:aws:ecs:us-east-1:222222222222:service/demo/web"
    assert member["rolled_back_to"].startswith("arn:aws:ecs:us-east-1:222222222222:task-definition/web:")
    assert member["rollback_aws_calls"]["ecs.UpdateService"] == 1
    assert member["rollback_aws_calls"]["sts.AssumeRole"] <= 1  # once per account while it lasts
    assert [note["body"]["outcome"] for note in member["notifications"]][:1] == ["ROLLED_BACK"]
    texts = "\n".join(entry["text"] for entry in document["timeline"])
    assert "forwarded to the central bus" in texts
    assert "222222222222's demo/web to web:1 through the member role" in document["outcome"]


def test_a_port_in_use_fails_with_one_clear_line() -> None:
    # Given a port something else listens on
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        # When the command is asked to use it
        result = CliRunner().invoke(sandbox_command, ["--port", str(port)])

    # Then it exits 1 with one line that says what to do
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"sandbox: error while starting the emulator: port {port} on 127.0.0.1 is in use "
        "(Address already in use); pass another --port, or --port 0 for a free one"
    ]


class _Lines:
    """A child's stdout, read on a thread so every wait on it is bounded."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, predicate: Any, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError("the sandbox ended early:\n" + "\n".join(self.seen[-30:]))
            self.seen.append(line)
            if predicate(line):
                return line
        raise AssertionError(f"nothing matched within {timeout} s:\n" + "\n".join(self.seen[-30:]))


@dataclass
class Kept:
    process: subprocess.Popen[str]
    lines: _Lines
    stderr: Path


@pytest.fixture
def kept_sandbox(tmp_path: Path) -> Iterator[Kept]:
    """``python -m ecs_rollback_sandbox --keep`` as a newcomer runs it, in its own process group."""
    stderr = tmp_path / "stderr.txt"
    with stderr.open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "ecs_rollback_sandbox", "--keep"],
            cwd=REPO,
            env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            start_new_session=True,
        )
    try:
        yield Kept(process, _Lines(process), stderr)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def test_kept_sandbox_serves_the_cli_plays_ecs_and_stops_cleanly_on_sigterm(kept_sandbox: Kept) -> None:
    # Given the command run with --keep, once it prints its exports
    process, lines = kept_sandbox.process, kept_sandbox.lines
    lines.until(lambda line: line.startswith("export AWS_REGION="), START_TIMEOUT_S)
    output = "\n".join(lines.seen)
    for line in STORY_LINES:
        assert line in output
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in lines.seen if line.startswith("export ")
    )
    assert set(exports) >= {
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_LAMBDA",
        "AWS_ACCESS_KEY_ID",
        "AWS_DEFAULT_REGION",
    }

    # When an operator rolls back to V1's commit with the project's CLI, pointed at it by those exports
    result = CliRunner().invoke(
        cli_app,
        ["rollback", "demo", "web", "--to", V1.git_sha[:7], "--reason", "e2e: try it", "--yes", "--json"],
        env={**exports, "AWS_PROFILE": None, "ECS_ROLLBACK_TABLE": None, "ECS_ROLLBACK_FUNCTION": None},
    )

    # Then the manual function answered through Lambda Invoke and the service runs V1's digest
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["outcome"] == "ROLLED_BACK"
    assert answer["to"]["git_sha"] == V1.git_sha

    # And ECS, played in the background, finishes the rollback deployment, as the ledger records
    session = boto3.Session(
        aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
        region_name=exports["AWS_DEFAULT_REGION"],
    )
    endpoint = exports["AWS_ENDPOINT_URL"]
    outputs = {
        output["OutputKey"]: output["OutputValue"]
        for output in session.client("cloudformation", endpoint_url=endpoint).describe_stacks(
            StackName="EcsAutoRollback"
        )["Stacks"][0]["Outputs"]
    }
    ledger = DynamoDBLedger(session.client("dynamodb", endpoint_url=endpoint), outputs["LedgerTableName"])
    lines.until(lambda line: "rollback deployment COMPLETED" in line, 60)
    (record,) = [r for r in ledger.rollbacks(WEB).items if r.rollback_id == answer["rollback_id"]]
    assert record.result == "COMPLETED"

    # When it is sent SIGTERM
    process.send_signal(signal.SIGTERM)

    # Then it exits 0 and no process of its group (the jsii Node runtime included) is left
    assert process.wait(timeout=60) == 0
    assert "sandbox: stopped; the emulator is shut down" in kept_sandbox.stderr.read_text()
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)
