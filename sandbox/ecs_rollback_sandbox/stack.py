"""The sandbox's stack: synthesized from the project's app, deployed into the emulator, and a
``World`` whose functions are the deployed ones.

Every function runs with the environment CloudFormation resolved for it (read back from the
emulator's Lambda, never restated here), and every event reaches a function only through the
deployed rules' own patterns (``sandbox.router``). What the emulator cannot create is provided
the way AWS would have it: the schedule group the functions name (moto skips
``AWS::Scheduler::ScheduleGroup``), and an SQS queue subscribed to the topic to read the
notifications back (the sandbox's inbox, standing in for the e-mail subscription).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecs_rollback.composition import build
from ecs_rollback.contract import from_environment
from ecs_rollback.handlers import manual_rollback
from ecs_rollback.ports import Dependencies
from ecs_rollback_sandbox import emulator_fixes
from ecs_rollback_sandbox.clock import ManualClock
from ecs_rollback_sandbox.deploy import DeployedStack, SynthesizedApp, deploy_stack, synthesize_app
from ecs_rollback_sandbox.emulator import ACCOUNT, Emulator
from ecs_rollback_sandbox.router import StackRouter, Target, due_schedules
from ecs_rollback_sandbox.world import HANDLERS, World

CLUSTER = "demo"
SERVICE = "web"
STACK_NAME = "EcsAutoRollback"  # the CLI's default --stack, so `ecs-rollback status` needs no flag
LINKED_ALARM = "web-5xx-rate"  # linked to demo/web by the stack's alarm links
DIMENSION_ALARM = "web-cpu-high"  # linked by its ClusterName/ServiceName dimensions
INBOX_QUEUE = "sandbox-inbox"


def sandbox_context() -> dict[str, Any]:
    """The CDK context the sandbox synthesizes with: one service in scope, production timings.

    The clock is the harness's, so bake time and watch window keep their real defaults and the
    story shows real values. ``alarmNamePrefixes`` lets the dimension-linked alarm through the
    alarm rule, which otherwise matches only the linked names.
    """
    return {
        "ecsRollback": {
            "scope": {"services": [f"{CLUSTER}/{SERVICE}"], "clusters": []},
            "alarmLinks": [{"alarm": "web-5xx*", "cluster": CLUSTER, "service": SERVICE}],
            "alarmNamePrefixes": ["web-"],
            "bakeTimeSeconds": 600,
            "watchWindowSeconds": 3600,
            "loopGuardLimit": 3,
            "lockTtlSeconds": 1800,
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


def synthesize(outdir: str | Path) -> SynthesizedApp:
    """The project's app (cdk-nag included) with the sandbox context, into ``outdir``."""
    return synthesize_app(outdir, context=sandbox_context())


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
class SandboxStack:
    """The deployed stack plus what the harness added next to it."""

    stack: DeployedStack
    inbox_url: str
    schedule_group: str


def deploy(emulator: Emulator, app: SynthesizedApp) -> SandboxStack:
    """Deploy the synthesized template, then add the schedule group and the inbox."""
    emulator_fixes.apply()
    with _quiet_emulator():
        stack = deploy_stack(emulator, app.cdk_out, app.stack_name, artifact=app.artifact)
    groups = {
        f.environment["SCHEDULE_GROUP_NAME"]
        for f in stack.functions.values()
        if "SCHEDULE_GROUP_NAME" in f.environment
    }
    if len(groups) != 1:
        raise RuntimeError(
            f"the deployed functions name {len(groups)} schedule groups ({sorted(groups)}); expected one"
        )
    (group,) = groups
    emulator.client("scheduler").create_schedule_group(Name=group)  # moto skips AWS::Scheduler::ScheduleGroup
    return SandboxStack(stack, subscribe_inbox(emulator, stack.outputs["NotificationTopicArn"]), group)


def subscribe_inbox(emulator: Emulator, topic_arn: str) -> str:
    """An SQS queue subscribed to the notification topic; returns its URL."""
    sqs = emulator.client("sqs")
    queue_url = str(sqs.create_queue(QueueName=INBOX_QUEUE)["QueueUrl"])
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    emulator.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return queue_url


