"""Deciding a rollback: a pure function of the trigger, the ledger state, the policy and the time.

No boto3, no clock, no environment: everything arrives as arguments, so the rules in the
product brief ("Deciding a rollback") are tested as a table and as Hypothesis properties.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from ecs_rollback.domain.model import Deployment, Origin, ReleaseRef, Status, TriggerKind, Verdict
from ecs_rollback.domain.notices import NoticeKind
from ecs_rollback.domain.state import ServiceState


@dataclass(frozen=True)
class Policy:
    """The configured rules for one service (built from ``Settings``; defaults live in ``contract``)."""

    bake_time: timedelta
    watch_window: timedelta
    loop_guard_limit: int
    loop_guard_period: timedelta
    dry_run: bool
    in_scope: bool
    # A CodeDeploy deployment group is configured for the service: a CODE_DEPLOY-controlled
    # service is rolled back through it instead of being refused.
    code_deploy: bool = False


@dataclass(frozen=True)
class Trigger:
    """Why a decision is being made: an alarm, a failed deployment, or an operator."""

    kind: TriggerKind
    trigger_id: str
    at: datetime
    source: str  # alarm name, failed deployment id, or the operator's identity
    reason: str
    deployment_id: str | None = None  # the failed (or known-bad) deployment
    ecs_rolling_back: bool = False  # ECS said it is rolling back by itself


@dataclass(frozen=True)
class ManualOptions:
    """What an operator asked for; ``target`` is resolved from the ledger before deciding."""

    last_good: bool
    target: ReleaseRef | None  # the release of the named revision or commit, if the ledger or ECS knows it
    target_label: str
    force: bool
    dry_run: bool


class Path(StrEnum):
    """How a rollback is carried out (recorded on the decision as ``path``)."""

    UPDATE_SERVICE = "update_service"  # UpdateService to the GOOD release's rollback revision
    STOP_SERVICE_DEPLOYMENT = "stop_service_deployment"  # ECS's own rollback of its deployment
    # A CODE_DEPLOY-controlled service: StopDeployment (with rollback) of CodeDeploy's ongoing
    # deployment, or CreateDeployment of the GOOD release's rollback revision.
    CODEDEPLOY = "codedeploy"


@dataclass(frozen=True)
class RollBack:
    target: ReleaseRef
    current: Deployment | None
    dry_run: bool
    message: str
    code: str = "rollback"
    path: Path = Path.UPDATE_SERVICE
    # With ``Path.CODEDEPLOY``: CodeDeploy's ongoing deployment to stop with rollback (None:
    # create a deployment of the target instead); see ``through_code_deploy``.
    code_deploy_stop: str | None = None

    @property
    def deploys(self) -> str:
        """The task definition the service runs once the rollback is carried out."""
        returns = self.path == Path.STOP_SERVICE_DEPLOYMENT or (
            self.path == Path.CODEDEPLOY and self.code_deploy_stop is not None
        )
        if returns and self.current and self.current.ecs_rollback_to:
            return self.current.ecs_rollback_to
        return self.target.deploy_task_definition_arn

    @property
    def notice(self) -> NoticeKind:
        return NoticeKind.DRY_RUN if self.dry_run else NoticeKind.ROLLED_BACK


@dataclass(frozen=True)
class Skip:
    code: str
    message: str
    notice: NoticeKind = NoticeKind.SKIPPED


@dataclass(frozen=True)
class Refuse:
    code: str
    message: str
    halts_automation: bool = False  # a person must act before automatic rollbacks resume
    no_target: bool = False  # no GOOD release other than the running one is recorded

    @property
    def notice(self) -> NoticeKind:
        if self.halts_automation:
            return NoticeKind.HALTED
        return NoticeKind.NO_KNOWN_GOOD if self.no_target else NoticeKind.REFUSED


Decision = RollBack | Skip | Refuse


def decide(
    trigger: Trigger,
    state: ServiceState | None,
    policy: Policy,
    now: datetime,
    manual: ManualOptions | None = None,
) -> Decision:
    """One decision per trigger; see the product brief for each rule."""
    automatic = trigger.kind != TriggerKind.MANUAL
    if not policy.in_scope:
        return Refuse(
            "out_of_scope", "the service is not in the configured scope; add it to the stack's scope"
        )
    if state is None or state.current is None:
        message = (
            "the ledger has no record of this service yet; it is adopted on its next deployment event "
            "(or run `ecs-rollback adopt CLUSTER SERVICE`)"
        )
        return Skip("unknown_service", message) if automatic else Refuse("unknown_service", message)
    current = state.current

    if trigger.kind in (TriggerKind.DEPLOYMENT_FAILED, TriggerKind.KNOWN_BAD_RELEASE):
        if trigger.ecs_rolling_back:
            return Skip(
                "ecs_rolling_back", "ECS is already rolling this deployment back by itself; recorded it"
            )
        if trigger.deployment_id != current.deployment_id:
            return Skip(
                "stale_deployment",
                f"deployment {trigger.deployment_id} is no longer the service's newest; it has moved on to "
                f"{current.deployment_id}; nothing to undo",
            )

    if state.in_flight is not None and state.in_flight.active(now):
        message = (
            f"rollback {state.in_flight.rollback_id} is already in flight "
            f"(until it completes, or its lock expires at {state.in_flight.expires_at.isoformat()})"
        )
        return Skip("rollback_in_flight", message) if automatic else Refuse("rollback_in_flight", message)

    if automatic and state.halted is not None:
        return Refuse(
            "automation_halted",
            f"automatic rollbacks are stopped for this service: {state.halted.reason}; "
            "a person must act (manual rollback or a new deploy resumes them)",
        )

    if (
        automatic
        and trigger.kind == TriggerKind.DEPLOYMENT_FAILED
        and current.origin
        in (
            Origin.AUTOMATIC_ROLLBACK,
            Origin.MANUAL_ROLLBACK,
        )
    ):
        return Refuse(
            "rollback_deployment_failed",
            f"the rollback's own deployment ({current.describe()}) failed; not cascading, a person must decide",
            halts_automation=True,
        )

    refusal = not_deployed_by_ecs(current.controller, str(state.service), code_deploy=policy.code_deploy)
    if refusal is not None:
        return Refuse(*refusal)
    if automatic:
        decision = _decide_automatic(trigger, state, current, policy, now)
    else:
        assert manual is not None, "manual triggers carry their options"
        decision = _decide_manual(state, current, manual, policy)
    return _choose_path(decision, current) if isinstance(decision, RollBack) else decision


def _choose_path(decision: RollBack, current: Deployment) -> Decision:
    """The fastest correct way back: ECS's own rollback while ECS is still deploying (or baking)
    the current release and would land on the target; UpdateService otherwise."""
    target = decision.target
    if current.controller == "CODE_DEPLOY":
        return replace(
            decision,
            path=Path.CODEDEPLOY,
            message=f"{decision.message}; {current.describe()} is deployed by CodeDeploy, which refuses a "
            "task definition change through ECS: through CodeDeploy",
        )
    ongoing = current.status == Status.IN_PROGRESS and current.service_deployment_arn is not None
    how = f" ({current.strategy.lower().replace('_', '/')})" if current.strategy else ""
    if ongoing and current.ecs_rollback_to and current.ecs_rollback_release == target.release_id:
        return replace(
            decision,
            path=Path.STOP_SERVICE_DEPLOYMENT,
            message=f"{decision.message}; ECS is still deploying {current.describe()}{how} and its own "
            f"rollback returns to {target.describe()}: StopServiceDeployment with ROLLBACK",
        )
    if ongoing and current.ecs_rollback_release:
        return replace(
            decision,
            message=f"{decision.message}; ECS's own rollback would return to release "
            f"{current.ecs_rollback_release}, not {target.describe()}: UpdateService",
        )
    return decision


def _decide_automatic(
    trigger: Trigger, state: ServiceState, current: Deployment, policy: Policy, now: datetime
) -> Decision:
    if trigger.kind == TriggerKind.ALARM and trigger.at < current.started_at:
        return Skip(
            "alarm_before_deployment",
            f"the alarm went into ALARM at {trigger.at.isoformat()}, before the current deployment "
            f"{current.describe()} started at {current.started_at.isoformat()}: it is about an earlier "
            "release (a late or repeated delivery), not this one",
        )
    if trigger.kind == TriggerKind.ALARM and current.status.is_bad:
        return Skip(
            "current_already_bad",
            f"the current revision {current.describe()} is already {current.status}; nothing newer to undo",
        )
    if (
        trigger.kind == TriggerKind.ALARM
        and current.status == Status.GOOD
        and now - current.deployed_at >= policy.watch_window
    ):
        return Skip(
            "outside_watch_window",
            f"{current.describe()} is GOOD and went live {_ago(now - current.deployed_at)} ago, beyond the "
            f"{_ago(policy.watch_window)} watch window; an incident this late is not blamed on the deploy",
            NoticeKind.OUTSIDE_WATCH_WINDOW,
        )
    candidates = [entry for entry in state.good if entry.release_id != current.release]
    target = next((entry for entry in candidates if not entry.images_missing), None)
    if target is None:
        if candidates:
            return Refuse("image_missing", _images_gone(candidates[0]))
        if current.status == Status.GOOD:
            return Skip(
                "already_on_newest_good",
                f"the service already runs the newest GOOD release {current.describe()}; a rollback cannot help",
                NoticeKind.NO_KNOWN_GOOD,
            )
        return Skip(
            "no_known_good",
            "no known good release to roll back to; a person must decide",
            NoticeKind.NO_KNOWN_GOOD,
        )
    recent = state.rollbacks_since(now - policy.loop_guard_period)
    if recent >= policy.loop_guard_limit:
        return Refuse(
            "loop_guard",
            f"{recent} automatic rollbacks in the last {_ago(policy.loop_guard_period)} reached the limit of "
            f"{policy.loop_guard_limit}; stopping so a person can look",
        )
    verb = "would roll back" if policy.dry_run else "rolling back"
    skipped = f" ({_images_gone(candidates[0])}; skipped it)" if target is not candidates[0] else ""
    return RollBack(
        target=target,
        current=current,
        dry_run=policy.dry_run,
        message=f"{verb} from {current.describe()} to the last good release {target.describe()}"
        f"{skipped}: {trigger.reason}",
    )


def _decide_manual(
    state: ServiceState, current: Deployment, manual: ManualOptions, policy: Policy
) -> Decision:
    dry_run = manual.dry_run or policy.dry_run
    verb = "would roll back" if dry_run else "rolling back"
    if manual.last_good:
        target = state.newest_good_except(current.release)
        if target is None:
            return Refuse(
                "no_known_good",
                "no GOOD release other than the one running is recorded; name a revision or git SHA as target",
                no_target=True,
            )
    else:
        found = manual.target
        if found is None:
            return Refuse(
                "target_not_found",
                f"no revision matching {manual.target_label!r} is known for this service; "
                "see `ecs-rollback history CLUSTER SERVICE`",
            )
        target = found
    if target.release_id == current.release:
        same = (
            "" if target.task_definition_arn == current.task_definition_arn else f" (as {current.revision})"
        )
        return Skip("target_is_current", f"the service already runs the release of {target.describe()}{same}")
    if target.verdict == Verdict.BAD and not manual.force:
        return Refuse(
            "target_is_bad",
            f"the release of {target.describe()} is recorded BAD; pass force=true to roll back to it anyway",
        )
    if target.images_missing:
        return Refuse("image_missing", _images_gone(target))
    note = "" if target.digests_recorded else " (its image digests were never recorded: deployed by tag)"
    return RollBack(
        target, current, dry_run, f"{verb} from {current.describe()} to {target.describe()}{note}"
    )


NOT_DEPLOYED_BY_ECS = ("external_controller", "codedeploy_controller")


def not_deployed_by_ecs(
    controller: str | None, service: str, *, code_deploy: bool = False
) -> tuple[str, str] | None:
    """(code, message) when the service's deployment controller is not ECS's own: its task
    definition cannot be changed through ECS, so no rollback of this service's can work (but a
    CODE_DEPLOY one's through its configured CodeDeploy deployment group, ``code_deploy``)."""
    if controller == "EXTERNAL":
        return (
            "external_controller",
            f"{service} uses the EXTERNAL deployment controller: its task sets are deployed by another "
            "tool, and ECS refuses a task definition change; roll back in that tool (make the GOOD "
            "release's task set primary: aws ecs update-service-primary-task-set)",
        )
    if controller == "CODE_DEPLOY" and not code_deploy:
        return (
            "codedeploy_controller",
            f"{service} is deployed by CodeDeploy, which refuses a task definition change made through "
            "ECS; roll back in CodeDeploy: stop the running deployment with rollback (aws deploy "
            "stop-deployment --deployment-id ID --auto-rollback-enabled), or create a deployment of the "
            "GOOD release's revision with the service's AppSpec; or name its deployment group in codeDeploy "
            "(the stack's configuration) to have it rolled back through CodeDeploy",
        )
    return None


