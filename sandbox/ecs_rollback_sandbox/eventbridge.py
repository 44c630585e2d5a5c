"""The envelope an AWS service's events travel in on EventBridge, as the simulators emit them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class EventSource:
    """One AWS service (``aws.ecs``) emitting events in one account and region."""

    source: str
    account: str
    region: str

    def event(
        self, detail_type: str, detail: Mapping[str, Any], *, resources: list[str], at: datetime
    ) -> dict[str, Any]:
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": self.source,
            "account": self.account,
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": resources,
            "detail": dict(detail),
        }


def milliseconds(at: datetime) -> str:
    """``2026-11-02T09:00:00.000``: the services' own timestamps in ``detail`` (zone suffix theirs)."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
