"""The thin default stack: imports what the configuration names, composes the construct, tags, outputs."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Fn, Stack, Tags
from constructs import Construct

from ecs_rollback.contract import SERVICE_NAME
from ecs_rollback_cdk.config import RollbackConfig
from ecs_rollback_cdk.construct import EcsAutoRollback
from ecs_rollback_cdk.constructs.notifications import imported_topic

PROJECT_TAG = ("project", SERVICE_NAME)


class EcsAutoRollbackStack(Stack):
    """One ``cdk deploy``: the rollback service for the scope in ``config``."""

    def __init__(self, scope: Construct, construct_id: str, *, config: RollbackConfig, **kwargs: Any) -> None:
        kwargs.setdefault("stack_name", config.stack_name)
        kwargs.setdefault(
            "description",
            "ECS auto-rollback: rolls ECS services back to their last good revision; deploy ledger",
        )
        super().__init__(scope, construct_id, **kwargs)
        Tags.of(self).add(*PROJECT_TAG)

        # The construct would import the topic ``config`` names itself; imported here, at stack
        # level, its e-mail subscriptions keep the logical ids that deployed stacks already have.
        self.rollback = EcsAutoRollback(
            self, "Rollback", config=config, existing_topic=imported_topic(self, config)
        )

        rollback = self.rollback
        outputs = {
            "LedgerTableName": (rollback.table.table_name, "The deploy ledger (DynamoDB table)"),
            "LedgerTableStreamArn": (
                rollback.table.table_stream_arn or "",
                "The ledger's stream (new and old images) for other tools to subscribe",
            ),
            "ManualRollbackFunctionName": (
                rollback.manual_rollback_function.function_name,
                "Invoke with a rollback request (the CLI finds it through this output)",
            ),
            "NotificationTopicArn": (rollback.topic.topic_arn, "One message per rollback decision"),
            "DeploymentEventsFunctionName": (
                rollback.deployment_events_function.function_name,
                "ECS events handler",
            ),
            "AlarmEventsFunctionName": (rollback.alarm_events_function.function_name, "Alarm events handler"),
            "BakeTimerFunctionName": (rollback.bake_timer_function.function_name, "Bake-time promotion"),
            "ImageEventsFunctionName": (
                rollback.image_events_function.function_name,
                "ECR image deletions handler",
            ),
            "NotifierFunctionName": (
                rollback.notifier_function.function_name,
                "Publishes the ledger's outbox (rollback decisions) from the ledger's stream",
            ),
            "ReconcilerFunctionName": (
                rollback.reconciler_function.function_name,
                "Runs every minute: resumes stalled rollbacks, records lost events, publishes unsent notices",
            ),
            "ReleaseGateFunctionArn": (
                rollback.release_gate_function.function_arn,
                "The release gate: a service's deployment lifecycle hook hookTargetArn",
            ),
            "ReleaseGateHookRoleArn": (
                rollback.release_gate_hook_role.role_arn,
                "The role ECS assumes to invoke the release gate: the lifecycle hook's roleArn",
            ),
            "DashboardName": (rollback.dashboard.dashboard_name, "The self-monitoring dashboard"),
        }
        if rollback.chat_topic is not None:
            outputs["ChatNotificationTopicArn"] = (
                rollback.chat_topic.topic_arn,
                "Each notification in Amazon Q Developer's custom format: map it to a Slack or Teams channel",
            )
        if rollback.member_trusted_roles:
            outputs["MemberTrustedRoleArns"] = (
                Fn.join(",", [role.role_arn for role in rollback.member_trusted_roles if role is not None]),
                "The member stack's CentralFunctionRoleArns parameter: the roles its member role trusts",
            )
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)
