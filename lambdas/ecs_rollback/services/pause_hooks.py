"""Pause hooks answered by the release gate's rules, for the services that opt in.

A service deployment paused at a ``PAUSE`` lifecycle hook waits for ``ContinueServiceDeployment``.
For a service in ``answerPauseHooks`` the gate reads the deployment (``DescribeServiceDeployments``:
its stage, its target revision, the hooks awaiting action), asks ``release_gate.answer_stage``
what the Lambda hook would answer there, and tells ECS:

- ``ROLLBACK`` where the gate would fail the deployment: a release recorded BAD at
  ``PRE_SCALE_UP``, a linked alarm in ALARM after a traffic shift;
- ``CONTINUE`` where it would let it go on: a clean release, a stage the gate does not check,
  and after a traffic shift once the bake time has passed since the deployment paused;
- nothing while it would still bake: the hook stays awaiting, and the hook's own
  ``timeoutConfiguration`` decides (configure ``timeoutInMinutes`` as the bake time with action
  ``CONTINUE``); an alarm in the meantime rolls the deployment back through the alarm path.

A service not opted in, or out of scope, is left untouched, and so is a hook no longer awaiting
action (an event delivered twice, a hook someone answered first).
"""

from __future__ import annotations

from dataclasses import dataclass

from ecs_rollback.domain import gate
from ecs_rollback.domain.gate import GateAnswer, PauseAction
from ecs_rollback.events.pause_hook import PauseHookEvent
from ecs_rollback.ports import Dependencies
from ecs_rollback.services.release_gate import answer_stage


@dataclass(frozen=True)
class PauseAnswer:
    """What the gate did with one ``HOOK_AWAITING_ACTION``: the action taken (None: none), the
    hooks it answered, and the rule's answer (or why nothing was asked)."""

    action: PauseAction | None
    hook_ids: tuple[str, ...]
    code: str
    why: str
    release_id: str | None = None


def answer_pause_hook(deps: Dependencies, event: PauseHookEvent) -> PauseAnswer:
    """Answer the pause hook(s) of the event's service deployment. AWS faults propagate."""
    service = event.service
    settings = deps.settings
    if not settings.acts_in(service.account, service.region) or not settings.scope.contains(service):
        return _untouched(gate.out_of_scope())
    if not settings.answers_pause_hooks(service):
        return PauseAnswer(None, (), "not_opted_in", "the service's pause hooks are not in answerPauseHooks")
    paused = deps.ecs.describe_pause_hooks(event.service_deployment_arn)
    hooks = tuple(
        hook for hook in (paused.awaiting_hooks if paused else ()) if event.detail.hook_id in (None, hook)
    )
    stage = (paused.lifecycle_stage if paused else None) or event.detail.lifecycle_stage
    if paused is None or not hooks or stage is None:
        return PauseAnswer(None, (), "not_awaiting", "no pause hook of the service deployment awaits action")
    answer = answer_stage(
        deps, service, stage, paused.target_revision_arn, gate.paused_since(stage, event.time)
    )
    action = gate.pause_action(answer)
    if action is None:
        return _untouched(answer)
    answered = tuple(
        hook for hook in hooks if deps.ecs.continue_service_deployment(paused.arn, hook, action.value)
    )
    if not answered:  # answered by someone else, or timed out, since it was read
        return PauseAnswer(None, (), "not_awaiting", f"no hook awaited action any more ({answer.why})")
    return PauseAnswer(action, answered, answer.code, answer.why, answer.release_id)


def _untouched(answer: GateAnswer) -> PauseAnswer:
    return PauseAnswer(None, (), answer.code, answer.why, answer.release_id)
