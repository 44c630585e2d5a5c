"""The synthesized template of the example configuration: resources, settings, wiring, outputs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from cdk_testkit import EXECUTORS, HANDLERS, Synthesized, functions_by_name, resources, role_policy_statements

from ecs_rollback.contract import DEFAULT_NOTIFY_ON, LEDGER_INDEXES, from_environment, table_definition

POWERTOOLS_PARAMETER = "/aws/service/powertools/python/arm64/python3.13/3.37.0"
COMMON_ENVIRONMENT = {
    "HOME_ACCOUNT",
    "HOME_REGION",
    "LEDGER_TABLE_NAME",
    "NOTIFICATION_TOPIC_ARN",
    "NOTIFY_ON",
    "SCOPE",
    "ALARM_LINKS",
    "BAKE_TIME_SECONDS",
    "WATCH_WINDOW_SECONDS",
    "LOOP_GUARD_LIMIT",
    "LOOP_GUARD_PERIOD_SECONDS",
    "LOCK_TTL_SECONDS",
    "LEASE_SECONDS",
    "DRY_RUN",
    "DRY_RUN_SERVICES",
    "ROLLBACK_KNOWN_BAD_RELEASES",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}
EXTRA_ENVIRONMENT = {
    "DeploymentEvents": {
        "BAKE_TIMER_FUNCTION_ARN",
        "BAKE_TIMER_ROLE_ARN",
        "BAKE_TIMER_DEAD_LETTER_ARN",
        "SCHEDULE_GROUP_NAME",
    },
    "BakeTimer": {"BAKE_TIMER_ROLE_ARN", "BAKE_TIMER_DEAD_LETTER_ARN", "SCHEDULE_GROUP_NAME"},
    "AlarmEvents": set(),
    "ManualRollback": set(),
    "ImageEvents": set(),
    "Notifier": set(),
    "Reconciler": {  # it records lost deployments as DeploymentEvents does, bake schedule included
        "BAKE_TIMER_FUNCTION_ARN",
        "BAKE_TIMER_ROLE_ARN",
        "BAKE_TIMER_DEAD_LETTER_ARN",
        "SCHEDULE_GROUP_NAME",
    },
    "ReleaseGate": set(),
}


@pytest.fixture(scope="module")
def assertions(template: dict[str, Any]) -> Template:
    return Template.from_json(template)


def only(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    found = resources(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


# ------------------------------------------------------------------------------------- ledger


def test_ledger_table_has_the_documented_keys_and_settings(template: dict[str, Any]) -> None:
    # Given the example stack
    _, table = only(template, "AWS::DynamoDB::Table")
    properties = table["Properties"]

    # Then the table is the documented ledger
    assert properties["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["DeletionProtectionEnabled"] is True
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert properties["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert "TimeToLiveSpecification" not in properties, "history is never expired"
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert "TableName" not in properties, "no hard-coded physical name"


def test_ledger_keys_and_indexes_are_the_contracts_table_definition(template: dict[str, Any]) -> None:
    # Given the table the construct declares and the one the contract defines (tests, sandbox)
    _, table = only(template, "AWS::DynamoDB::Table")
    properties = table["Properties"]
    definition = table_definition("ledger")

    def indexes(found: list[dict[str, Any]]) -> dict[str, tuple[list[Any], Any]]:
        return {index["IndexName"]: (index["KeySchema"], index["Projection"]) for index in found}

    # Then keys, attributes and every index (by_release of schema version 2 too) are the same
    assert properties["KeySchema"] == definition["KeySchema"]
    assert (
        sorted(properties["AttributeDefinitions"], key=lambda a: a["AttributeName"])
        == definition["AttributeDefinitions"]
    )
    assert indexes(properties["GlobalSecondaryIndexes"]) == indexes(definition["GlobalSecondaryIndexes"])
    assert [index.name for index in LEDGER_INDEXES] == [
        "history",
        "by_service_revision",
        "by_service_git_sha",
        "by_git_sha",
        "by_kind",
        "by_release",
    ]


# ---------------------------------------------------------------------------------- functions


@pytest.mark.parametrize("name", list(HANDLERS))
def test_each_function_shares_the_factory_defaults(template: dict[str, Any], name: str) -> None:
    # Given one function of the stack
    _, function = functions_by_name(template)[name]
    properties = function["Properties"]

    # Then it has the factory's runtime, architecture, logging, tracing and layer
    assert properties["Handler"] == HANDLERS[name]
    assert properties["Runtime"] == "python3.13"
    assert properties["Architectures"] == ["arm64"]
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["LoggingConfig"]["LogFormat"] == "JSON"
    assert properties["LoggingConfig"]["ApplicationLogLevel"] == "INFO"
    log_group = properties["LoggingConfig"]["LogGroup"]["Ref"]
    assert template["Resources"][log_group]["Properties"]["RetentionInDays"] == 30
    parameter = properties["Layers"][0]["Ref"]
    assert template["Parameters"][parameter] == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": POWERTOOLS_PARAMETER,
    }
    assert len(properties["Layers"]) == 1
    expected_size = (
        (256, 30) if name in ("BakeTimer", "ImageEvents", "Notifier", "ReleaseGate") else (512, 60)
    )
    assert (properties["MemorySize"], properties["Timeout"]) == expected_size
    assert "FunctionName" not in properties


@pytest.mark.parametrize("name", list(HANDLERS))
def test_each_function_environment_is_the_runtime_contract(template: dict[str, Any], name: str) -> None:
    # Given one function's environment
    _, function = functions_by_name(template)[name]
    environment = function["Properties"]["Environment"]["Variables"]

    # Then it holds exactly the variables its handler reads, wired to this stack's resources
    assert set(environment) == COMMON_ENVIRONMENT | EXTRA_ENVIRONMENT[name]
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    topic_id, _ = only(template, "AWS::SNS::Topic")
    assert environment["HOME_ACCOUNT"] == {"Ref": "AWS::AccountId"}
    assert environment["HOME_REGION"] == {"Ref": "AWS::Region"}
    assert environment["LEDGER_TABLE_NAME"] == {"Ref": table_id}
    assert environment["NOTIFICATION_TOPIC_ARN"] == {"Ref": topic_id}
    assert json.loads(environment["NOTIFY_ON"]) == sorted(DEFAULT_NOTIFY_ON)
    assert json.loads(environment["SCOPE"]) == {"services": ["prod/web"], "clusters": []}
    assert json.loads(environment["ALARM_LINKS"]) == [
        {"alarm": "web-5xx*", "cluster": "prod", "service": "web"}
    ]
    assert environment["BAKE_TIME_SECONDS"] == "600"
    assert environment["WATCH_WINDOW_SECONDS"] == "3600"
    assert environment["LOOP_GUARD_LIMIT"] == "3"
    assert environment["LOOP_GUARD_PERIOD_SECONDS"] == "3600"
    assert environment["LOCK_TTL_SECONDS"] == "1800"
    # The rollback path's longest timeout (60 s) and a margin: a timed-out run has lost its lease
    assert environment["LEASE_SECONDS"] == "90"
    assert environment["DRY_RUN"] == "false"
    assert environment["DRY_RUN_SERVICES"] == "[]"
    assert environment["ROLLBACK_KNOWN_BAD_RELEASES"] == "true"
    assert environment["POWERTOOLS_SERVICE_NAME"] == "ecs-auto-rollback"
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "EcsAutoRollback"
    assert environment["POWERTOOLS_LOG_LEVEL"] == "INFO"

    # And the functions' own Settings model accepts it (deploy-time values stood in)
    stand_ins = {
        "HOME_ACCOUNT": "123456789012",
        "HOME_REGION": "us-east-1",
        "LEDGER_TABLE_NAME": "ledger",
        "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:topic",
        "BAKE_TIMER_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:bake",
        "BAKE_TIMER_ROLE_ARN": "arn:aws:iam::123456789012:role/bake",
        "BAKE_TIMER_DEAD_LETTER_ARN": "arn:aws:sqs:us-east-1:123456789012:bake-dead-letters",
    }
    plain = {
        key: stand_ins.get(key, value) if not isinstance(value, str) else value
        for key, value in environment.items()
    }
    settings = from_environment(plain)
    assert settings.scope.service_names() == [("prod", "web")]


def test_bake_timer_wiring_has_no_cycle(template: dict[str, Any]) -> None:
    # Given the deployment-events and bake-timer functions
    functions = functions_by_name(template)
    bake_id, bake = functions["BakeTimer"]
    _, deployments = functions["DeploymentEvents"]
    group_id, group = only(template, "AWS::Scheduler::ScheduleGroup")
    role_id = _scheduler_role(template)

    # Then the deployment handler knows the timer's ARN, role and group; the timer only role and group
    environment = deployments["Properties"]["Environment"]["Variables"]
    assert environment["BAKE_TIMER_FUNCTION_ARN"] == {"Fn::GetAtt": [bake_id, "Arn"]}
    for variables in (environment, bake["Properties"]["Environment"]["Variables"]):
        assert variables["BAKE_TIMER_ROLE_ARN"] == {"Fn::GetAtt": [role_id, "Arn"]}
        assert variables["SCHEDULE_GROUP_NAME"] == group["Properties"]["Name"]
    assert "BAKE_TIMER_FUNCTION_ARN" not in bake["Properties"]["Environment"]["Variables"]
    assert group["DeletionPolicy"] == "Delete"
    assert group_id


def _scheduler_role(template: dict[str, Any]) -> str:
    for logical_id, role in resources(template, "AWS::IAM::Role").items():
        principals = [
            statement["Principal"].get("Service")
            for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        ]
        if "scheduler.amazonaws.com" in principals:
            return logical_id
    raise AssertionError("no role for EventBridge Scheduler")


def test_scheduler_role_is_assumed_by_scheduler_for_this_group_and_invokes_only_the_bake_timer(
    template: dict[str, Any],
) -> None:
    role_id = _scheduler_role(template)
    role = template["Resources"][role_id]["Properties"]
    group = only(template, "AWS::Scheduler::ScheduleGroup")[1]["Properties"]["Name"]

    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source_arn = json.dumps(trust["Condition"]["ArnEquals"]["aws:SourceArn"])
    assert f":schedule-group/{group}" in source_arn

    policies = [
        p
        for p in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    bake_id = functions_by_name(template)["BakeTimer"][0]
    dead_letters = next(q for q in resources(template, "AWS::SQS::Queue") if "BakeSchedulesDeadLetters" in q)
    assert statements == [
        {
            "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [dead_letters, "Arn"]},
        },
        {
            "Action": "lambda:InvokeFunction",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [bake_id, "Arn"]},
            "Sid": "InvokeBakeTimerOnly",
        },
    ]


@pytest.mark.parametrize("name", list(HANDLERS))
def test_each_function_retries_async_invocations_then_parks_them_in_its_queue(
    template: dict[str, Any], name: str
) -> None:
    # Given the function's asynchronous invocation config
    logical_id, _ = functions_by_name(template)[name]
    configs = [
        config["Properties"]
        for config in resources(template, "AWS::Lambda::EventInvokeConfig").values()
        if config["Properties"]["FunctionName"] == {"Ref": logical_id}
    ]

    # Then failed invocations are retried twice within an hour, then sent to an encrypted queue
    assert len(configs) == 1
    config = configs[0]
    assert config["MaximumEventAgeInSeconds"] == 3600
    assert config["MaximumRetryAttempts"] == 2
    queue_id = config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    _assert_secure_queue(template, queue_id)


def _assert_secure_queue(template: dict[str, Any], queue_id: str) -> None:
    queue = template["Resources"][queue_id]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    policies = [
        policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in resources(template, "AWS::SQS::QueuePolicy").values()
        if {"Ref": queue_id} in policy["Properties"]["Queues"]
    ]
    assert any(
        statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for statements in policies
        for statement in statements
    ), f"{queue_id} does not enforce TLS"


# ------------------------------------------------------------------------------------- rules


def _rule_for(template: dict[str, Any], function_name: str) -> dict[str, Any]:
    logical_id, _ = functions_by_name(template)[function_name]
    found = [
        rule["Properties"]
        for rule in resources(template, "AWS::Events::Rule").values()
        if rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    ]
    assert len(found) == 1, f"expected one rule for {function_name}"
    return found[0]


def test_deployment_rule_matches_scope_services_and_deployment_events(template: dict[str, Any]) -> None:
    rule = _rule_for(template, "DeploymentEvents")

    assert rule["EventPattern"] == {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Deployment State Change"],
        "resources": [
            {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":ecs:",
                        {"Ref": "AWS::Region"},
                        ":",
                        {"Ref": "AWS::AccountId"},
                        ":service/prod/web",
                    ],
                ]
            }
        ],
        "detail": {
            "eventName": [
                "SERVICE_DEPLOYMENT_IN_PROGRESS",
                "SERVICE_DEPLOYMENT_COMPLETED",
                "SERVICE_DEPLOYMENT_FAILED",
            ]
        },
    }
    assert rule["State"] == "ENABLED"
    assert "EventBusName" not in rule, "AWS service events arrive on the default bus"


def test_alarm_rule_matches_alarm_transitions_of_linked_names(template: dict[str, Any]) -> None:
    rule = _rule_for(template, "AlarmEvents")

    assert rule["EventPattern"] == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "account": [{"Ref": "AWS::AccountId"}],
        "detail": {"state": {"value": ["ALARM"]}, "alarmName": [{"prefix": "web-5xx"}]},
    }


def test_image_rule_matches_successful_deletions_in_any_repository_by_default(
    template: dict[str, Any],
) -> None:
    rule = _rule_for(template, "ImageEvents")

    assert rule["EventPattern"] == {
        "source": ["aws.ecr"],
        "detail-type": ["ECR Image Action"],
        "detail": {"action-type": ["DELETE"], "result": ["SUCCESS"]},
    }
    assert rule["State"] == "ENABLED"
    assert "EventBusName" not in rule


@pytest.mark.parametrize("function_name", ["DeploymentEvents", "AlarmEvents", "ImageEvents"])
def test_each_rule_target_retries_for_an_hour_then_uses_its_dead_letter_queue(
    template: dict[str, Any], function_name: str
) -> None:
    (target,) = _rule_for(template, function_name)["Targets"]

    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 4}
    queue_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    _assert_secure_queue(template, queue_id)
    # EventBridge may write to the DLQ, and only for this rule
    statements = [
        statement
        for policy in resources(template, "AWS::SQS::QueuePolicy").values()
        if {"Ref": queue_id} in policy["Properties"]["Queues"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
    ]
    assert [(s["Principal"], s["Action"]) for s in statements] == [
        ({"Service": "events.amazonaws.com"}, "sqs:SendMessage")
    ]
    assert "aws:SourceArn" in statements[0]["Condition"]["ArnEquals"]


def test_only_eventbridge_rules_may_invoke_the_event_functions(template: dict[str, Any]) -> None:
    functions = functions_by_name(template)
    permissions = resources(template, "AWS::Lambda::Permission")
    invoked = sorted(
        name
        for name, (logical_id, _) in functions.items()
        for permission in permissions.values()
        if permission["Properties"]["FunctionName"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    )
    assert invoked == ["AlarmEvents", "DeploymentEvents", "ImageEvents", "Reconciler"]
    for permission in permissions.values():
        assert permission["Properties"]["Principal"] == "events.amazonaws.com"
        assert "SourceArn" in permission["Properties"]


# ------------------------------------------------------------------------------ notifications


def test_topic_is_encrypted_with_a_rotated_key_cloudwatch_may_use(template: dict[str, Any]) -> None:
    topic_id, topic = only(template, "AWS::SNS::Topic")
    key_id, key = only(template, "AWS::KMS::Key")

    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    cloudwatch = [
        statement
        for statement in key["Properties"]["KeyPolicy"]["Statement"]
        if statement.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert cloudwatch and set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    # the topic policy refuses plain HTTP and lets only this account's alarms publish
    (policy,) = resources(template, "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    assert any(
        s["Effect"] == "Allow"
        and s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        and s["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
        for s in statements
    )
    assert topic_id


def test_notification_emails_are_subscribed(assertions: Template) -> None:
    assertions.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )


# ----------------------------------------------------------------------------- observability


def test_alarms_on_every_function_and_every_dead_letter_queue_notify_the_topic(
    template: dict[str, Any],
) -> None:
    topic_id, _ = only(template, "AWS::SNS::Topic")
    alarms = list(resources(template, "AWS::CloudWatch::Alarm").values())
    functions = {logical_id: name for name, (logical_id, _) in functions_by_name(template).items()}
    queues = set(resources(template, "AWS::SQS::Queue"))

    watched = set()
    for alarm in alarms:
        properties = alarm["Properties"]
        assert properties["AlarmActions"] == [{"Ref": topic_id}]
        assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert properties["Threshold"] == 1
        assert properties["TreatMissingData"] == "notBreaching"
        (dimension,) = properties["Dimensions"]
        target = dimension["Value"].get("Ref") or dimension["Value"]["Fn::GetAtt"][0]
        watched.add((properties["MetricName"], functions.get(target) or target))

    expected = {(metric, name) for name in HANDLERS for metric in ("Errors", "Throttles")}
    expected |= {("ApproximateNumberOfMessagesVisible", queue) for queue in queues}
    assert watched == expected
    # eight async-failure queues, four rule DLQs, the bake schedules' DLQ, the outbox stream's
    assert len(queues) == 14


def test_dashboard_shows_functions_queues_and_alarms(template: dict[str, Any]) -> None:
    _, dashboard = only(template, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])

    for title in (
        "Invocations",
        "Errors and throttles",
        "Duration (p99)",
        "Dead-letter queues",
        "Self-monitoring",
    ):
        assert title in body
    assert "DashboardName" not in dashboard["Properties"]


# ----------------------------------------------------------------------------- stack surface


def test_outputs_name_the_ledger_function_and_topic(assertions: Template, template: dict[str, Any]) -> None:
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    topic_id, _ = only(template, "AWS::SNS::Topic")
    manual_id, _ = functions_by_name(template)["ManualRollback"]

    assertions.has_output("LedgerTableName", {"Value": {"Ref": table_id}})
    assertions.has_output("LedgerTableStreamArn", {"Value": {"Fn::GetAtt": [table_id, "StreamArn"]}})
    assertions.has_output("ManualRollbackFunctionName", {"Value": {"Ref": manual_id}})
    assertions.has_output("NotificationTopicArn", {"Value": {"Ref": topic_id}})
    assert {
        "DeploymentEventsFunctionName",
        "AlarmEventsFunctionName",
        "BakeTimerFunctionName",
        "ImageEventsFunctionName",
        "NotifierFunctionName",
        "ReconcilerFunctionName",
    } <= set(template["Outputs"])
    image_id, _ = functions_by_name(template)["ImageEvents"]
    assertions.has_output("ImageEventsFunctionName", {"Value": {"Ref": image_id}})


def test_ecs_may_invoke_the_release_gate_and_nothing_else(
    assertions: Template, template: dict[str, Any]
) -> None:
    # Given the release gate and the role the stack outputs for a service's lifecycle hooks
    gate_id, _ = functions_by_name(template)["ReleaseGate"]
    gate_arn = {"Fn::GetAtt": [gate_id, "Arn"]}
    assertions.has_output("ReleaseGateFunctionArn", {"Value": gate_arn})
    role_id = template["Outputs"]["ReleaseGateHookRoleArn"]["Value"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]

    # Then only ECS assumes the role, and it may invoke the gate's unqualified ARN, nothing else
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ecs.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert role_policy_statements(template, role_id) == [
        {
            "Sid": "InvokeReleaseGateOnly",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": gate_arn,
        }
    ]


def test_resources_carry_the_project_tag(assertions: Template) -> None:
    tag = Match.array_with([{"Key": "project", "Value": "ecs-auto-rollback"}])
    for resource_type in (
        "AWS::DynamoDB::Table",
        "AWS::Lambda::Function",
        "AWS::SNS::Topic",
        "AWS::SQS::Queue",
    ):
        assertions.has_resource_properties(resource_type, {"Tags": tag})


def test_the_stack_holds_the_eight_functions(template: dict[str, Any]) -> None:
    assert len(resources(template, "AWS::Lambda::Function")) == 8
    assert set(EXECUTORS) < set(HANDLERS)


def test_the_code_asset_is_the_ecs_rollback_package_only(synthesized: Synthesized) -> None:
    # Given the file assets of the synthesized stack
    directories = synthesized.zip_assets

    # Then one zip holds the ecs_rollback package and nothing else (its bytecode: test_code_asset.py)
    assert len(directories) == 1
    (code,) = directories
    assert sorted(path.name for path in code.iterdir()) == ["ecs_rollback"]
    files = [path.relative_to(code).as_posix() for path in code.rglob("*") if path.is_file()]
    assert "ecs_rollback/handlers/deployment_events.py" in files
    assert {name.rsplit(".", 1)[-1] for name in files if "__pycache__" not in name} <= {"py", "typed"}


# ------------------------------------------------------------------------------ durability


def test_the_notifier_reads_only_new_outbox_entries_from_the_ledger_stream(template: dict[str, Any]) -> None:
    # Given the one event source mapping of the stack
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    _, mapping = only(template, "AWS::Lambda::EventSourceMapping")
    properties = mapping["Properties"]
    notifier_id, _ = functions_by_name(template)["Notifier"]

    # Then it feeds the ledger's stream to the Notifier, filtered to inserted outbox entries,
    # one failed record retried alone, and what still fails parked in a queue
    assert properties["FunctionName"] == {"Ref": notifier_id}
    assert properties["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    (pattern,) = [json.loads(f["Pattern"]) for f in properties["FilterCriteria"]["Filters"]]
    assert pattern == {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"sk": {"S": [{"prefix": "OUT#"}]}}}}
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BisectBatchOnFunctionError"] is True
    assert properties["MaximumRetryAttempts"] == 3
    assert properties["StartingPosition"] == "TRIM_HORIZON"
    destination = properties["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination["Fn::GetAtt"][1] == "Arn"
    assert template["Resources"][destination["Fn::GetAtt"][0]]["Type"] == "AWS::SQS::Queue"


def test_the_reconciler_runs_every_minute(template: dict[str, Any]) -> None:
    reconciler_id, _ = functions_by_name(template)["Reconciler"]
    schedules = [
        rule["Properties"]
        for rule in resources(template, "AWS::Events::Rule").values()
        if "ScheduleExpression" in rule["Properties"]
    ]
    (schedule,) = schedules
    assert schedule["ScheduleExpression"] == "rate(1 minute)"
    (target,) = schedule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [reconciler_id, "Arn"]}
    assert "DeadLetterConfig" in target
