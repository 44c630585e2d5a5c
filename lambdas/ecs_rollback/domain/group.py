"""A group rollback: the services released together go back together, to one git SHA, or none do.

Pure: the service reads the members' states and resolves their targets; this module says which
SHA ``last-good`` means for the group, whether every member can go there, and what the group's
answer is once each member's rollback was carried out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ecs_rollback.domain.decision import Decision, Refuse, RollBack, Skip
from ecs_rollback.domain.model import Outcome, ReleaseRef, ServiceId, Verdict

# A member whose service already runs its release of the SHA needs nothing: the group still can.
ALREADY_THERE = "target_is_current"


@dataclass(frozen=True)
class MemberCheck:
    """What the member's rollback would decide (decided as a dry run, before anything is done)."""

    service: ServiceId
    decision: Decision

    @property
    def moves(self) -> bool:
        return isinstance(self.decision, RollBack)

    @property
    def ready(self) -> bool:
        return self.moves or (isinstance(self.decision, Skip) and self.decision.code == ALREADY_THERE)


def good_or_forced(decision: Decision, force: bool) -> Decision:
    """A group goes only to releases recorded GOOD on each member (a single service's manual
    rollback goes to any release not recorded BAD): another needs ``force``."""
    if isinstance(decision, RollBack) and decision.target.verdict != Verdict.GOOD and not force:
        verdict = decision.target.verdict.value if decision.target.verdict else "not yet judged"
        return Refuse(
            "target_not_good",
            f"the release of {decision.target.describe()} is {verdict}, not GOOD; "
            "pass force=true to roll the group back to it anyway",
        )
    return decision


def blocked(code: str, message: str) -> Refuse:
    """A member that cannot even be decided on (its target cannot be resolved): why."""
    return Refuse(code, message)


def common_good_sha(goods: Sequence[Sequence[ReleaseRef]], running: Sequence[str | None]) -> str | None:
    """``last-good`` for a group: the newest git SHA that every member has a GOOD release of,
    other than the SHA every member runs now (going there could not help). ``goods`` are each
    member's GOOD releases, newest first; ``running`` each member's current git SHA."""
    if not goods:
        return None
    shared = set.intersection(*({ref.git_sha for ref in refs if ref.git_sha} for refs in goods))
    everywhere_now = running[0] if running and len(set(running)) == 1 else None
    for ref in goods[0]:  # the first member's order: newest first
        if ref.git_sha in shared and ref.git_sha != everywhere_now:
            return ref.git_sha
    return None


def group_outcome(outcomes: Sequence[str], dry_run: bool) -> tuple[str, str]:
    """(outcome, code) of the group from its members' outcomes (``SKIPPED`` for a member already
    there, ``ERROR`` for one whose rollback raised)."""
    failed = [
        outcome
        for outcome in outcomes
        if outcome not in (Outcome.ROLLED_BACK, Outcome.DRY_RUN, Outcome.SKIPPED)
    ]
    if failed:
        return Outcome.FAILED.value, "group_partial"
    if all(outcome == Outcome.SKIPPED for outcome in outcomes):
        return Outcome.SKIPPED.value, "group_already_there"
    if dry_run:
        return Outcome.DRY_RUN.value, "group_rollback"
    return Outcome.ROLLED_BACK.value, "group_rollback"
