"""ECS deployment lifecycle hook -> the release gate's ``hookStatus`` (see ``domain/gate.py``).

ECS invokes this function synchronously at the stages a service's ``lifecycleHooks`` name, with
the role the stack outputs as ``ReleaseGateHookRoleArn``. Every answer is logged (service, stage,
release, why) and counted (``ReleaseGateSucceeded``, ``ReleaseGateFailed``,
``ReleaseGateInProgress``).

The same function answers pause hooks: an ``ECS Hook State Change`` event from the pause hook
rule goes to ``handlers/pause_hooks.py`` (``ContinueServiceDeployment`` by the same rules).

Two choices where ECS's contract leaves one:

- a payload the gate cannot read answers FAILED (and is logged and counted as a malformed event):
  ECS rolls back a deployment whose hook returns no valid ``hookStatus`` anyway, and an explicit
  FAILED says why in the logs instead of a stack trace;
- a transient AWS fault (throttling, 5xx, a timeout: ``aws_errors.is_transient``) answers
  IN_PROGRESS with a short ``callBackDelay``, so ECS asks again instead of rolling back a
  deployment nothing is known against. Any other error fails the invocation, and ECS rolls back.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ecs_rollback.adapters.aws_errors import describe, is_transient
from ecs_rollback.domain import gate
from ecs_rollback.domain.errors import TransientFault
from ecs_rollback.domain.gate import GateAnswer, HookStatus
from ecs_rollback.events.lifecycle_hook import LifecycleHookEvent
from ecs_rollback.events.pause_hook import PAUSE_HOOK_DETAIL_TYPE
from ecs_rollback.handlers._edge import Edge, rejected
from ecs_rollback.handlers.pause_hooks import handle as handle_pause_hook
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies
from ecs_rollback.services.release_gate import answer_hook

METRICS = {
    HookStatus.SUCCEEDED: "ReleaseGateSucceeded",
    HookStatus.FAILED: "ReleaseGateFailed",
    HookStatus.IN_PROGRESS: "ReleaseGateInProgress",
}


def handle(event: Any, deps: Dependencies) -> dict[str, Any]:
    if isinstance(event, dict) and event.get("detail-type") == PAUSE_HOOK_DETAIL_TYPE:
        return handle_pause_hook(event, deps)  # from the pause hook rule, not from ECS's hook
    try:
        hook = LifecycleHookEvent.model_validate(event)
    except ValidationError as exc:
        refusal = rejected(exc, deps.telemetry, event)
        problems = "; ".join(f"{p['field']}: {p['problem']}" for p in refusal["problems"])
        return _told(deps, gate.malformed(problems), None)
    try:
        answer = answer_hook(deps, hook)
    except Exception as error:
        if not (isinstance(error, TransientFault) or is_transient(error)):
            logger.exception("release gate failed; ECS rolls the deployment back")
            raise
        answer = gate.ask_again(describe(error), hook.hook_details)
    return _told(deps, answer, hook)


def _told(deps: Dependencies, answer: GateAnswer, hook: LifecycleHookEvent | None) -> dict[str, Any]:
    # A deployment stopped, or held by a fault, is what someone looks for in the logs.
    log = (
        logger.warning
        if answer.status == HookStatus.FAILED or answer.code == "aws_unavailable"
        else logger.info
    )
    log(
        "release gate answered",
        extra={
            "hook_status": answer.status.value,
            "code": answer.code,
            "why": answer.why,
            "service": hook.execution_details.service_arn if hook else None,
            "stage": hook.lifecycle_stage if hook else None,
            "release_id": answer.release_id,
            "target_revision": hook.target_revision if hook else None,
            "execution_id": hook.execution_id if hook else None,
        },
    )
    deps.telemetry.event(METRICS[answer.status])
    return answer.response()


edge = Edge()
handler = edge.lambda_handler(handle, correlation_id_path="executionId")
