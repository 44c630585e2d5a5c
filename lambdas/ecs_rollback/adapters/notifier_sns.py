"""One SNS message per decision: a short human subject and the full record as JSON."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from ecs_rollback.ports import Notification

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

_SUBJECT_LIMIT = 100  # SNS: ASCII, no line breaks, under 100 characters


def subject_line(text: str) -> str:
    ascii_only = text.encode("ascii", "replace").decode()
    single_line = re.sub(r"[\r\n\t]+", " ", ascii_only)
    return single_line[: _SUBJECT_LIMIT - 1]


class SnsNotifier:
    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, notification: Notification) -> None:
        self._client.publish(
            TopicArn=self._topic_arn,
            Subject=subject_line(notification.subject),
            Message=json.dumps(notification.body, indent=2, sort_keys=True, default=str),
        )
