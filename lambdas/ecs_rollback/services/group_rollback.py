"""A group rollback by hand: ``{"group": "checkout", "target": "<git sha>" | "last-good", ...}``.

Every member's release of the SHA is resolved and checked first (decided as a dry run: GOOD or
``force``, images present, nothing in flight). If any member cannot go back, nothing is done and
the answer says which and why. Otherwise each member is rolled back as a manual request would
roll it back (its own record, lock and idempotency), every record carrying the group's rollback
id, and one notification tells of the whole group.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ecs_rollback.config import Group
from ecs_rollback.domain import group as rules
from ecs_rollback.domain.decision import Trigger, decide
from ecs_rollback.domain.errors import InvalidRequest, RollbackError
from ecs_rollback.domain.model import Outcome, ServiceId
from ecs_rollback.domain.notices import NoticeKind
from ecs_rollback.domain.targets import GitShaTarget, LastGood, TargetSpec
from ecs_rollback.events.manual import GroupRollbackRequest
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies, LedgerChange, Notification
from ecs_rollback.services import executor, place
from ecs_rollback.services.executor import GroupTag, Loaded
from ecs_rollback.services.notifications import outbox_entries, record_view

_GROUP_NAMESPACE = uuid.UUID("0c2f61d4-5f5e-4a43-9d8e-2b7a1e6c9f13")

# How a member's state and target are read: (the dependencies acting where the member is, the
# service, the SHA, the label the answer shows).
MemberLoader = Callable[[Dependencies, ServiceId, GitShaTarget, str], Loaded]


def group_rollback_id(group: str, request_id: str) -> str:
    return str(uuid.uuid5(_GROUP_NAMESPACE, f"{group}|{request_id}"))


def members_of(group: Group, partition: str, region: str, account: str) -> list[ServiceId]:
    """The group's services: ``cluster/service`` in this installation's account and region, an ARN
    where it says."""
    return [
        ServiceId.from_arn(ref) if ref.startswith("arn:") else ServiceId(partition, region, account, *pair)
        for ref, pair in zip(group.services, group.pairs(), strict=True)
    ]


def roll_back_group(
    deps: Dependencies,
    request: GroupRollbackRequest,
    members: list[ServiceId],
    load: MemberLoader,
    *,
    request_id: str,
    requested_by: str,
) -> dict[str, Any]:
    """Check every member, then roll every member back, or none; one answer, one notification."""
    group_id = group_rollback_id(request.group, request_id)
    trigger = executor.manual_trigger(deps, request_id, requested_by, request.reason)
    sha = _sha_of(deps, request.target_spec, members)
    label = request.target if isinstance(request.target_spec, GitShaTarget) else f"last-good ({sha[:12]})"
    placed = {member: place.acting_in(deps, member.account, member.region) for member in members}
    checks = [_check(placed[member], trigger, member, GitShaTarget(sha), label, load) for member in members]
    answer: dict[str, Any] = {
        "group": request.group,
        "group_rollback_id": group_id,
        "target": label,
        "git_sha": sha,
        "dry_run": request.dry_run,
    }
    blockers = [check for check in checks if not check.ready]
    if blockers:
        reasons = "; ".join(f"{check.service}: {check.decision.message}" for check in blockers)
        answer |= {
            "outcome": Outcome.REFUSED.value,
            "code": "group_blocked",
            "message": f"nothing was done: {len(blockers)} of {len(members)} services of group "
            f"{request.group!r} cannot go back to {label}: {reasons}",
            "members": [_check_view(check) for check in checks],
        }
        _notify(deps, members[0], answer, NoticeKind.REFUSED)
        return answer

    tag = GroupTag(request.group, group_id)
    views = [
        _carry_out(placed[check.service] or deps, trigger, check, load, sha, label, requested_by, tag)
        for check in checks
    ]
    outcome, code = rules.group_outcome([view["outcome"] for view in views], request.dry_run)
    moved = sum(1 for view in views if view["outcome"] in (Outcome.ROLLED_BACK, Outcome.DRY_RUN))
    summary = {
        "group_rollback": f"{'would roll back' if request.dry_run else 'rolled back'} {moved} of "
        f"{len(members)} services of group {request.group!r} to {label}"
        + (f"; {len(members) - moved} already ran it" if moved < len(members) else ""),
        "group_partial": f"group {request.group!r} is only partly back on {label}: "
        + "; ".join(f"{view['service']}: {view['outcome']} ({view['message']})" for view in views)
        + "; the ledger shows each service; repeat the request to finish (services already there "
        "are skipped)",
        "group_already_there": f"every service of group {request.group!r} already runs {label}",
    }
    answer |= {"outcome": outcome, "code": code, "message": summary[code], "members": views}
    _notify(deps, members[0], answer, NoticeKind(outcome))
    return answer


def _sha_of(deps: Dependencies, spec: TargetSpec, members: list[ServiceId]) -> str:
    if isinstance(spec, GitShaTarget):
        return spec.prefix
    if not isinstance(spec, LastGood):
        raise InvalidRequest(
            "invalid_group_target",
            "a group goes back to one git SHA or to last-good; a revision belongs to one service: "
            "roll that service back alone, or give the git SHA",
        )
    goods, running = [], []
    for member in members:
        state = deps.ledger.load(member)
        if state is None or state.current is None:
            raise InvalidRequest(
                "group_member_unknown",
                f"the ledger has no record of {member} yet, so no git SHA is known GOOD for the whole group; "
                "give the git SHA as target (or run `ecs-rollback adopt` on it first)",
            )
        refs = list(state.good)
        if state.good_truncated:
            known = {ref.release_id for ref in refs}
            refs += [ref for ref in deps.ledger.good_releases(member) if ref.release_id not in known]
        goods.append(refs)
        running.append(state.current.git_sha)
    sha = rules.common_good_sha(goods, running)
    if sha is None:
        raise InvalidRequest(
            "no_common_good",
            "no git SHA is recorded GOOD on every service of the group (other than the one they all run); "
            "give the git SHA as target, with force=true for a member whose release of it is not GOOD",
        )
    return sha


def _check(
    deps: Dependencies | None,
    trigger: Trigger,
    member: ServiceId,
    sha: GitShaTarget,
    label: str,
    load: MemberLoader,
) -> rules.MemberCheck:
    """The member's decision as a dry run: nothing is written, ECS is untouched."""
    if deps is None:
        return rules.MemberCheck(
            member,
            rules.blocked(
                "not_acting_there",
                f"this installation does not act in account {member.account} ({member.region}); "
                "add the account to the stack's members",
            ),
        )
    try:
        state, options = load(deps, member, sha, label)
    except InvalidRequest as error:
        return rules.MemberCheck(member, rules.blocked(error.code, error.message))
    if options is None:
        return rules.MemberCheck(member, rules.blocked("internal_error", "the target could not be read"))
    decision = decide(
        trigger, state, executor.policy_for(deps, member), deps.clock.now(), replace(options, dry_run=True)
    )
    return rules.MemberCheck(member, rules.good_or_forced(decision, options.force))


