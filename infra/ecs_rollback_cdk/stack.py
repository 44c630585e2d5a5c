"""The thin default stack: imports what the configuration names, composes the construct, tags, outputs."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack, Tags
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from ecs_rollback_cdk.config import RollbackConfig
from ecs_rollback_cdk.construct import EcsAutoRollback, import_ledger_table

PROJECT_TAG = ("project", "ecs-auto-rollback")


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

        existing_table = None
        if config.existing_table_name and config.existing_table_stream_arn:
            existing_table = import_ledger_table(
                self,
                "ExistingLedger",
                table_name=config.existing_table_name,
                stream_arn=config.existing_table_stream_arn,
            )
        existing_topic = None
        if config.existing_topic_arn:
            existing_topic = sns.Topic.from_topic_attributes(
                self,
                "ExistingTopic",
                topic_arn=config.existing_topic_arn,
                key_arn=config.existing_topic_key_arn,
            )
        powertools_layer = None
        if config.powertools_layer_arn:
            powertools_layer = lambda_.LayerVersion.from_layer_version_arn(
                self, "PowertoolsLayer", config.powertools_layer_arn
            )

        self.rollback = EcsAutoRollback(
            self,
            "Rollback",
            services=config.scope.services,
            clusters=config.scope.clusters,
            alarm_links=config.alarm_links,
            alarm_name_prefixes=config.alarm_name_prefixes,
            bake_time=Duration.seconds(config.bake_time_seconds),
            watch_window=Duration.seconds(config.watch_window_seconds),
            loop_guard_limit=config.loop_guard_limit,
            lock_ttl=Duration.seconds(config.lock_ttl_seconds),
            dry_run=config.dry_run,
            dry_run_services=config.dry_run_services,
            notification_emails=config.notification_emails,
            existing_topic=existing_topic,
            existing_table=existing_table,
            pass_role_arns=config.pass_role_arns,
            ecr_repository_arns=config.ecr_repository_arns,
            task_definition_families=config.task_definition_families,
            powertools_layer=powertools_layer,
            powertools_version=config.powertools_version,
            log_retention_days=config.log_retention_days,
            log_level=config.log_level,
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
            "DashboardName": (rollback.dashboard.dashboard_name, "The self-monitoring dashboard"),
        }
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)
