"""The sandbox's stack: synthesized from the project's app, deployed into the emulator, and the
``Resources`` a ``World`` runs the deployed functions from (the stack provisioner).

Every function runs with the environment CloudFormation resolved for it (read back from the
emulator's Lambda, never restated here), and every event reaches a function only through the
deployed rules' own patterns (``router.StackRouter``). What the emulator cannot create is provided
the way AWS would have it: the schedule group the functions name (moto skips
``AWS::Scheduler::ScheduleGroup``), and an SQS queue subscribed to the topic to read the
notifications back (the sandbox's inbox, standing in for the e-mail subscription).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecs_rollback.contract import (
    DEFAULT_BAKE_TIME_SECONDS,
    DEFAULT_LOCK_TTL_SECONDS,
    DEFAULT_LOOP_GUARD_LIMIT,
    DEFAULT_WATCH_WINDOW_SECONDS,
    from_environment,
)
from ecs_rollback_sandbox import emulator_fixes
from ecs_rollback_sandbox.deploy import DeployedStack, SynthesizedApp, deploy_stack, synthesize_app
from ecs_rollback_sandbox.emulator import ACCOUNT, Emulator
from ecs_rollback_sandbox.router import StackRouter
from ecs_rollback_sandbox.world import Function, Resources, subscribe_inbox

CLUSTER = "demo"
SERVICE = "web"
STACK_NAME = "EcsAutoRollback"  # the CLI's default --stack, so `ecs-rollback status` needs no flag
LINKED_ALARM = "web-5xx-rate"  # linked to demo/web by the stack's alarm links
DIMENSION_ALARM = "web-cpu-high"  # linked by its ClusterName/ServiceName dimensions
INBOX_QUEUE = "sandbox-inbox"


def sandbox_context() -> dict[str, Any]:
    """The CDK context the sandbox synthesizes with: one service in scope, production timings.

    The clock is the harness's, so bake time, watch window, loop guard and lock lease keep the
    contract's defaults and the story shows real values. ``alarmNamePrefixes`` lets the
    dimension-linked alarm through the alarm rule, which otherwise matches only the linked names.
    """
    return {
        "ecsRollback": {
            "scope": {"services": [f"{CLUSTER}/{SERVICE}"], "clusters": []},
            "alarmLinks": [{"alarm": "web-5xx*", "cluster": CLUSTER, "service": SERVICE}],
            "alarmNamePrefixes": ["web-"],
            "bakeTimeSeconds": DEFAULT_BAKE_TIME_SECONDS,
            "watchWindowSeconds": DEFAULT_WATCH_WINDOW_SECONDS,
            "loopGuardLimit": DEFAULT_LOOP_GUARD_LIMIT,
            "lockTtlSeconds": DEFAULT_LOCK_TTL_SECONDS,
            "dryRun": False,
            "dryRunServices": [],
            "notificationEmails": [],
            "passRoleArns": [
                f"arn:aws:iam::{ACCOUNT}:role/web-task-role",
                f"arn:aws:iam::{ACCOUNT}:role/web-execution-role",
            ],
            "taskDefinitionFamilies": [SERVICE],
            "stackName": STACK_NAME,
            "logRetentionDays": 30,
            "logLevel": "INFO",
        }
    }


def synthesize(outdir: str | Path, *, members: dict[str, Any] | None = None) -> SynthesizedApp:
    """The project's app (cdk-nag included) with the sandbox context, into ``outdir``; with
    ``members``, a central installation (and its member stack)."""
    context = sandbox_context()
    if members is not None:
        context["ecsRollback"]["members"] = members
    return synthesize_app(outdir, context=context)


@contextlib.contextmanager
def synthesized_app(*, members: dict[str, Any] | None = None) -> Iterator[SynthesizedApp]:
    """``synthesize`` into a temporary directory that lasts as long as the block."""
    with tempfile.TemporaryDirectory(prefix="ecs-rollback-sandbox-") as outdir:
        yield synthesize(Path(outdir), members=members)


@contextlib.contextmanager
def _quiet_emulator() -> Iterator[None]:
    """moto warns once per resource it skips (on its "moto" logger); deploy.py lists them already."""
    parsing = logging.getLogger("moto")
    level = parsing.level
    parsing.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Tried to parse .* not supported by moto")
            yield
    finally:
        parsing.setLevel(level)


@dataclass(frozen=True)
class SandboxStack(Resources):
    """The deployed stack's resources, plus the stack as CloudFormation describes it."""

    stack: DeployedStack = field(kw_only=True)


def provision_stack(emulator: Emulator, app: SynthesizedApp) -> SandboxStack:
    """Deploy the synthesized template, then add the schedule group and the inbox."""
    emulator_fixes.apply()
    with _quiet_emulator():
        stack = deploy_stack(emulator, app.cdk_out, app.stack_name, artifact=app.artifact)
    router = StackRouter(stack)
    functions = {
        key: Function(function.name, function.arn, function.environment)
        for key, function in router.functions.items()
    }
    groups = sorted(
        {
            group
            for function in functions.values()
            if (group := from_environment(function.environment).schedule_group_name)
        }
    )
    if len(groups) != 1:
        raise RuntimeError(
            f"the deployed functions name {len(groups)} schedule groups ({groups}); expected one"
        )
    (group,) = groups
    emulator.client("scheduler").create_schedule_group(Name=group)  # moto skips AWS::Scheduler::ScheduleGroup
    inbox = subscribe_inbox(emulator, stack.outputs["NotificationTopicArn"], INBOX_QUEUE)
    chat_topic = stack.outputs.get("ChatNotificationTopicArn")
    chat_inbox = subscribe_inbox(emulator, chat_topic, f"{INBOX_QUEUE}-chat") if chat_topic else None
    return SandboxStack(functions, inbox, group, router.targets, chat_inbox, stack=stack)
