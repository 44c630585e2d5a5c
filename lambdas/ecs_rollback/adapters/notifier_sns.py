"""Publishes outbox entries to the SNS topic (subject, bounded JSON body, filterable attributes),
and to the chat topic, when there is one, in Amazon Q Developer's custom-notification format."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecs_rollback.domain.notices import chat_message
from ecs_rollback.ports import OutboxEntry

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


class SnsNotifier:
    def __init__(self, client: SNSClient, topic_arn: str, chat_topic_arn: str | None = None) -> None:
        self._client = client
        self._topic_arn = topic_arn
        self._chat_topic_arn = chat_topic_arn

    def publish(self, entry: OutboxEntry) -> None:
        self._client.publish(
            TopicArn=self._topic_arn,
            Subject=entry.subject,
            Message=entry.message,
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value} for name, value in entry.attributes.items()
            },
        )
        if self._chat_topic_arn is not None:
            # After the main topic: a failure here leaves the entry unsent, and its retry may
            # repeat the main message (SNS delivers at least once anyway).
            self._client.publish(
                TopicArn=self._chat_topic_arn,
                Message=chat_message(entry.key, entry.subject, entry.message, entry.attributes),
            )
