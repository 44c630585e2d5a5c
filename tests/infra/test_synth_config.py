"""The ``ecsRollback`` context: validated at synth, with messages that name the key and the fix."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Annotations, Match, Template
from cdk_testkit import example_context, functions_by_name, resources, synthesize, with_config
from pydantic import ValidationError

from ecs_rollback.config import AlarmLink, Scope
from ecs_rollback.contract import DEFAULT_ROLLBACK_KNOWN_BAD_RELEASES
from ecs_rollback_cdk import EcsAutoRollback
from ecs_rollback_cdk.app import build_app
from ecs_rollback_cdk.config import ConfigError, RollbackConfig


def problems(context_overrides: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as raised:
        RollbackConfig.from_context(with_config(**context_overrides)["ecsRollback"])
    return str(raised.value)


def test_the_committed_example_is_valid_and_round_trips() -> None:
    config = RollbackConfig.from_context(example_context()["ecsRollback"])

    assert RollbackConfig.from_context(config.to_context()) == config
    assert config.scope.service_names() == [("prod", "web")]
    assert config.bake_time_seconds == 600


def test_defaults_are_the_documented_ones() -> None:
    config = RollbackConfig.from_context({"scope": {"clusters": ["prod"]}})

    assert (config.bake_time_seconds, config.watch_window_seconds, config.loop_guard_limit) == (600, 3600, 3)
    assert (config.lock_ttl_seconds, config.dry_run, config.stack_name) == (1800, False, "EcsAutoRollback")
    assert config.powertools_version == "3.37.0"
    assert config.rollback_known_bad_releases is DEFAULT_ROLLBACK_KNOWN_BAD_RELEASES is True


def test_a_negative_bake_time_names_the_key_and_the_fix() -> None:
    message = problems({"bakeTimeSeconds": -5})

    assert "ecsRollback.bakeTimeSeconds" in message
    assert "greater than or equal to 0" in message
    assert "Fix: use a whole number of seconds from 0" in message


def test_an_unknown_key_is_refused_with_the_closest_known_key() -> None:
    message = problems({"bakeTime": 300})

    assert "ecsRollback.bakeTime: unknown key" in message
    assert "did you mean 'bakeTimeSeconds'?" in message


def test_an_unknown_nested_key_is_refused() -> None:
    message = problems({"scope": {"services": ["prod/web"], "cluster": ["prod"]}})

    assert "ecsRollback.scope.cluster: unknown key" in message
    assert "did you mean 'clusters'?" in message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("existingTopicArn", "arn:aws:sns:us-east-1:rollbacks", "is not an SNS topic ARN"),
        ("passRoleArns", ["arn:aws:iam::12345:role/app"], "is not an IAM role ARN"),
        ("passRoleArns", ["arn:aws:iam::123456789012:role/*"], "role/* is not"),
        ("ecrRepositoryArns", ["arn:aws:ecr:us-east-1:123456789012:web"], "is not an ECR repository ARN"),
        (
            "powertoolsLayerArn",
            "arn:aws:lambda:us-east-1:017000801446:layer:Powertools",
            "is not a Lambda layer version ARN",
        ),
        (
            "scope",
            {"services": ["arn:aws:ecs:us-east-1:123456789012:cluster/prod"]},
            "is not a service reference",
        ),
    ],
)
def test_a_malformed_arn_names_the_key_and_the_fix(key: str, value: Any, expected: str) -> None:
    message = problems({key: value})

    assert f"ecsRollback.{key}" in message
    assert expected in message
    assert "Fix:" in message


@pytest.mark.parametrize(
    ("overrides", "key", "expected"),
    [
        ({"scope": {"services": [], "clusters": []}}, "ecsRollback.scope", "the scope is empty"),
        ({"scope": None}, "ecsRollback.scope", "required key is missing"),
        ({"loopGuardLimit": 0}, "ecsRollback.loopGuardLimit", "greater than or equal to 1"),
        ({"lockTtlSeconds": 30}, "ecsRollback.lockTtlSeconds", "greater than or equal to 60"),
        ({"watchWindowSeconds": "3600"}, "ecsRollback.watchWindowSeconds", "valid integer"),
        ({"dryRun": "false"}, "ecsRollback.dryRun", "valid boolean"),
        (
            {"rollbackKnownBadReleases": "true"},
            "ecsRollback.rollbackKnownBadReleases",
            "valid boolean",
        ),
        ({"logRetentionDays": 31}, "ecsRollback.logRetentionDays", "not a retention period"),
        ({"notificationEmails": ["oncall"]}, "ecsRollback.notificationEmails", "not an e-mail address"),
        ({"stackName": "1-stack"}, "ecsRollback.stackName", "not a CloudFormation stack name"),
        (
            {"alarmLinks": [{"alarm": "a*b", "cluster": "prod", "service": "web"}]},
            "ecsRollback.alarmLinks.0.alarm",
            "only allowed at the end",
        ),
        (
            {"alarmLinks": [{"alarm": "x", "cluster": "prod", "service": "api"}]},
            "ecsRollback.alarmLinks.0",
            "not in scope",
        ),
        ({"dryRunServices": ["prod/api"]}, "ecsRollback.dryRunServices.0", "not in scope"),
        ({"existingTableName": "ledger"}, "ecsRollback.existingTableStreamArn", "go together"),
        (
            {
                "existingTableName": "ledger",
                "existingTableStreamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/other/stream/x",
            },
            "ecsRollback.existingTableStreamArn",
            "stream of table 'other'",
        ),
        (
            {"existingTopicKeyArn": "arn:aws:kms:us-east-1:123456789012:key/abc"},
            "ecsRollback.existingTopicKeyArn",
            "without existingTopicArn",
        ),
    ],
)
def test_each_bad_value_names_its_key_and_a_fix(overrides: dict[str, Any], key: str, expected: str) -> None:
    message = problems(overrides)

    assert f"{key}:" in message
    assert expected in message
    assert "Fix:" in message


def test_every_problem_is_reported_at_once() -> None:
    message = problems({"bakeTimeSeconds": -1, "loopGuardLimit": 0, "colour": "blue"})

    assert message.count("\n  - ") == 3


def test_a_missing_or_non_object_context_is_explained() -> None:
    with pytest.raises(ConfigError, match="ecsRollback is missing"):
        RollbackConfig.from_context(None)
    with pytest.raises(ConfigError, match="must be a JSON object"):
        RollbackConfig.from_context(["prod/web"])
    with pytest.raises(ConfigError, match="not valid JSON"):
        RollbackConfig.from_context("{scope:")


def test_a_json_string_from_the_cli_context_is_accepted() -> None:
    # `cdk synth -c ecsRollback='{...}'` passes the object as a string
    config = RollbackConfig.from_context(json.dumps({"scope": {"clusters": ["prod"]}}))

    assert config.scope.clusters == ("prod",)


def test_build_app_refuses_bad_context_before_building_anything() -> None:
    with pytest.raises(ConfigError, match=r"ecsRollback\.bakeTimeSeconds"):
        build_app(context=with_config(bakeTimeSeconds=-1), nag=False)


def test_a_config_built_with_python_names_is_validated_the_same_way() -> None:
    # Given a composing app that builds the configuration with Python names
    # When a link points outside the scope, then it is refused with the same message
    with pytest.raises(
        ValidationError, match=re.escape("links alarm 'web-5xx' to prod/api, which is not in scope")
    ):
        RollbackConfig(
            scope=Scope(services=("prod/web",)),
            alarm_links=(AlarmLink(alarm="web-5xx", cluster="prod", service="api"),),
        )


def test_the_construct_composes_in_another_app_and_exposes_its_parts() -> None:
    # Given another CDK app composing the construct with a configuration built in Python
    stack = Stack(App(), "Platform")
    config = RollbackConfig(scope=Scope(clusters=("prod",)), bake_time_seconds=300, dry_run=True)

    # When the construct is added
    rollback = EcsAutoRollback(stack, "Rollback", config=config)

    # Then its table, topic and functions are there to compose with
    assert set(rollback.functions) == {
        "DeploymentEvents",
        "AlarmEvents",
        "ManualRollback",
        "BakeTimer",
        "ImageEvents",
        "Notifier",
        "Reconciler",
        "ReleaseGate",
    }
    assert rollback.manual_rollback_function is rollback.functions["ManualRollback"]
    assert rollback.image_events_function is rollback.functions["ImageEvents"]
    assert rollback.image_events_rule.node.id == "ImageEventsRule"
    assert rollback.table.table_stream_arn is not None
    assert rollback.topic.topic_arn
    assert rollback.config is config


def test_the_construct_imports_the_table_and_topic_its_config_names() -> None:
    # Given a configuration naming an existing ledger table and topic, and no objects for them
    stack = Stack(App(), "Platform")
    config = RollbackConfig(
        scope=Scope(clusters=("prod",)),
        existing_table_name="ledger",
        existing_table_stream_arn="arn:aws:dynamodb:us-east-1:123456789012:table/ledger/stream/2026-01-01",
        existing_topic_arn="arn:aws:sns:us-east-1:123456789012:rollbacks",
    )

    # When the construct is added
    rollback = EcsAutoRollback(stack, "Rollback", config=config)

    # Then it uses them and creates neither
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::DynamoDB::Table", 0)
    template.resource_count_is("AWS::SNS::Topic", 0)
    assert stack.resolve(rollback.table.table_name) == "ledger"
    assert rollback.topic.topic_arn == config.existing_topic_arn


def test_an_empty_pass_role_list_warns_at_synth() -> None:
    stack = Stack(App(), "Composer")
    EcsAutoRollback(stack, "Rollback", config=RollbackConfig(scope=Scope(services=("prod/web",))))

    Annotations.from_stack(stack).has_warning(
        "/Composer/Rollback", Match.string_like_regexp("passRoleArns is empty")
    )


def test_turning_off_the_known_bad_rollback_reaches_every_function() -> None:
    # Given a configuration that only notifies when ECS starts deploying a release recorded BAD
    template = synthesize(with_config(rollbackKnownBadReleases=False)).template

    # Then every function's environment says so, and the functions' Settings read it back
    for _, function in functions_by_name(template).values():
        environment = function["Properties"]["Environment"]["Variables"]
        assert environment["ROLLBACK_KNOWN_BAD_RELEASES"] == "false"


def test_a_settings_field_the_construct_does_not_set_fails_synth(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the functions' Settings gaining a field the construct does not know
    from ecs_rollback_cdk.constructs import environment

    config = RollbackConfig(scope=Scope(services=("prod/web",)))
    monkeypatch.setattr(
        environment.Settings, "model_fields", {**environment.Settings.model_fields, "new_field": None}
    )

    # When the environment is written, then synth stops and names the field
    with pytest.raises(ConfigError, match="Settings fields new_field"):
        environment.function_environment(config, ledger_table_name="ledger", notification_topic_arn="arn")


def test_chat_notifications_add_a_topic_the_publishers_alone_may_publish_to() -> None:
    # Given chatNotifications on
    template = synthesize(with_config(chatNotifications=True)).template

    # Then there is a second encrypted topic, and it is a stack output
    topics = resources(template, "AWS::SNS::Topic")
    (chat_id,) = [logical_id for logical_id in topics if "ChatNotifications" in logical_id]
    assert "KmsMasterKeyId" in topics[chat_id]["Properties"]
    assert template["Outputs"]["ChatNotificationTopicArn"]["Value"] == {"Ref": chat_id}

    # And the functions that publish the outbox name it and may publish to it; no other does
    functions = functions_by_name(template)
    for name, (_, function) in functions.items():
        environment = function["Properties"]["Environment"]["Variables"]
        publishes_chat = name in ("Notifier", "Reconciler")
        assert (environment.get("CHAT_TOPIC_ARN") == {"Ref": chat_id}) is publishes_chat
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Resource"] == {"Ref": chat_id}:
                assert statement["Action"] == "sns:Publish"
                roles = {role["Ref"] for role in policy["Properties"]["Roles"]}
                expected = {
                    functions[name][1]["Properties"]["Role"]["Fn::GetAtt"][0]
                    for name in ("Notifier", "Reconciler")
                }
                assert roles <= expected


def test_without_chat_notifications_there_is_no_chat_topic() -> None:
    template = synthesize(with_config()).template

    assert "ChatNotificationTopicArn" not in template["Outputs"]
    for _, function in functions_by_name(template).values():
        assert "CHAT_TOPIC_ARN" not in function["Properties"]["Environment"]["Variables"]


def test_notify_on_reaches_every_function_and_a_wrong_kind_names_the_choices() -> None:
    # Given a configuration that also notifies skips
    template = synthesize(with_config(notifyOn=["ROLLED_BACK", "SKIPPED"])).template

    # Then every function reads that list
    for _, function in functions_by_name(template).values():
        environment = function["Properties"]["Environment"]["Variables"]
        assert json.loads(environment["NOTIFY_ON"]) == ["ROLLED_BACK", "SKIPPED"]

    # And a misspelt kind is refused with the kinds that exist
    with pytest.raises(ConfigError, match=r"ecsRollback\.notifyOn\.0: .*Fix: list the kinds.*HALTED"):
        RollbackConfig.from_context({"scope": {"clusters": ["prod"]}, "notifyOn": ["ROLLEDBACK"]})


def test_groups_are_a_mapping_of_services_in_scope_and_reach_the_manual_function_only() -> None:
    # Given a group of two services in scope
    groups = {"checkout": ["prod/web", "prod/worker"]}
    config = RollbackConfig.from_context(
        with_config(scope={"clusters": ["prod"]}, groups=groups)["ecsRollback"]
    )
    assert config.to_context()["groups"] == groups

    # Then the manual rollback function reads it, and no other function carries it
    template = synthesize(with_config(scope={"clusters": ["prod"]}, groups=groups)).template
    carrying = {
        name
        for name, (_, function) in functions_by_name(template).items()
        if "GROUPS" in function["Properties"]["Environment"]["Variables"]
    }
    assert carrying == {"ManualRollback"}
    manual = functions_by_name(template)["ManualRollback"][1]["Properties"]["Environment"]["Variables"]
    assert json.loads(manual["GROUPS"]) == [{"name": "checkout", "services": ["prod/web", "prod/worker"]}]


def test_a_group_member_out_of_scope_names_the_key_and_the_fix() -> None:
    message = problems({"groups": {"checkout": ["prod/web", "other/api"]}})

    assert "ecsRollback.groups.checkout.1" in message
    assert "'other/api' is not in scope" in message
    assert "Fix: add the service (or its cluster) to scope" in message


CODE_DEPLOY_GROUP = {
    "service": "prod/web",
    "application": "AppECS-prod-web",
    "deploymentGroup": "DgpECS-prod-web",
}


@pytest.mark.parametrize(
    ("entries", "key", "expected"),
    [
        (
            [{**CODE_DEPLOY_GROUP, "service": "prod/api"}],
            "ecsRollback.codeDeploy.0.service",
            "not in scope",
        ),
        ([CODE_DEPLOY_GROUP, CODE_DEPLOY_GROUP], "ecsRollback.codeDeploy.1.service", "more than one"),
        (
            [{**CODE_DEPLOY_GROUP, "deploymentGroup": "Dgp/web"}],
            "ecsRollback.codeDeploy.0.deploymentGroup",
            "",
        ),
        (
            [{**CODE_DEPLOY_GROUP, "service": "web"}],
            "ecsRollback.codeDeploy.0.service",
            "not a service reference",
        ),
    ],
)
def test_a_bad_codedeploy_entry_names_its_key_and_a_fix(entries: list[Any], key: str, expected: str) -> None:
    message = problems({"codeDeploy": entries})

    assert f"{key}:" in message
    assert expected in message
    assert "Fix:" in message


def test_the_codedeploy_groups_reach_every_function_and_read_back_as_settings() -> None:
    # Given a configuration naming a CODE_DEPLOY service's deployment group
    template = synthesize(with_config(codeDeploy=[CODE_DEPLOY_GROUP])).template

    # Then every function's environment carries it, read back as the function's Settings read it
    for _, function in functions_by_name(template).values():
        environment = function["Properties"]["Environment"]["Variables"]
        (group,) = json.loads(environment["CODE_DEPLOY"])
        assert (group["service"], group["application"], group["deployment_group"]) == (
            "prod/web",
            "AppECS-prod-web",
            "DgpECS-prod-web",
        )


def test_without_codedeploy_no_function_gets_the_variable(template: dict[str, Any]) -> None:
    for _, function in functions_by_name(template).values():
        assert "CODE_DEPLOY" not in function["Properties"]["Environment"]["Variables"]
