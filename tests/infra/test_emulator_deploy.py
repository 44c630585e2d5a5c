"""The synthesized template deploys into the AWS emulator's CloudFormation and wires up.

``ecs_rollback_sandbox.deploy.deploy_stack`` plays ``cdk bootstrap`` + ``cdk deploy``: it creates the
bootstrap asset bucket, uploads the code asset zip under its object key, provides the bootstrap
version and the Powertools layer parameters, and creates the stack from the template.

What moto 5.2 does not create (CloudWatch alarms, SNS subscriptions and topic policies, SQS
queue policies, Lambda event-invoke configs, the scheduler group) it skips with a warning; the
template assertions and cfn-lint cover those. The deployment proves the rest: the stack reaches
CREATE_COMPLETE and the functions' resolved environment names the table and topic it created.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from cdk_testkit import HANDLERS, Synthesized, load_event

from ecs_rollback.contract import LEDGER_INDEXES, from_environment
from ecs_rollback_sandbox.deploy import EMULATOR_SKIPS, DeployedStack, deploy_stack
from ecs_rollback_sandbox.emulator import ACCOUNT, Emulator

pytestmark = pytest.mark.emulator


# The emulator is the session's (tests/conftest.py); a stack name of its own keeps this
# deployment apart from any other the session makes.
STACK_NAME = "EcsAutoRollbackInfraTest"


@pytest.fixture(scope="module")
def deployed(emulator: Emulator, synthesized: Synthesized) -> DeployedStack:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tried to parse .* not supported by moto")
        return deploy_stack(emulator, synthesized.outdir, STACK_NAME, artifact=synthesized.artifact)


def test_the_stack_reaches_create_complete_with_its_outputs(
    emulator: Emulator, deployed: DeployedStack
) -> None:
    stack = emulator.client("cloudformation").describe_stacks(StackName=deployed.name)["Stacks"][0]

    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {
        "LedgerTableName",
        "LedgerTableStreamArn",
        "ManualRollbackFunctionName",
        "NotificationTopicArn",
        "ImageEventsFunctionName",
        "NotifierFunctionName",
        "ReconcilerFunctionName",
    } <= set(deployed.outputs)


def test_the_ledger_table_exists_with_its_indexes_and_stream(
    emulator: Emulator, deployed: DeployedStack
) -> None:
    table = emulator.client("dynamodb").describe_table(TableName=deployed.outputs["LedgerTableName"])["Table"]

    assert {index["IndexName"] for index in table["GlobalSecondaryIndexes"]} == {
        index.name for index in LEDGER_INDEXES
    }
    assert "by_release" in {index["IndexName"] for index in table["GlobalSecondaryIndexes"]}
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["LatestStreamArn"] == deployed.outputs["LedgerTableStreamArn"]


@pytest.mark.parametrize("name", list(HANDLERS))
def test_each_function_environment_names_the_created_table_and_topic(
    emulator: Emulator, deployed: DeployedStack, name: str
) -> None:
    # Given the deployed function with its resolved environment
    function = deployed.function_by_handler(HANDLERS[name])
    environment = function.environment

    # Then it names the table and topic this stack created, and both exist
    assert environment["LEDGER_TABLE_NAME"] == deployed.outputs["LedgerTableName"]
    assert environment["NOTIFICATION_TOPIC_ARN"] == deployed.outputs["NotificationTopicArn"]
    emulator.client("dynamodb").describe_table(TableName=environment["LEDGER_TABLE_NAME"])
    emulator.client("sns").get_topic_attributes(TopicArn=environment["NOTIFICATION_TOPIC_ARN"])

    # And the functions' own configuration model loads it as it would at cold start
    settings = from_environment(environment)
    assert settings.ledger_table_name == deployed.outputs["LedgerTableName"]
    # And the installation's own account and region, as CloudFormation resolved them
    assert settings.acts_in(ACCOUNT, emulator.region)


def test_the_deployment_handler_can_schedule_the_bake_timer(deployed: DeployedStack) -> None:
    environment = deployed.function_by_handler(HANDLERS["DeploymentEvents"]).environment
    bake_timer = deployed.function_by_handler(HANDLERS["BakeTimer"])

    assert environment["BAKE_TIMER_FUNCTION_ARN"] == bake_timer.arn
    assert environment["BAKE_TIMER_ROLE_ARN"].startswith("arn:aws:iam::")
    assert environment["SCHEDULE_GROUP_NAME"] == bake_timer.environment["SCHEDULE_GROUP_NAME"]


def test_manual_rollback_function_is_found_through_the_stack_output(deployed: DeployedStack) -> None:
    manual = deployed.function_by_handler(HANDLERS["ManualRollback"])

    assert deployed.outputs["ManualRollbackFunctionName"] == manual.name


def test_deployed_rules_route_sample_events_to_their_functions(deployed: DeployedStack) -> None:
    # Given an ECS event for the configured service (prod/web) in the emulator's account and region
    ecs_event: dict[str, Any] = load_event("ecs_deployment_completed.json")
    ecs_event.update(account="123456789012", region="us-east-1")
    ecs_event["resources"] = ["arn:aws:ecs:us-east-1:123456789012:service/prod/web"]
    alarm_event: dict[str, Any] = load_event("cloudwatch_alarm_metric_alarm.json")
    alarm_event["detail"]["alarmName"] = "web-5xx-rate"
    image_event: dict[str, Any] = load_event("ecr_image_deleted.json")

    # When matched against the deployed rules
    ecs_rules = deployed.rules_for(ecs_event)
    alarm_rules = deployed.rules_for(alarm_event)
    image_rules = deployed.rules_for(image_event)

    # Then each reaches exactly its function, with the retry policy and dead-letter queue
    assert [rule.target_function_name for rule in ecs_rules] == [
        deployed.function_by_handler(HANDLERS["DeploymentEvents"]).name
    ]
    assert [rule.target_function_name for rule in alarm_rules] == [
        deployed.function_by_handler(HANDLERS["AlarmEvents"]).name
    ]
    assert [rule.target_function_name for rule in image_rules] == [
        deployed.function_by_handler(HANDLERS["ImageEvents"]).name
    ]
    (schedule,) = [rule for rule in deployed.rules if rule.schedule]
    assert schedule.schedule == "rate(1 minute)"
    assert schedule.target_function_name == deployed.function_by_handler(HANDLERS["Reconciler"]).name
    for rule in (*ecs_rules, *alarm_rules, *image_rules, schedule):
        assert rule.retry_policy == {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 3600}
        assert rule.dead_letter_arn and rule.dead_letter_arn.startswith("arn:aws:sqs:us-east-1:123456789012:")


def test_only_the_known_unsupported_types_were_skipped(deployed: DeployedStack) -> None:
    # A new resource type that moto cannot create would show up here, to be judged explicitly
    assert set(deployed.skipped.values()) <= EMULATOR_SKIPS
    assert "AWS::DynamoDB::Table" not in deployed.skipped.values()
    assert "AWS::Lambda::Function" not in deployed.skipped.values()
