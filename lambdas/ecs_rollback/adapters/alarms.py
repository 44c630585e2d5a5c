"""CloudWatch alarms: tags for linking, and which alarms are in ALARM now."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any

from ecs_rollback.ports import FiringAlarm

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

_DESCRIBE_BATCH = 100  # DescribeAlarms takes at most 100 names
_FIRING_PAGES = 10  # at most 1,000 alarms in ALARM per pass (DescribeAlarms pages 100)


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

    def firing_alarms(self) -> list[FiringAlarm]:
        """Every alarm in ALARM now (metric and composite), newest pages first as CloudWatch gives them."""
        found: list[FiringAlarm] = []
        token: str | None = None
        for _page in range(_FIRING_PAGES):
            request: dict[str, Any] = {"StateValue": "ALARM", "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}
            if token:
                request["NextToken"] = token
            response = self._client.describe_alarms(**request)
            for alarm in [*response.get("MetricAlarms", []), *response.get("CompositeAlarms", [])]:
                found.append(_firing(alarm))
            token = response.get("NextToken")
            if not token:
                break
        return found


def _firing(alarm: Any) -> FiringAlarm:
    changed = alarm.get("StateTransitionedTimestamp") or alarm["StateUpdatedTimestamp"]
    dimensions = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
    for metric in alarm.get("Metrics", []):  # a metric-math alarm: the first metric's dimensions
        stat = metric.get("MetricStat") or {}
        if not dimensions and stat:
            dimensions = {d["Name"]: d["Value"] for d in stat.get("Metric", {}).get("Dimensions", [])}
    return FiringAlarm(
        name=alarm["AlarmName"],
        arn=alarm["AlarmArn"],
        reason=str(alarm.get("StateReason", ""))[:1000],
        changed_at=changed.astimezone(UTC),
        dimensions=dimensions,
    )
