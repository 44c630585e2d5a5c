"""``python -m ecs_rollback_sandbox``: the rollback service working end to end, on this machine, in one command.

It starts the AWS emulator on loopback, synthesizes the stack and deploys it into the emulator's
CloudFormation, then tells the story: a good deploy, a bad one whose image tag moved, an alarm,
the automatic rollback to the recorded digest, the notifications and the ledger. ECS, CloudWatch's
events, EventBridge's delivery and Scheduler are played by the harness (see docs/sandbox.md).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # the modules import boto3 and the handlers: not before _prepare_process
    from ecs_rollback_sandbox.fleet import DemoService
    from ecs_rollback_sandbox.stack import SandboxStack
    from ecs_rollback_sandbox.timeline import Timeline
    from ecs_rollback_sandbox.world import World

app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)

FAKE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def _prepare_process() -> None:
    """Before anything imports boto3 or the handlers: fake credentials only, and quiet functions.

    The handlers' structured logs go to stdout; set POWERTOOLS_LOG_LEVEL=INFO to see them.
    """
    from ecs_rollback.contract import Env  # names only: imports neither boto3 nor Powertools

    os.environ.update(FAKE_ENVIRONMENT)
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(variable, None)
    os.environ.setdefault(Env.POWERTOOLS_LOG_LEVEL, "ERROR")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")  # read by Powertools' Tracer; not in Env
    os.environ.setdefault(Env.POWERTOOLS_METRICS_NAMESPACE, "EcsAutoRollbackSandbox")
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


class Strategy(StrEnum):
    """The demo service's deployment strategy, as the command spells it."""

    ROLLING = "rolling"
    BLUE_GREEN = "blue-green"

    @property
    def ecs_name(self) -> str:
        """As ECS spells it (``deploymentConfiguration.strategy``)."""
        return self.value.upper().replace("-", "_")


@app.command()
def main(
    keep: Annotated[
        bool,
        typer.Option(
            "--keep",
            help="After the story, leave the emulator and a Lambda Invoke endpoint running until Ctrl-C, "
            "print the exports that point the AWS CLI, boto3 and ecs-rollback at them, and keep playing "
            "ECS for every UpdateService.",
        ),
    ] = False,
    port: Annotated[
        int,
        typer.Option(
            "--port",
            min=0,
            max=65535,
            metavar="PORT",
            help="Loopback port of the emulator; 0 picks a free one.",
        ),
    ] = 0,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Print only the outcome line (and, with --keep, the exports)."),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the timeline, ledger and notifications as one JSON document."),
    ] = False,
    strategy: Annotated[
        Strategy,
        typer.Option(
            "--strategy",
            help="The demo service's ECS deployment strategy: rolling (the bad release completes, then "
            "alarms: UpdateService to the GOOD release), or blue-green (it alarms during ECS's bake: "
            "ECS's own rollback, StopServiceDeployment).",
        ),
    ] = Strategy.ROLLING,
    accounts: Annotated[
        int,
        typer.Option(
            "--accounts",
            min=1,
            max=2,
            metavar="N",
            help="2: deploy the stack as a central installation and the member stack in a second "
            "account, whose own demo/web is rolled back through the member role after the story.",
        ),
    ] = 1,
) -> None:
    """Run the ECS auto-rollback service on an embedded AWS emulator and show a rollback, end to end."""
    _prepare_process()
    progress = _Progress()
    try:
        _run(
            progress,
            keep=keep,
            port=port,
            quiet=quiet,
            as_json=as_json,
            strategy=strategy.ecs_name,
            accounts=accounts,
        )
    except KeyboardInterrupt:
        print("sandbox: interrupted", file=sys.stderr)
        raise typer.Exit(130) from None
    except Exception as error:
        print(f"sandbox: error while {progress.step}: {_one_line(error)}", file=sys.stderr)
        raise typer.Exit(1) from None