@dataclass(frozen=True)
class Delivery:
    """One invocation of a deployed function, as the timeline tells it."""

    via: str  # "rule <name>", "schedule <name>", "invoke", or "no rule matched"
    function: str | None  # handler module (HANDLERS key); None when nothing was invoked
    event: Any
    result: dict[str, Any]


Observer = Callable[[Delivery], None]


@dataclass
class StackWorld(World):
    """A ``World`` whose functions, configuration and routing come from the deployed stack."""

    sandbox: SandboxStack | None = None
    router: StackRouter | None = None
    observers: list[Observer] = field(default_factory=list)

    @classmethod
    def from_stack(cls, emulator: Emulator, clock: ManualClock, sandbox: SandboxStack) -> StackWorld:
        router = StackRouter(sandbox.stack)
        missing = set(HANDLERS) - set(router.functions)
        if missing:
            raise RuntimeError(f"the deployed stack has no function for {sorted(missing)}")
        settings = {key: from_environment(function.environment) for key, function in router.functions.items()}
        return cls(
            emulator,
            clock,
            settings,
            sandbox.inbox_url,
            route=router.first_function,
            sandbox=sandbox,
            router=router,
        )

    @property
    def stack(self) -> DeployedStack:
        assert self.sandbox is not None
        return self.sandbox.stack

    @property
    def _router(self) -> StackRouter:
        assert self.router is not None
        return self.router

    def function_name(self, key: str) -> str:
        return self._router.functions[key].name

    # -- each function as Lambda would run it ---------------------------------------------

    def _build(self, function: str) -> Dependencies:
        settings = self.settings[function]
        session = self.emulator.session()
        session.events.register("before-call.*.*", self._record_call)
        # The bake timer re-schedules itself: Lambda gives it its own ARN (context.invoked_function_arn).
        own_arn = self._router.function_arn(function)
        target = own_arn if function == "bake_timer" else settings.bake_timer_function_arn
        return build(
            settings,
            session=session,
            endpoint_url=self.emulator.endpoint,
            clock=self.clock,
            bake_timer_target_arn=target,
        )

    def invoke(self, function: str, payload: Any, *, via: str = "invoke") -> dict[str, Any]:
        if function == "manual_rollback":
            # As Lambda calls it: a fresh request id per invocation, the function's own ARN.
            result = manual_rollback.handle(
                payload,
                self.deps(function),
                request_id=str(uuid.uuid4()),
                function_arn=self._router.function_arn(function),
            )
            self.delivered.append(
                (function, payload if isinstance(payload, dict) else {"raw": payload}, result)
            )
        else:
            result = super().invoke(function, payload)
        self._tell(Delivery(via, function, payload, result))
        return result

    # -- EventBridge and Scheduler ----------------------------------------------------------

    def targets(self, event: Mapping[str, Any]) -> list[Target]:
        return self._router.targets(event)

    def deliver(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """What EventBridge does with ``event``: every matching deployed rule invokes its target.

        Returns the one function's answer (the stack's rules never overlap), ``{"status": "no rule
        matched"}`` when the event is dropped, or every answer under ``results``.
        """
        targets = self.targets(event)
        if not targets:
            dropped = {"status": "no rule matched"}
            self._tell(Delivery("no rule matched", None, dict(event), dropped))
            return dropped
        results = [self.invoke(target.function, dict(event), via=f"rule {target.rule}") for target in targets]
        return results[0] if len(results) == 1 else {"status": "delivered", "results": results}

    def fire_timers(self) -> list[dict[str, Any]]:
        """Scheduler fires every due bake timer at the function its schedule names."""
        assert self.sandbox is not None
        due = due_schedules(self.emulator.client("scheduler"), self.sandbox.schedule_group, self.clock.now())
        return [
            self.invoke(self._router.function_for_arn(schedule.target_arn), schedule.payload, via="schedule")
            for schedule in due
        ]

    def _tell(self, delivery: Delivery) -> None:
        for observer in list(self.observers):
            observer(delivery)
