"""Where this installation acts: its own account and region, and, for a central installation, its
member accounts (through the role each provides); nothing an event of another account says."""

from __future__ import annotations

from dataclasses import replace

from ecs_rollback.events.envelope import AwsEvent
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies


def acting_in(deps: Dependencies, account: str, region: str) -> Dependencies | None:
    """The dependencies that act in ``account`` and ``region``; None, logged and counted, for an
    account and region this installation does not act in.

    Its own: ``deps`` as they are. A member's: the member's ECS, ECR and CloudWatch ports (the
    member role's clients) and the member's scope and alarm links; the ledger, the topic and the
    bake timer stay the installation's. Acting on any other would change the local service of
    the same name, or a service nobody put in scope.
    """
    settings = deps.settings
    if settings.acts_in(account, region):
        return deps
    member = settings.member(account, region)
    if member is not None and deps.members is not None:
        ports = deps.members.ports_in(account, region)
        return replace(
            deps,
            settings=settings.for_member(member),
            ecs=ports.ecs,
            registry=ports.registry,
            alarms=ports.alarms,
        )
    logger.warning(
        "event of an account or region this installation does not act in refused",
        extra={
            "event_account": account,
            "event_region": region,
            "home_account": settings.home_account,
            "home_region": settings.home_region,
            "member_accounts": [m.account for m in settings.members.accounts] if settings.members else [],
        },
    )
    deps.telemetry.event("ForeignEvent")
    return None


def for_event(deps: Dependencies, event: AwsEvent) -> Dependencies | None:
    """``acting_in`` the event's account and region (EventBridge sets both: a sender cannot)."""
    return acting_in(deps, event.account, event.region)
