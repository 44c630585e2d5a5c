"""Optimistic concurrency, retried one way everywhere.

Every read-modify-write of a service's ledger state is conditioned on the version it read; when
another writer got there first the commit raises ``ConcurrentUpdate`` and the whole step runs
again from a fresh read. This is the one loop that does it: a bounded number of attempts with
full-jitter backoff, so writers that collide do not collide again in lockstep.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from ecs_rollback.domain.errors import ConcurrentUpdate

T = TypeVar("T")

MAX_ATTEMPTS = 8
BASE_DELAY_SECONDS = 0.01
MAX_DELAY_SECONDS = 0.25


def on_conflict(
    step: Callable[[], T],
    *,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[], float] = random.random,
) -> T:
    """Run ``step`` until it commits without a ``ConcurrentUpdate``, at most ``MAX_ATTEMPTS`` times.

    ``what`` names the contended state for the final error, which the platform retries.
    """
    for attempt in range(MAX_ATTEMPTS):
        try:
            return step()
        except ConcurrentUpdate:
            if attempt == MAX_ATTEMPTS - 1:
                break
            sleep(min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2**attempt) * jitter())
    raise ConcurrentUpdate(f"{what} kept changing after {MAX_ATTEMPTS} attempts; the event will be retried")
