"""``ECR Image Action`` events (the EventBridge ``detail``), as the ECR user guide's samples show them.

Only ``DELETE`` matters here: an image a GOOD release ran is gone, so that release can no longer be
restored exactly and is refused as a rollback target, with the image named.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ecs_rollback.domain.model import DIGEST_PATTERN
from ecs_rollback.events.envelope import AwsEvent


class EcrImageActionDetail(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True, defer_build=True)

    result: Literal["SUCCESS", "FAILURE"]
    repository_name: str = Field(alias="repository-name", pattern=r"^[a-z0-9._/-]{2,256}$")
    image_digest: str = Field(alias="image-digest", pattern=DIGEST_PATTERN)
    action_type: Literal["PUSH", "DELETE"] = Field(alias="action-type")
    image_tag: str | None = Field(default=None, alias="image-tag", max_length=300)


class EcrImageActionEvent(AwsEvent):
    source: Literal["aws.ecr"]
    detail_type: Literal["ECR Image Action"] = Field(alias="detail-type")
    detail: EcrImageActionDetail
