"""Plays EventBridge Scheduler's part: fires the one-time bake timers that have come due."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ecs_rollback_sandbox.clock import ManualClock
from ecs_rollback_sandbox.emulator import Emulator

_AT = re.compile(r"^at\((?P<when>[0-9T:-]+)\)$")


@dataclass
class SchedulerSimulator:
    emulator: Emulator
    clock: ManualClock
    group_name: str

    def due(self) -> list[dict[str, Any]]:
        """Payloads of the schedules whose time has come, deleted as Scheduler would (ActionAfterCompletion)."""
        scheduler = self.emulator.client("scheduler")
        now = self.clock.now()
        payloads = []
        for summary in scheduler.list_schedules(GroupName=self.group_name).get("Schedules", []):
            schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=self.group_name)
            match = _AT.match(schedule["ScheduleExpression"])
            if match is None:
                continue
            when = datetime.fromisoformat(match["when"]).replace(tzinfo=UTC)
            if when <= now:
                payloads.append(json.loads(schedule["Target"]["Input"]))
                scheduler.delete_schedule(Name=summary["Name"], GroupName=self.group_name)
        return payloads

    def pending(self) -> int:
        return len(
            self.emulator.client("scheduler").list_schedules(GroupName=self.group_name).get("Schedules", [])
        )
