"""Plays CloudWatch's event emission: sets an alarm's state in the emulator and builds the
``CloudWatch Alarm State Change`` event CloudWatch would send to EventBridge."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from ecs_rollback_sandbox.clock import ManualClock
from ecs_rollback_sandbox.emulator import ACCOUNT, Emulator


@dataclass
class CloudWatchSimulator:
    emulator: Emulator
    clock: ManualClock
    account: str = ACCOUNT

    def create_service_alarm(
        self, name: str, cluster: str, service: str, *, tags: dict[str, str] | None = None
    ) -> str:
        cloudwatch = self.emulator.client("cloudwatch")
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/ECS",
            MetricName="CPUUtilization",
            Dimensions=[{"Name": "ClusterName", "Value": cluster}, {"Name": "ServiceName", "Value": service}],
            Statistic="Average",
            Period=60,
            EvaluationPeriods=1,
            Threshold=80.0,
            ComparisonOperator="GreaterThanThreshold",
            Tags=[{"Key": key, "Value": value} for key, value in (tags or {}).items()],
        )
        return self.arn(name)

    def create_plain_alarm(self, name: str, *, tags: dict[str, str] | None = None) -> str:
        """An alarm with no ECS dimensions (a load balancer's 5xx, say): linked by tags or configuration."""
        self.emulator.client("cloudwatch").put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/ApplicationELB",
            MetricName="HTTPCode_Target_5XX_Count",
            Dimensions=[{"Name": "LoadBalancer", "Value": "app/prod/50dc6c495c0c9188"}],
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=10.0,
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
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
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
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch",
            "account": self.account,
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.emulator.region,
            "resources": [alarm["AlarmArn"]],
            "detail": detail,
        }
