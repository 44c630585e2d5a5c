"""Bake scheduling: the group the one-time bake schedules go in, the role EventBridge Scheduler
runs them with (it may invoke the bake timer and nothing else), and their dead-letter queue.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from ecs_rollback_cdk import permissions
from ecs_rollback_cdk.constructs.monitoring import Monitoring


class BakeScheduling:
    def __init__(self, scope: Construct, monitoring: Monitoring, arns: permissions.Arns) -> None:
        self._arns = arns
        self.group = scheduler.ScheduleGroup(scope, "BakeSchedules", removal_policy=RemovalPolicy.DESTROY)
        self.role = iam.Role(
            scope,
            "BakeSchedulerRole",
            description="Assumed by EventBridge Scheduler to invoke the bake timer, and nothing else",
            assumed_by=iam.ServicePrincipal(
                permissions.SCHEDULER_PRINCIPAL,
                conditions={
                    "StringEquals": {"aws:SourceAccount": Stack.of(scope).account},
                    "ArnEquals": {"aws:SourceArn": arns.schedule_group(self.group.schedule_group_name)},
                },
            ),
        )
        # A bake timer Scheduler could not deliver lands here, like every EventBridge target's event.
        self.dead_letters = monitoring.dead_letter_queue(
            scope, "BakeSchedulesDeadLetters", "bake-timer schedules EventBridge Scheduler could not deliver"
        )
        self.dead_letters.grant_send_messages(self.role)

    def settings(self) -> dict[str, str]:
        """The ``Settings`` fields of the functions that create bake schedules."""
        return {
            "bake_timer_role_arn": self.role.role_arn,
            "bake_timer_dead_letter_arn": self.dead_letters.queue_arn,
            "schedule_group_name": self.group.schedule_group_name,
        }

    def statements(self) -> list[iam.PolicyStatement]:
        """What a function that creates bake schedules needs."""
        return permissions.bake_scheduler(
            self._arns, group_name=self.group.schedule_group_name, scheduler_role_arn=self.role.role_arn
        )

    def invoke_only(self, bake_timer: lambda_.IFunction) -> None:
        """The role may invoke the bake timer (unqualified ARN) and nothing else."""
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="InvokeBakeTimerOnly",
                actions=["lambda:InvokeFunction"],
                resources=[bake_timer.function_arn],
            )
        )
