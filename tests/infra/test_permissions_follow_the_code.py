"""Each function's role holds exactly what its code calls: read from the code, compared with the template.

``calls.py`` reads the Lambda package: from each handler, every port method its services can
reach; for each port method, the AWS operations its adapter makes. A function that gains a call
(a new port method used, or an adapter that asks AWS one more thing) fails here until the
construct grants it; a grant the code no longer needs fails here too.
"""

from __future__ import annotations

import json
from typing import Any

import calls
import pytest
from cdk_testkit import HANDLERS, as_list, functions_by_name, role_policy_statements, synthesize, with_config

# Every function's log group, tracing and failure queue; not calls of its code.
PLATFORM = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "sqs:SendMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
}
# The Notifier's event source mapping reads the ledger's stream; Lambda polls it, not the code.
STREAM_SOURCE = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}
TOPIC_KEY = {"kms:Decrypt", "kms:GenerateDataKey*"}  # sns:Publish to the KMS-encrypted topic
# Granted only when services opt in (answerPauseHooks, not in cdk.json): the pause hook answers.
OPT_IN = {"ReleaseGate": {"ecs:ContinueServiceDeployment", "ecs:DescribeServiceDeployments"}}
# Granted only when a deployment group is configured (codeDeploy, not in cdk.json): rollbacks of
# CODE_DEPLOY-controlled services through CodeDeploy.
CODE_DEPLOY = [
    {"service": "prod/web", "application": "AppECS-prod-web", "deploymentGroup": "DgpECS-prod-web"}
]


def _not_codedeploy(actions: set[str]) -> set[str]:
    return {action for action in actions if not action.startswith("codedeploy:")}


def _module(name: str) -> str:
    return HANDLERS[name].split(".")[2]


def granted(template: dict[str, Any], name: str) -> set[str]:
    """The function's actions, a Query on the indexes written as ``calls.INDEX_QUERY``."""
    _, function = functions_by_name(template)[name]
    found: set[str] = set()
    for statement in role_policy_statements(template, function["Properties"]["Role"]["Fn::GetAtt"][0]):
        for action in as_list(statement["Action"]):
            if action != "dynamodb:Query":
                found.add(action)
                continue
            for resource in as_list(statement["Resource"]):
                found.add(calls.INDEX_QUERY if "/index/" in json.dumps(resource) else action)
    return found - PLATFORM


@pytest.mark.parametrize("name", list(HANDLERS))
def test_each_function_is_granted_exactly_what_its_code_calls(template: dict[str, Any], name: str) -> None:
    # Given what the function's code can call, and what its adapters ask AWS for it
    required = _not_codedeploy(calls.required_actions(_module(name))) - OPT_IN.get(name, set())
    if "sns:Publish" in required:
        required |= TOPIC_KEY

    # Then its role holds exactly that
    source = STREAM_SOURCE if name == "Notifier" else set()
    assert granted(template, name) - source == required
    assert granted(template, name) & STREAM_SOURCE == source


def test_the_release_gate_is_granted_its_pause_hook_calls_once_services_opt_in() -> None:
    # Given a stack whose service opts in to having its pause hooks answered
    template = synthesize(with_config(answerPauseHooks={"services": ["prod/web"]})).template

    # Then the release gate holds exactly what its code calls, the pause hook answers included
    assert granted(template, "ReleaseGate") == calls.required_actions(_module("ReleaseGate"))
    assert OPT_IN["ReleaseGate"] <= granted(template, "ReleaseGate")


def test_every_port_method_is_read_from_its_adapter() -> None:
    # A port method the adapters' reading did not see would count as needing nothing
    for port, methods in calls.port_methods().items():
        assert methods <= set(calls.adapter_actions(port)), port
        assert all(calls.adapter_actions(port)[method] for method in methods), port


def test_the_ledger_writes_put_and_update_items_only() -> None:
    # TransactWriteItems is authorized item by item: no Delete or ConditionCheck item is written
    assert calls.adapter_actions("ledger")["commit"] == {"dynamodb:PutItem", "dynamodb:UpdateItem"}


def test_the_reading_follows_handlers_into_services() -> None:
    # Given what a few handlers are known to do
    alarm_events = calls.port_calls("alarm_events")
    deployment_events = calls.port_calls("deployment_events")
    image_events = calls.port_calls("image_events")

    # Then the reading finds it, through event_handler, the services and the executor
    assert {("ecs", "update_service"), ("alarms", "tags"), calls.ALARM_SEEN} <= alarm_events
    assert {("ecs", "running_digests"), ("bake_timer", "schedule")} <= deployment_events
    assert calls.ALARM_SEEN not in deployment_events
    assert image_events == {
        ("ledger", "deployments_of_digest"),
        ("ledger", "get_release"),
        ("ledger", "load"),
        ("ledger", "commit"),
    }


@pytest.mark.parametrize("name", list(HANDLERS))
def test_each_function_is_granted_its_codedeploy_calls_once_a_deployment_group_is_configured(
    codedeploy_template: dict[str, Any], name: str
) -> None:
    # Given a stack that names a CODE_DEPLOY service's deployment group
    required = calls.required_actions(_module(name))
    codedeploy = required - _not_codedeploy(required)

    # Then each function holds exactly the CodeDeploy calls its code makes
    granted_codedeploy = granted(codedeploy_template, name) - _not_codedeploy(
        granted(codedeploy_template, name)
    )
    assert granted_codedeploy == codedeploy


@pytest.fixture(scope="module")
def codedeploy_template() -> dict[str, Any]:
    return synthesize(with_config(codeDeploy=CODE_DEPLOY)).template
