"""EventBridge's and Scheduler's delivery, played from what was provisioned.

The emulator stores the stack's rules with their patterns but cannot deliver to a Lambda target
(``PutEvents`` fails on such rules), and it cannot run functions at all. So the harness does what
EventBridge would: it matches each event against every deployed rule's own pattern (moto's
matcher, EventBridge's semantics) and hands the event to the handler of each target function
(``StackRouter``). Worlds provisioned through the APIs have no rules; they route by
``detail-type`` alone (``route_by_detail_type``). Bake timers go to the function their schedule's
``Target.Arn`` names, as Scheduler would. Nothing here restates a pattern or a function's
configuration by hand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ecs_rollback_sandbox.deploy import DeployedStack, FunctionInfo, RuleInfo

# Lambda's "module.function" handler string of the project's functions.
_HANDLER = re.compile(r"^ecs_rollback\.handlers\.(?P<name>[a-z_]+)\.handler$")
_AT = re.compile(r"^at\((?P<when>[0-9T:-]+)\)$")
_LOGICAL_SUFFIX = re.compile(r"[0-9A-F]{8}$")
# Without the stack's rules: which function each AWS service's events go to.
_BY_DETAIL_TYPE = {
    "ECS Deployment State Change": "deployment_events",
    "CloudWatch Alarm State Change": "alarm_events",
    "ECR Image Action": "image_events",
    "ECS Hook State Change": "release_gate",  # pause hooks, answered by the release gate
    # The ends of CodeDeploy's deployments (the stack's rule exists only with ``codeDeploy``).
    "CodeDeploy Deployment State-change Notification": "deployment_events",
}


class RoutingError(RuntimeError):
    """The deployed stack names a target the harness cannot run."""


def handler_key(handler: str) -> str:
    """``ecs_rollback.handlers.alarm_events.handler`` -> ``alarm_events`` (the handler module)."""
    match = _HANDLER.match(handler)
    if match is None:
        raise RoutingError(
            f"{handler!r} is not one of this project's handlers (ecs_rollback.handlers.<name>.handler)"
        )
    return match["name"]


def short_name(logical_id: str) -> str:
    """A logical id without CDK's hash suffix, for people: ``RollbackAlarmEventsRule``."""
    return _LOGICAL_SUFFIX.sub("", logical_id)


@dataclass(frozen=True)
class Target:
    rule: str  # the rule's logical id without its hash, or the detail-type routed by
    function: str  # the handler module that runs (HANDLERS key)


Route = Callable[[Mapping[str, Any]], list[Target]]


@dataclass(frozen=True)
class DueSchedule:
    name: str
    target_arn: str
    payload: dict[str, Any]


def route_by_detail_type(event: Mapping[str, Any]) -> list[Target]:
    """One function per AWS service's events; the handlers check scope and alarm links themselves."""
    detail_type = str(event.get("detail-type"))
    function = _BY_DETAIL_TYPE.get(detail_type)
    return [Target(detail_type, function)] if function else []


class StackRouter:
    """Routes by the deployed rules and functions of one stack."""

    def __init__(self, stack: DeployedStack) -> None:
        self.stack = stack
        self.functions: dict[str, FunctionInfo] = {}
        for function in stack.functions.values():
            self.functions[handler_key(function.handler)] = function
        self._by_arn = {function.arn: key for key, function in self.functions.items()}
        self._by_name = {function.name: key for key, function in self.functions.items()}

    def targets(self, event: Mapping[str, Any]) -> list[Target]:
        """Every (rule, function) EventBridge would invoke for ``event``; empty if no rule matches."""
        try:
            matched = self.stack.rules_for(event)
        except (TypeError, AttributeError, KeyError, ValueError):
            return []  # not an event EventBridge could carry (not a JSON object with the usual fields)
        return [self._target(rule) for rule in matched]

    def _target(self, rule: RuleInfo) -> Target:
        key = self._by_arn.get(rule.target_arn) or self._by_name.get(rule.target_function_name or "")
        if key is None:
            raise RoutingError(
                f"rule {rule.name} targets {rule.target_arn}, which is not a deployed function"
            )
        return Target(short_name(rule.logical_id), key)


def due_schedules(scheduler: Any, group_name: str, now: datetime) -> list[DueSchedule]:
    """One-time schedules of ``group_name`` whose time has come, deleted as Scheduler does
    (``ActionAfterCompletion=DELETE``), each with the target it names."""
    due: list[DueSchedule] = []
    token: str | None = None
    for _page in range(100):  # bounded: 100 pages of schedules is far beyond any sandbox
        page = scheduler.list_schedules(GroupName=group_name, **({"NextToken": token} if token else {}))
        for summary in page.get("Schedules", []):
            schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=group_name)
            match = _AT.match(schedule["ScheduleExpression"])
            if match is None:
                continue
            if datetime.fromisoformat(match["when"]).replace(tzinfo=UTC) <= now:
                target = schedule["Target"]
                due.append(DueSchedule(summary["Name"], target["Arn"], json.loads(target["Input"])))
                scheduler.delete_schedule(Name=summary["Name"], GroupName=group_name)
        token = page.get("NextToken")
        if not token:
            break
    return sorted(due, key=lambda schedule: str(schedule.payload.get("due_at", "")))
