"""The service watching itself: alarms to the notification topic, and one dashboard.

Every dead-letter queue is made here, so none exists without an alarm on its depth.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

PERIOD = Duration.minutes(5)
QUEUE_RETENTION = Duration.days(14)


class Monitoring:
    """The alarms and the dead-letter queues (with what each holds), in the dashboard's order."""

    def __init__(self, topic: sns.ITopic) -> None:
        self._topic = topic
        self.alarms: list[cloudwatch.Alarm] = []
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        self.purposes: dict[str, str] = {}

    def dead_letter_queue(
        self, scope: Construct, construct_id: str, purpose: str, *, name: str | None = None
    ) -> sqs.Queue:
        """A queue for what could not be delivered; ``name`` (default: its id) labels it."""
        queue = sqs.Queue(
            scope,
            construct_id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=QUEUE_RETENTION,
        )
        self._alarm(
            scope,
            f"{construct_id}Alarm",
            queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
            f"Messages are waiting in a dead-letter queue of ECS auto-rollback: {purpose}",
        )
        self.dead_letter_queues[name or construct_id] = queue
        self.purposes[name or construct_id] = purpose
        return queue

    def watch_function(self, scope: Construct, name: str, function: lambda_.Function) -> None:
        for construct_id, metric, problem in (
            ("ErrorsAlarm", function.metric_errors, "failed; check its logs and its failure queue"),
            ("ThrottlesAlarm", function.metric_throttles, "was throttled (account concurrency exhausted)"),
        ):
            self._alarm(
                scope,
                construct_id,
                metric(period=PERIOD, statistic="Sum"),
                f"The {name} function of ECS auto-rollback {problem}",
            )

    def _alarm(
        self, scope: Construct, construct_id: str, metric: cloudwatch.Metric, description: str
    ) -> None:
        alarm = metric.create_alarm(
            scope,
            construct_id,
            alarm_description=description,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self._topic))
        self.alarms.append(alarm)

    def dashboard(self, scope: Construct, functions: Mapping[str, lambda_.Function]) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(scope, "Dashboard")
        named = functions.items()
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Invocations",
                left=[fn.metric_invocations(period=PERIOD, label=name) for name, fn in named],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Errors and throttles",
                left=[fn.metric_errors(period=PERIOD, label=f"{name} errors") for name, fn in named],
                right=[fn.metric_throttles(period=PERIOD, label=f"{name} throttles") for name, fn in named],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Duration (p99)",
                left=[fn.metric_duration(period=PERIOD, statistic="p99", label=name) for name, fn in named],
                width=8,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Dead-letter queues (messages waiting)",
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic="Maximum", label=name
                    )
                    for name, queue in self.dead_letter_queues.items()
                ],
                width=12,
            ),
            cloudwatch.AlarmStatusWidget(title="Self-monitoring alarms", alarms=list(self.alarms), width=12),
        )
        return dashboard
