"""``ECS Hook State Change`` (``HOOK_AWAITING_ACTION``) -> ``ContinueServiceDeployment`` by the
release gate's rules (``services/pause_hooks.py``), for the services that opt in.

The release gate function takes these events from an EventBridge rule beside ECS's direct
lifecycle-hook invocations (``handlers/release_gate.py`` hands them here). Every answer is logged
and counted (``PauseHookContinued``, ``PauseHookRolledBack``, ``PauseHookLeft``). A malformed event
is refused and not retried; an AWS fault fails the invocation, so EventBridge's asynchronous
invocation retries it (a hook answered meanwhile is then left alone).
"""

from __future__ import annotations

from typing import Any

from ecs_rollback.domain.gate import PauseAction
from ecs_rollback.events.pause_hook import PauseHookEvent
from ecs_rollback.handlers._edge import event_handler
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies
from ecs_rollback.services.pause_hooks import answer_pause_hook

METRICS = {
    PauseAction.CONTINUE: "PauseHookContinued",
    PauseAction.ROLLBACK: "PauseHookRolledBack",
    None: "PauseHookLeft",
}


def _answer(deps: Dependencies, event: PauseHookEvent) -> dict[str, Any]:
    answer = answer_pause_hook(deps, event)
    log = logger.warning if answer.action == PauseAction.ROLLBACK else logger.info
    log(
        "pause hook answered" if answer.action else "pause hook left awaiting",
        extra={
            "action": answer.action.value if answer.action else None,
            "code": answer.code,
            "why": answer.why,
            "service": str(event.service),
            "service_deployment": event.service_deployment_arn,
            "hook_ids": list(answer.hook_ids),
            "release_id": answer.release_id,
        },
    )
    deps.telemetry.event(METRICS[answer.action])
    return {
        "status": "answered" if answer.action else "left",
        "action": answer.action.value if answer.action else None,
        "hook_ids": list(answer.hook_ids),
        "code": answer.code,
        "why": answer.why,
    }


def handle(event: Any, deps: Dependencies) -> dict[str, Any]:
    """The event, parsed (a malformed one refused), answered."""
    return event_handler(PauseHookEvent, _answer)(event, deps)
