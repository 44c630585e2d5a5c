"""CloudWatch alarms: tags for linking, and which alarms are in ALARM now."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

_DESCRIBE_BATCH = 100  # DescribeAlarms takes at most 100 names


class CloudWatchAlarms:
    def __init__(self, client: CloudWatchClient) -> None:
        self._client = client

    def tags(self, alarm_arn: str) -> dict[str, str]:
        response = self._client.list_tags_for_resource(ResourceARN=alarm_arn)
        return {tag["Key"]: tag["Value"] for tag in response.get("Tags", [])}

    def in_alarm(self, alarm_names: Sequence[str]) -> list[str]:
        firing: list[str] = []
        names = sorted(set(alarm_names))
        for start in range(0, len(names), _DESCRIBE_BATCH):
            response = self._client.describe_alarms(
                AlarmNames=names[start : start + _DESCRIBE_BATCH],
                AlarmTypes=["MetricAlarm", "CompositeAlarm"],
                StateValue="ALARM",
            )
            firing += [alarm["AlarmName"] for alarm in response.get("MetricAlarms", [])]
            firing += [alarm["AlarmName"] for alarm in response.get("CompositeAlarms", [])]
        return firing