class _Progress:
    """The step under way, for the one line an error prints."""

    step = "starting"


def _one_line(error: BaseException) -> str:
    from ecs_rollback_sandbox.demo import SandboxError

    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    if isinstance(error, SandboxError):
        return first
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _check_port(host: str, port: int) -> None:
    """Fail fast with a clear line: moto's threaded server waits forever if it cannot bind."""
    from ecs_rollback_sandbox.demo import SandboxError

    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise SandboxError(
                f"port {port} on {host} is in use ({error.strerror}); pass another --port, or --port 0 for a free one"
            ) from error


def _run(
    progress: _Progress,
    *,
    keep: bool,
    port: int,
    quiet: bool,
    as_json: bool,
    strategy: str = "ROLLING",
    accounts: int = 1,
) -> None:
    started = time.monotonic()
    from ecs_rollback_sandbox.clock import ManualClock
    from ecs_rollback_sandbox.demo import STORY_LENGTH, run_story
    from ecs_rollback_sandbox.emulator import Emulator
    from ecs_rollback_sandbox.member_story import members_setting, provision_member, run_member_story
    from ecs_rollback_sandbox.stack import provision_stack, synthesized_app
    from ecs_rollback_sandbox.timeline import Mode, Timeline, short_image
    from ecs_rollback_sandbox.world import World

    # The story ends about now, so the CLI's "minutes ago" reads true against a kept sandbox.
    start = (datetime.now(UTC) - STORY_LENGTH).replace(second=0, microsecond=0)
    clock = ManualClock(start)
    mode = Mode.JSON if as_json else Mode.QUIET if quiet else Mode.RICH
    timeline = Timeline(clock.now, mode=mode)
    progress.step = "starting the emulator"
    _check_port(Emulator.host, port)
    with Emulator(port=port) as emulator:
        timeline.say("sandbox", f"AWS emulator (moto) on {emulator.endpoint}")
        progress.step = "synthesizing the stack"
        with synthesized_app(members=members_setting() if accounts == 2 else None) as synthesized:
            timeline.say(
                "sandbox",
                f"synthesized {synthesized.stack_name} with cdk-nag ({time.monotonic() - started:.1f} s)",
            )
            progress.step = "deploying the stack into the emulator"
            deployed = provision_stack(emulator, synthesized)
            world = World(emulator, clock, deployed, observers=[timeline.observe])
            if accounts == 2:
                progress.step = "deploying the member stack into the second account"
                member = provision_member(emulator, synthesized.cdk_out, deployed.stack, clock)
        timeline.say(
            "sandbox",
            f"CloudFormation CREATE_COMPLETE: {len(deployed.stack.functions)} functions, "
            f"{len(deployed.stack.rules)} rules; the harness created schedule group {deployed.schedule_group} "
            "(moto skips it) and an SQS inbox subscribed to the topic",
        )
        progress.step = "telling the story"
        result = run_story(world, timeline, strategy=strategy)
        member_result = None
        if accounts == 2:
            progress.step = "telling the second account's story"
            member_result = run_member_story(world, member, timeline)
        progress.step = "writing the timeline page"
        page = _write_timeline(world, deployed.stack.outputs["LedgerTableName"])
        elapsed = time.monotonic() - started
        summary = (
            f"rolled back demo/web to {result.rolled_back_to.rsplit('/', 1)[-1]} running "
            f"{short_image(result.pinned_image)}, web:1's recorded digest "
            f"({len(result.notifications)} notifications, {elapsed:.1f} s)"
        )
        if member_result is not None:
            summary += (
                f"; and {member_result.service_arn.split(':')[4]}'s demo/web to "
                f"{member_result.rolled_back_to.rsplit('/', 1)[-1]} through the member role"
            )
        if mode is Mode.JSON:
            timeline.print_json(
                outcome=summary,
                emulator=emulator.endpoint,
                stack=deployed.stack.name,
                notifications=result.notifications,
                rollback_aws_calls=result.rollback_calls,
                **(
                    {
                        "member": {
                            "service_arn": member_result.service_arn,
                            "rolled_back_to": member_result.rolled_back_to,
                            "rollback_aws_calls": member_result.calls,
                            "notifications": member_result.notifications,
                        }
                    }
                    if member_result is not None
                    else {}
                ),
                timeline_html=str(page) if page else None,
                wall_seconds=round(elapsed, 2),
            )
        elif mode is Mode.QUIET:
            print(f"sandbox: {summary}")
        else:
            if page:
                timeline.note(
                    f"\nThe story as a page (ecs-rollback timeline): [bold]{page}[/]  open it in a browser"
                )
            timeline.note(f"\n[bold green]Done[/]: {summary}.")
        if keep:
            progress.step = "serving"
            _keep(world, deployed, timeline, result.service, quiet=quiet, as_json=as_json)


