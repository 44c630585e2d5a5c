"""The EventBridge rules: deployment events, alarm events and image deletions, each into its
function, the Reconciler's schedule (every minute), when services opt in, their pause hooks
into the release gate, and, when CodeDeploy deployment groups are configured, their
deployments' ends into the deployment events function.

Target delivery is retried for up to an hour, then the event is parked in the rule's own
dead-letter queue.
"""

from __future__ import annotations

from typing import NamedTuple

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from ecs_rollback_cdk import patterns
from ecs_rollback_cdk.config import RollbackConfig
from ecs_rollback_cdk.constructs.monitoring import Monitoring

TARGET_MAX_EVENT_AGE = Duration.hours(1)
TARGET_RETRY_ATTEMPTS = 4
DESCRIPTIONS = {
    "DeploymentEventsRule": "ECS deployment state changes of the services in scope",
    "AlarmEventsRule": "CloudWatch alarms entering ALARM that may be linked to a service in scope",
    "ImageEventsRule": "Images deleted from ECR, which releases in the ledger may have run",
    "ReconcilerSchedule": "Every minute: the Reconciler makes the ledger and ECS agree",
    "PauseHookRule": "ECS pause hooks awaiting action of the services that opt in (answerPauseHooks)",
    "CodeDeployEventsRule": "Ends of the configured CodeDeploy deployment groups' deployments (codeDeploy)",
}
RECONCILE_EVERY = Duration.minutes(1)


class Rules(NamedTuple):
    deployment_events: events.Rule
    alarm_events: events.Rule
    image_events: events.Rule
    reconciler: events.Rule


def rollback_rules(
    scope: Construct,
    config: RollbackConfig,
    monitoring: Monitoring,
    *,
    deployment_events: lambda_.IFunction,
    alarm_events: lambda_.IFunction,
    image_events: lambda_.IFunction,
    reconciler: lambda_.IFunction,
) -> Rules:
    stack = Stack.of(scope)
    deployment_pattern = patterns.deployment_event_pattern(
        config.scope,
        partition=stack.partition,
        region=stack.region,
        account=stack.account,
        members=config.members,
    )
    alarm_pattern = patterns.alarm_event_pattern(
        config.alarm_links, config.alarm_name_prefixes, account=stack.account, members=config.members
    )
    image_pattern = patterns.image_deleted_pattern(config.ecr_repository_arns)
    return Rules(
        _rule(scope, monitoring, "DeploymentEventsRule", deployment_pattern, deployment_events),
        _rule(scope, monitoring, "AlarmEventsRule", alarm_pattern, alarm_events),
        _rule(scope, monitoring, "ImageEventsRule", image_pattern, image_events),
        _rule(
            scope,
            monitoring,
            "ReconcilerSchedule",
            None,
            reconciler,
            schedule=events.Schedule.rate(RECONCILE_EVERY),
        ),
    )


def pause_hook_rule(
    scope: Construct, config: RollbackConfig, monitoring: Monitoring, *, release_gate: lambda_.IFunction
) -> events.Rule | None:
    """Pause hooks awaiting action into the release gate; no rule when no service opts in."""
    if config.answer_pause_hooks is None:
        return None
    stack = Stack.of(scope)
    pattern = patterns.pause_hook_pattern(
        config.answer_pause_hooks, partition=stack.partition, region=stack.region, account=stack.account
    )
    return _rule(scope, monitoring, "PauseHookRule", pattern, release_gate)


def codedeploy_events_rule(
    scope: Construct, config: RollbackConfig, monitoring: Monitoring, *, deployment_events: lambda_.IFunction
) -> events.Rule | None:
    """CodeDeploy deployments' ends into the deployment events function (a rollback through
    CodeDeploy is followed to its end by them); no rule when no deployment group is configured."""
    if not config.code_deploy:
        return None
    pattern = patterns.codedeploy_deployment_pattern(config.code_deploy)
    return _rule(scope, monitoring, "CodeDeployEventsRule", pattern, deployment_events)


def _rule(
    scope: Construct,
    monitoring: Monitoring,
    construct_id: str,
    pattern: events.EventPattern | None,
    function: lambda_.IFunction,
    *,
    schedule: events.Schedule | None = None,
) -> events.Rule:
    dead_letters = monitoring.dead_letter_queue(
        scope, f"{construct_id}DeadLetters", f"events the {construct_id} could not deliver"
    )
    target = targets.LambdaFunction(
        function,
        dead_letter_queue=dead_letters,
        max_event_age=TARGET_MAX_EVENT_AGE,
        retry_attempts=TARGET_RETRY_ATTEMPTS,
    )
    return events.Rule(
        scope,
        construct_id,
        description=DESCRIPTIONS[construct_id],
        event_pattern=pattern,
        schedule=schedule,
        targets=[target],
    )