def _carry_out(
    deps: Dependencies,
    trigger: Trigger,
    check: rules.MemberCheck,
    load: MemberLoader,
    sha: str,
    label: str,
    requested_by: str,
    tag: GroupTag,
) -> dict[str, Any]:
    """One member's rollback, as a manual request of its own; a failure is that member's answer."""
    member = check.service
    if not check.moves:
        return _check_view(check) | {"outcome": Outcome.SKIPPED.value}
    options = executor.ManualRequestOptions(
        load=lambda: load(deps, member, GitShaTarget(sha), label), requested_by=requested_by, group=tag
    )
    try:
        return record_view(executor.execute(deps, trigger, member, manual=options))
    except Exception as error:  # the members before it are back: the answer must say so, not raise
        logger.exception("a group member's rollback failed", extra={"service": str(member)})
        code = error.code if isinstance(error, RollbackError) else "aws_fault"
        return _fault_view(member, code, f"{type(error).__name__}: {str(error)[:500]}")


def _fault_view(member: ServiceId, code: str, message: str) -> dict[str, Any]:
    return {
        "service": str(member),
        "service_arn": member.arn,
        "outcome": "ERROR",
        "code": code,
        "message": f"{message}; if the ledger shows this rollback in flight, the reconciler finishes it",
    }


def _check_view(check: rules.MemberCheck) -> dict[str, Any]:
    decision = check.decision
    return {
        "service": str(check.service),
        "service_arn": check.service.arn,
        "ready": check.ready,
        "code": decision.code,
        "message": decision.message,
    }


def _notify(deps: Dependencies, first: ServiceId, answer: dict[str, Any], kind: NoticeKind) -> None:
    """The group's one notification, through the outbox (its key names the group rollback)."""
    notification = Notification(
        subject=f"[ecs-rollback] group {answer['group']}: {answer['outcome'].lower().replace('_', ' ')} "
        f"({answer['target']})",
        body=answer,
        kind=kind,
        key=f"group#{answer['group_rollback_id']}",
    )
    entries = [
        replace(entry, attributes={**entry.attributes, "group": answer["group"]})
        for entry in outbox_entries(deps.settings, first, deps.clock.now(), notification)
    ]
    if entries:
        deps.ledger.commit(LedgerChange(state=None, expected_version=0, notifications=entries))
