"""Publishes outbox entries to the SNS topic: subject, bounded JSON body, filterable attributes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecs_rollback.ports import OutboxEntry

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


class SnsNotifier:
    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, entry: OutboxEntry) -> None:
        self._client.publish(
            TopicArn=self._topic_arn,
            Subject=entry.subject,
            Message=entry.message,
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value} for name, value in entry.attributes.items()
            },
        )