@dataclass(frozen=True)
class OngoingCodeDeploy:
    """A deployment CodeDeploy is carrying out on the service's deployment group (InProgress or
    Ready), as ``ListDeployments`` and ``GetDeployment`` tell it."""

    deployment_id: str
    task_definition_arn: str | None  # what its AppSpec deploys, when it says


def through_code_deploy(decision: RollBack, ongoing: OngoingCodeDeploy | None) -> RollBack | Refuse:
    """How a ``Path.CODEDEPLOY`` rollback goes: while CodeDeploy is still deploying the current
    release and its own rollback (to what ran before) returns to the target, StopDeployment with
    rollback; with no deployment active, CreateDeployment of the target's rollback revision. Any
    other active deployment is refused: CodeDeploy takes one active deployment per group."""
    current = decision.current
    target = decision.target
    if ongoing is None:
        return replace(decision, message=f"{decision.message}: CreateDeployment of {target.describe()}")
    deploying_current = current is not None and ongoing.task_definition_arn in (
        None,
        current.task_definition_arn,
    )
    if deploying_current and current is not None:
        if current.ecs_rollback_to and current.ecs_rollback_release == target.release_id:
            return replace(
                decision,
                code_deploy_stop=ongoing.deployment_id,
                message=f"{decision.message}: CodeDeploy is still deploying it (deployment "
                f"{ongoing.deployment_id}) and its own rollback returns to {target.describe()}: "
                "StopDeployment with rollback",
            )
        returns = (
            f"release {current.ecs_rollback_release}"
            if current.ecs_rollback_release
            else "a release the ledger does not know"
        )
        why = f"its own rollback would return to {returns}, not {target.describe()}"
    else:
        why = f"it deploys {ongoing.task_definition_arn}, not the release the ledger says runs"
    return Refuse(
        "codedeploy_deployment_active",
        f"CodeDeploy is still deploying deployment {ongoing.deployment_id} on the service's deployment group "
        f"and {why}; CodeDeploy takes one active deployment per group, so no deployment of "
        f"{target.describe()} can start: stop it (aws deploy stop-deployment --deployment-id "
        f"{ongoing.deployment_id}) and ask for the rollback again",
    )


def _images_gone(target: ReleaseRef) -> str:
    return (
        f"the images of {target.describe()} no longer exist in their repository: "
        f"{', '.join(target.images_missing)}; restore them or choose another target"
    )


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600} h"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"
