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
from cdk_testkit import HANDLERS, as_list, functions_by_name, role_policy_statements

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
    required = calls.required_actions(_module(name))
    if "sns:Publish" in required:
        required |= TOPIC_KEY

    # Then its role holds exactly that
    source = STREAM_SOURCE if name == "Notifier" else set()
    assert granted(template, name) - source == required
    assert granted(template, name) & STREAM_SOURCE == source


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
