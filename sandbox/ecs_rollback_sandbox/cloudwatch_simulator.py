"""Plays CloudWatch's event emission: sets an alarm's state in the emulator and builds the
``CloudWatch Alarm State Change`` event CloudWatch would send to EventBridge. The alarm's state
time in the emulator is the simulated clock's, as DescribeAlarms would report it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from moto.backends import get_backend

from ecs_rollback_sandbox.clock import ManualClock
from ecs_rollback_sandbox.emulator import ACCOUNT, Emulator
from ecs_rollback_sandbox.eventbridge import EventSource, milliseconds


@dataclass
class CloudWatchSimulator:
    emulator: Emulator
    clock: ManualClock
    account: str = ACCOUNT

    def create_service_alarm(
        self, name: str, cluster: str, service: str, *, tags: dict[str, str] | None = None
    ) -> str:
        """A CPU alarm on the service's ``ClusterName``/``ServiceName`` dimensions."""
        dimensions = {"ClusterName": cluster, "ServiceName": service}
        return self._put_alarm(name, "AWS/ECS", "CPUUtilization", dimensions, "Average", 80.0, tags)

    def create_plain_alarm(self, name: str, *, tags: dict[str, str] | None = None) -> str:
        """An alarm with no ECS dimensions (a load balancer's 5xx, say): linked by tags or configuration."""
        dimensions = {"LoadBalancer": "app/prod/50dc6c495c0c9188"}
        return self._put_alarm(
            name, "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", dimensions, "Sum", 10.0, tags
        )

    def _put_alarm(
        self,
        name: str,
        namespace: str,
        metric: str,
        dimensions: Mapping[str, str],
        statistic: str,
        threshold: float,
        tags: Mapping[str, str] | None,
    ) -> str:
        self.emulator.client("cloudwatch").put_metric_alarm(
            AlarmName=name,
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[{"Name": key, "Value": value} for key, value in dimensions.items()],
            Statistic=statistic,
            Period=60,
            EvaluationPeriods=1,
            Threshold=threshold,
            ComparisonOperator="GreaterThanThreshold",
            Tags=[{"Key": key, "Value": value} for key, value in (tags or {}).items()],
        )
        return self.arn(name)

    def arn(self, name: str) -> str:
        return f"arn:aws:cloudwatch:{self.emulator.region}:{self.account}:alarm:{name}"

    def set_state(self, name: str, state: str, *, propagate_tags: bool = False) -> dict[str, Any]:
        """Move the alarm to ``state`` and return the event CloudWatch would emit."""
        cloudwatch = self.emulator.client("cloudwatch")
        alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        previous = alarm["StateValue"]
        cloudwatch.set_alarm_state(
            AlarmName=name, StateValue=state, StateReason=f"Threshold Crossed (simulated {state})"
        )
        now = self.clock.now()
        # moto stamps the change with the wall clock; CloudWatch's would be the simulated one.
        alarms = get_backend("cloudwatch")[self.account][self.emulator.region].alarms
        alarms[name].state_updated_timestamp = now.astimezone(UTC).replace(tzinfo=None)  # moto's is naive UTC
        stamp = milliseconds(now) + "+0000"
        detail: dict[str, Any] = {
            "alarmName": name,
            "state": {"value": state, "reason": f"Threshold Crossed (simulated {state})", "timestamp": stamp},
            "previousState": {"value": previous, "reason": "previous state", "timestamp": stamp},
            "configuration": {
                "description": alarm.get("AlarmDescription", ""),
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "dimensions": {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
                                "name": alarm.get("MetricName"),
                                "namespace": alarm.get("Namespace"),
                            },
                            "period": alarm.get("Period"),
                            "stat": alarm.get("Statistic"),
                        },
                        "returnData": True,
                    }
                ],
            },
        }
        if propagate_tags:
            tags = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
            detail["alarmTags"] = {tag["Key"]: tag["Value"] for tag in tags}
            detail["alarmTagsStatus"] = "SUCCESS"
        events = EventSource("aws.cloudwatch", self.account, self.emulator.region)
        return events.event("CloudWatch Alarm State Change", detail, resources=[alarm["AlarmArn"]], at=now)
