"""``CloudWatch Alarm State Change`` events (the EventBridge ``detail``, not the alarm action payload).

Both shapes are modelled: metric alarms (``configuration.metrics``) and composite alarms
(``configuration.alarmRule``). ``alarmTags`` appears when the alarm propagates its tags.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ecs_rollback.events.envelope import AwsEvent

AlarmStateValue = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]


class _Lenient(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True, defer_build=True)


class AlarmState(_Lenient):
    value: AlarmStateValue
    reason: str = Field(default="", max_length=16384)
    reason_data: str | None = Field(default=None, alias="reasonData")
    timestamp: datetime
    actions_suppressed_by: str | None = Field(default=None, alias="actionsSuppressedBy")

    @field_validator("timestamp", mode="before")
    @classmethod
    def _cloudwatch_timestamp(cls, value: object) -> object:
        # CloudWatch writes "2019-10-02T17:04:40.989+0000": no colon in the offset.
        if isinstance(value, str) and len(value) > 5 and value[-5] in "+-" and value[-4:].isdigit():
            return f"{value[:-2]}:{value[-2:]}"
        return value


class Metric(_Lenient):
    name: str | None = None
    namespace: str | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)


class MetricStat(_Lenient):
    metric: Metric
    period: int | None = None
    stat: str | None = None


class AlarmMetric(_Lenient):
    id: str
    metric_stat: MetricStat | None = Field(default=None, alias="metricStat")
    expression: str | None = None
    return_data: bool | None = Field(default=None, alias="returnData")


class AlarmConfiguration(_Lenient):
    description: str | None = None
    metrics: list[AlarmMetric] = Field(default_factory=list)
    alarm_rule: str | None = Field(default=None, alias="alarmRule")
    actions_suppressor: str | None = Field(default=None, alias="actionsSuppressor")

    @property
    def is_composite(self) -> bool:
        return self.alarm_rule is not None

    def dimension(self, name: str) -> str | None:
        for metric in self.metrics:
            if metric.metric_stat and name in metric.metric_stat.metric.dimensions:
                return metric.metric_stat.metric.dimensions[name]
        return None


class AlarmDetail(_Lenient):
    alarm_name: str = Field(alias="alarmName", min_length=1, max_length=255)
    state: AlarmState
    previous_state: AlarmState | None = Field(default=None, alias="previousState")
    configuration: AlarmConfiguration = Field(default_factory=AlarmConfiguration)
    alarm_tags: dict[str, str] | None = Field(default=None, alias="alarmTags")
    alarm_tags_status: str | None = Field(default=None, alias="alarmTagsStatus")

    @property
    def tags_complete(self) -> bool:
        """Tags came with the event and CloudWatch says the list is whole."""
        return self.alarm_tags is not None and self.alarm_tags_status in (None, "SUCCESS")


class AlarmStateChangeEvent(AwsEvent):
    source: Literal["aws.cloudwatch"]
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    detail: AlarmDetail

    @property
    def alarm_arn(self) -> str:
        for arn in self.resources:
            if ":alarm:" in arn:
                return arn
        return f"arn:aws:cloudwatch:{self.region}:{self.account}:alarm:{self.detail.alarm_name}"

    @property
    def state_changed_at(self) -> datetime:
        return self.detail.state.timestamp.astimezone(UTC)
