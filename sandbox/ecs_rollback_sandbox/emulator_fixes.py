"""Where moto answers differently from AWS in a way the service's own code depends on, and the
harness corrects the emulator (in this process) rather than the code.

- ``DescribeAlarms`` with ``AlarmNames`` (or a prefix) *and* ``StateValue``: AWS applies both
  filters; moto 5.2 applies the first and ignores ``StateValue``, so an alarm back in OK still
  looks "in ALARM" to the bake timer and a revision is never promoted to GOOD.
"""

from __future__ import annotations

from typing import Any

_APPLIED = "_ecs_rollback_sandbox_state_filter"


def apply() -> None:
    """Idempotent; the emulator's backends are process-wide, so is the fix."""
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.responses import ActionResult

    original = CloudWatchResponse.describe_alarms
    if getattr(original, _APPLIED, False):
        return

    def describe_alarms(self: Any) -> Any:
        response = original(self)
        state = self._get_param("StateValue")
        if not state or not isinstance(response, ActionResult) or not isinstance(response.result, dict):
            return response
        return ActionResult(
            {
                key: [alarm for alarm in alarms if alarm.state_value == state]
                for key, alarms in response.result.items()
            }
        )

    setattr(describe_alarms, _APPLIED, True)
    CloudWatchResponse.describe_alarms = describe_alarms  # type: ignore[method-assign]
