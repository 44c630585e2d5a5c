"""Where this installation acts: its own account and region, and nothing an event of another says."""

from __future__ import annotations

from ecs_rollback.events.envelope import AwsEvent
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies


def from_elsewhere(deps: Dependencies, event: AwsEvent) -> bool:
    """True, logged and counted, for an event of another account or region than the installation's.

    EventBridge delivers only this account's and region's events unless someone forwards others to
    its bus; such an event names services this installation's clients cannot reach, and acting on
    it would change the local service of the same name.
    """
    if deps.settings.acts_in(event.account, event.region):
        return False
    logger.warning(
        "event of another account or region ignored",
        extra={
            "event_account": event.account,
            "event_region": event.region,
            "home_account": deps.settings.home_account,
            "home_region": deps.settings.home_region,
        },
    )
    deps.telemetry.event("ForeignEvent")
    return True
