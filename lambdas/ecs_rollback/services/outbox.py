"""Publishing the outbox: notifications written with their decisions, sent after the commit.

The notifier function publishes each entry as the table's stream delivers it; the reconciler
publishes what the stream path left (a publish that kept failing, a record the stream dropped).
An entry is claimed for a short while before it is published and marked sent after, so the two
paths do not both publish it; a failed publish loses nothing (the entry stays unsent).
"""

from __future__ import annotations

from datetime import timedelta

from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies, OutboxEntry

CLAIM = timedelta(seconds=60)  # longer than a publish with the SDK's retries takes
UNSENT_GRACE = timedelta(seconds=60)  # the reconciler leaves younger entries to the stream


def deliver(deps: Dependencies, entry: OutboxEntry) -> bool:
    """Publish one entry unless it is sent or another run is publishing it. True when published."""
    now = deps.clock.now()
    if not deps.ledger.claim(entry, now, now + CLAIM):
        return False
    deps.notifier.publish(entry)
    deps.ledger.mark_sent(entry, deps.clock.now())
    logger.info("notification published", extra={"key": entry.key, "service": str(entry.service)})
    deps.telemetry.event("NotificationPublished")
    return True


def deliver_unsent(deps: Dependencies, limit: int = 100) -> int:
    """Publish the entries the stream path has not sent within ``UNSENT_GRACE``; one Query."""
    now = deps.clock.now()
    published = 0
    for entry in deps.ledger.unsent(limit):
        if now - entry.created_at < UNSENT_GRACE:
            continue
        try:
            published += deliver(deps, entry)
        except Exception:  # one failing entry must not hold back the others; it stays unsent
            logger.exception("publishing an unsent notification failed", extra={"key": entry.key})
    return published
