"""The manual rollback request: the public contract of the manual rollback function."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from ecs_rollback.domain.targets import TargetSpec, parse_target

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,255}$")]
CLUSTER_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):ecs:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"cluster/(?P<name>[A-Za-z0-9_-]{1,255})$",
    re.ASCII,
)

MAX_PAYLOAD_BYTES = 16 * 1024


class Request(BaseModel):
    """What every manual request carries: the target, why, and how to act."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)

    target: Annotated[str, StringConstraints(min_length=1, max_length=2048)] = "last-good"
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1024)]
    dry_run: bool = False
    force: bool = False
    requested_by: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512)] | None
    ) = None

    @property
    def target_spec(self) -> TargetSpec:
        return parse_target(self.target)


class ManualRollbackRequest(Request):
    """``{"cluster", "service", "target", "reason", "dry_run", "force", "requested_by"}``."""

    cluster: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    service: Name

    @field_validator("cluster")
    @classmethod
    def _cluster(cls, value: str) -> str:
        if not cluster_name_is_valid(value):
            raise ValueError("not a cluster name (letters, digits, '-' and '_') or an ECS cluster ARN")
        return value

    @property
    def cluster_name(self) -> str:
        match = CLUSTER_ARN.match(self.cluster)
        return match["name"] if match else self.cluster


class GroupRollbackRequest(Request):
    """``{"group", "target", "reason", "dry_run", "force", "requested_by"}``: every service of a
    configured group back to its release of one git SHA (``target``: a SHA or ``last-good``)."""

    group: Name


def cluster_name_is_valid(value: str) -> bool:
    return bool(CLUSTER_ARN.match(value) or re.fullmatch(r"[A-Za-z0-9_-]{1,255}", value, re.ASCII))