TIMELINE_PAGE = Path(".sandbox") / "timeline.html"


def _write_timeline(world: World, table_name: str) -> Path | None:
    """The demo ledger as the page ``ecs-rollback timeline`` writes, in ``.sandbox/`` (git ignores
    it); a directory that cannot be written costs the page, with a line on stderr, not the story."""
    from ecs_rollback_cli.errors import CliError
    from ecs_rollback_cli.timeline import collect, ledger_services, render, write_page

    ledger = world.ledger
    data = collect(
        ledger,
        ledger_services(ledger),
        now=world.clock.now(),
        bake_time_seconds=world.settings["bake_timer"].bake_time_seconds,
        source=table_name,
    )
    try:
        TIMELINE_PAGE.parent.mkdir(exist_ok=True)
        return write_page(render(data, title="Release timeline: the sandbox's story"), TIMELINE_PAGE)
    except (OSError, CliError) as error:
        print(f"sandbox: no timeline page: {getattr(error, 'message', error)}", file=sys.stderr)
        return None


def _keep(
    world: World,
    deployed: SandboxStack,
    timeline: Timeline,
    service: DemoService,
    *,
    quiet: bool,
    as_json: bool,
) -> None:
    """Serve until SIGINT/SIGTERM; each ends the loop cleanly so the emulator and threads stop."""
    from ecs_rollback_sandbox.demo import V1, prepare_for_operator
    from ecs_rollback_sandbox.serve import serving

    prepare_for_operator(service)

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with serving(world, timeline) as endpoint:
            outputs = deployed.stack.outputs
            exports = {
                "AWS_ENDPOINT_URL": world.emulator.endpoint,
                "AWS_ENDPOINT_URL_LAMBDA": endpoint.url,
                **FAKE_ENVIRONMENT,
            }
            lines = [f"export {key}={value}" for key, value in exports.items()]
            if as_json:
                print(f"# kept: {' '.join(lines)}", file=sys.stderr)
            else:
                print()
                print("The sandbox stays up until Ctrl-C. In another terminal:")
                print()
                print("\n".join(lines))
                print()
                print(
                    f"ecs-rollback status                          # finds stack {deployed.stack.name} by its outputs"
                )
                print("ecs-rollback history demo web")
                print(
                    f"ecs-rollback rollback demo web --to {V1.git_sha[:7]} --reason 'try it' --yes   # no arguments: the dialog"
                )
                print(
                    f"ecs-rollback --table-name {outputs['LedgerTableName']} "
                    f"--function-name {outputs['ManualRollbackFunctionName']} status   # without the stack lookup"
                )
                print(f"aws dynamodb scan --table-name {outputs['LedgerTableName']} --max-items 3")
                print()
                if not quiet:
                    print("ECS is played for every UpdateService; new lines of the story appear below.")
            sys.stdout.flush()
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        print("sandbox: stopped; the emulator is shut down", file=sys.stderr)


if __name__ == "__main__":
    app()
