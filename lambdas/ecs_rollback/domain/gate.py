"""The release gate's answers to ECS's deployment lifecycle hooks: pure, from facts gathered elsewhere.

ECS calls the gate at the stages a service's ``lifecycleHooks`` name and reads ``hookStatus``:
SUCCEEDED goes on, FAILED rolls the deployment back, IN_PROGRESS asks again after
``callBackDelay`` seconds with the ``hookDetails`` returned (the developer guide's "Lambda hooks
for Amazon ECS service deployments"). The gate blocks only what it knows to be wrong: a release
recorded BAD before it scales up, a linked alarm in ALARM after traffic shifted to it; and after a
shift it holds the deployment for the bake time, so the alarms have time to speak.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ecs_rollback.domain.model import Release, iso, parse_iso

PRE_SCALE_UP = "PRE_SCALE_UP"
POST_TRAFFIC_SHIFT_STAGES = frozenset({"POST_TEST_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"})
# What the gate keeps in ``hookDetails`` between the invocations of one hook (ECS merges it with
# the hook's configured details and hands it back): when it first saw this stage, and which stage.
FIRST_SEEN_KEY = "ecsRollbackFirstSeenAt"
STAGE_KEY = "ecsRollbackStage"
# While baking, ask again at most this often, so an alarm fails the deployment within a minute.
BAKE_POLL_SECONDS = 60
# After a transient AWS fault: soon, and not at once.
RETRY_SECONDS = 15


class HookStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    IN_PROGRESS = "IN_PROGRESS"


@dataclass(frozen=True)
class GateAnswer:
    """One answer to ECS, and why (``code`` for metrics and tests, ``why`` for people)."""

    status: HookStatus
    code: str
    why: str
    release_id: str | None = None
    callback_delay: int | None = None
    hook_details: Mapping[str, Any] = field(default_factory=dict)

    def response(self) -> dict[str, Any]:
        """The JSON ECS reads: ``hookStatus``, and ``callBackDelay``/``hookDetails`` when asking again."""
        answer: dict[str, Any] = {"hookStatus": self.status.value}
        if self.callback_delay is not None:
            answer["callBackDelay"] = self.callback_delay
        if self.hook_details:
            answer["hookDetails"] = dict(self.hook_details)
        return answer


def before_scale_up(
    release: Release | None, release_id: str, *, allowed_by_tag: bool, enforced: bool
) -> GateAnswer:
    """PRE_SCALE_UP: FAILED for a release recorded BAD, unless its revision is tagged to allow it
    or the installation does not roll known-BAD releases back (``rollbackKnownBadReleases``)."""
    if release is None or not release.is_bad:
        verdict = "unknown to the ledger" if release is None else f"recorded {release.verdict or 'unjudged'}"
        return GateAnswer(HookStatus.SUCCEEDED, "not_bad", f"release {verdict}", release_id)
    reason = release.verdict_reason or "no reason recorded"
    if allowed_by_tag:
        return GateAnswer(
            HookStatus.SUCCEEDED,
            "bad_allowed_by_tag",
            f"release recorded BAD ({reason}), allowed by the revision's allow-bad-release tag",
            release_id,
        )
    if not enforced:
        return GateAnswer(
            HookStatus.SUCCEEDED,
            "bad_not_enforced",
            f"release recorded BAD ({reason}); rollbackKnownBadReleases is off, so it is let through",
            release_id,
        )
    return GateAnswer(
        HookStatus.FAILED,
        "known_bad",
        f"release recorded BAD ({reason}); tag the task definition ecs-rollback:allow-bad-release=true "
        "to deploy it anyway",
        release_id,
    )


def after_traffic_shift(
    stage: str,
    firing: Sequence[str],
    carried: Mapping[str, Any],
    now: datetime,
    bake_time: timedelta,
) -> GateAnswer:
    """POST_*_TRAFFIC_SHIFT: FAILED while a linked alarm fires; IN_PROGRESS until ``bake_time``
    has passed since this hook first ran for this stage (carried in ``hookDetails``); SUCCEEDED."""
    if firing:
        return GateAnswer(
            HookStatus.FAILED, "alarm", f"linked alarm(s) in ALARM: {', '.join(sorted(firing))}"
        )
    first_seen = min(first_seen_at(stage, carried) or now, now)  # a time ahead of ours is not trusted
    remaining = (first_seen + bake_time - now).total_seconds()
    if remaining <= 0:
        return GateAnswer(
            HookStatus.SUCCEEDED, "baked", f"no linked alarm in ALARM for the bake time ({bake_time})"
        )
    return GateAnswer(
        HookStatus.IN_PROGRESS,
        "baking",
        f"no linked alarm in ALARM; baking until {iso(first_seen + bake_time)}",
        callback_delay=max(1, math.ceil(min(remaining, BAKE_POLL_SECONDS))),
        hook_details={FIRST_SEEN_KEY: iso(first_seen), STAGE_KEY: stage},
    )


def first_seen_at(stage: str, carried: Mapping[str, Any]) -> datetime | None:
    """When this hook first ran at ``stage``, from the ``hookDetails`` it returned; None if unreadable."""
    value = carried.get(FIRST_SEEN_KEY)
    if carried.get(STAGE_KEY) != stage or not isinstance(value, str):
        return None
    try:
        moment = parse_iso(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


class PauseAction(StrEnum):
    """``ContinueServiceDeployment``'s ``action``: what a pause hook awaiting action is told."""

    CONTINUE = "CONTINUE"
    ROLLBACK = "ROLLBACK"


# A pause hook (``targetType`` PAUSE) is answered by the Lambda hook's rules: SUCCEEDED goes on,
# FAILED rolls the deployment back, and IN_PROGRESS (still baking) leaves the hook awaiting.
_PAUSE_ACTIONS: Mapping[HookStatus, PauseAction | None] = {
    HookStatus.SUCCEEDED: PauseAction.CONTINUE,
    HookStatus.FAILED: PauseAction.ROLLBACK,
    HookStatus.IN_PROGRESS: None,
}


def pause_action(answer: GateAnswer) -> PauseAction | None:
    """The action for a pause hook the gate's rules answered; None: leave it awaiting."""
    return _PAUSE_ACTIONS[answer.status]


def paused_since(stage: str, paused_at: datetime) -> dict[str, Any]:
    """What stands for ``hookDetails`` at a pause hook: ECS announces it once, so the bake counts
    from when the deployment paused (the event's time), as from a Lambda hook's first call."""
    return {FIRST_SEEN_KEY: iso(paused_at), STAGE_KEY: stage}


def not_gated(stage: str) -> GateAnswer:
    return GateAnswer(HookStatus.SUCCEEDED, "stage_not_gated", f"the gate checks nothing at {stage}")


def out_of_scope() -> GateAnswer:
    return GateAnswer(
        HookStatus.SUCCEEDED, "out_of_scope", "the service is outside this installation's scope"
    )


def malformed(problems: str) -> GateAnswer:
    return GateAnswer(HookStatus.FAILED, "malformed", f"unreadable lifecycle hook payload: {problems}")


def ask_again(fault: str, carried: Mapping[str, Any]) -> GateAnswer:
    """A transient AWS fault: ask again soon, keeping what the hook carried so far."""
    kept = {key: carried[key] for key in (FIRST_SEEN_KEY, STAGE_KEY) if key in carried}
    return GateAnswer(
        HookStatus.IN_PROGRESS,
        "aws_unavailable",
        f"AWS did not answer ({fault}); asking again in {RETRY_SECONDS} s",
        callback_delay=RETRY_SECONDS,
        hook_details=kept,
    )
