"""Pause hooks in the stack: an EventBridge rule into the release gate and the gate's
ContinueServiceDeployment grant, both only for the services that opt in (``answerPauseHooks``)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from cdk_testkit import (
    functions_by_name,
    load_event,
    resolve,
    resources,
    role_policy_statements,
    synthesize,
    with_config,
)
from moto.events.models import EventPattern
from test_stack_iam import violations

from ecs_rollback_cdk.config import ConfigError

SAMPLE = load_event("ecs_hook_awaiting_action.json")
ACCOUNT, REGION = SAMPLE["account"], SAMPLE["region"]
SERVICE_ARN = SAMPLE["resources"][0]
CLUSTER, SERVICE = SERVICE_ARN.split(":service/")[1].split("/")
PAUSE_ACTIONS = {"ecs:ContinueServiceDeployment", "ecs:DescribeServiceDeployments"}


def _context(answer_pause_hooks: dict[str, Any] | None) -> dict[str, Any]:
    return with_config(
        scope={"services": [f"{CLUSTER}/{SERVICE}", "prod/web"], "clusters": ["batch"]},
        alarmLinks=[],
        taskDefinitionFamilies=None,
        answerPauseHooks=answer_pause_hooks,
    )


def _gate_rules(template: dict[str, Any]) -> list[dict[str, Any]]:
    logical_id, _ = functions_by_name(template)["ReleaseGate"]
    return [
        rule
        for rule in resources(template, "AWS::Events::Rule").values()
        if rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    ]


def _gate_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    _, function = functions_by_name(template)["ReleaseGate"]
    return role_policy_statements(template, function["Properties"]["Role"]["Fn::GetAtt"][0])


@pytest.fixture(scope="module")
def opted_in() -> dict[str, Any]:
    """The sample's service and the cluster ``batch`` opt in; ``prod/web`` does not."""
    context = _context({"services": [f"{CLUSTER}/{SERVICE}"], "clusters": ["batch"]})
    return synthesize(context, account=ACCOUNT, region=REGION).template


@pytest.fixture(scope="module")
def pattern(opted_in: dict[str, Any]) -> EventPattern:
    (rule,) = _gate_rules(opted_in)
    return EventPattern.load(
        json.dumps(resolve(rule["Properties"]["EventPattern"], account=ACCOUNT, region=REGION))
    )


def _event(**changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(SAMPLE)
    event.update(changes)
    return event


def test_the_sample_pause_hook_of_a_service_that_opts_in_reaches_the_gate(pattern: EventPattern) -> None:
    assert pattern.matches_event(SAMPLE)


def test_the_service_deployment_in_resources_is_heard_too(pattern: EventPattern) -> None:
    deployment = SAMPLE["detail"]["serviceDeploymentArn"]
    assert pattern.matches_event(_event(resources=[deployment]))
    batch = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/batch/nightly/abc"
    assert pattern.matches_event(_event(resources=[batch]))


@pytest.mark.parametrize(
    "resources_",
    [
        [f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/web"],  # in scope, not opted in
        [f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/prod/web/abc"],
        [f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/{SERVICE}-2"],  # a name sharing the prefix
        [f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{CLUSTER}/{SERVICE}-2/abc"],
    ],
)
def test_other_services_pause_hooks_do_not(pattern: EventPattern, resources_: list[str]) -> None:
    assert not pattern.matches_event(_event(resources=resources_))


def test_only_hooks_awaiting_action_are_delivered(pattern: EventPattern) -> None:
    assert not pattern.matches_event(_event(detail={**SAMPLE["detail"], "eventName": "HOOK_SUCCEEDED"}))
    assert not pattern.matches_event(_event(**{"detail-type": "ECS Deployment State Change"}))


def test_continue_service_deployment_is_granted_on_the_opted_in_services_deployments_only(
    opted_in: dict[str, Any],
) -> None:
    # Given the gate's statement for pause hooks
    (statement,) = [
        s for s in _gate_statements(opted_in) if s.get("Sid") == "AnswerPauseHooksOfOptedInServices"
    ]

    # Then it names the two actions, on the service deployments of the opted-in services only
    assert set(statement["Action"]) == PAUSE_ACTIONS
    written = json.dumps(resolve(statement["Resource"], account=ACCOUNT, region=REGION))
    assert f"service-deployment/{CLUSTER}/{SERVICE}/*" in written
    assert "service-deployment/batch/*" in written
    assert "prod/web" not in written


def test_the_stack_stays_least_privilege_with_pause_hooks(opted_in: dict[str, Any]) -> None:
    assert violations(opted_in) == []


def test_no_other_function_may_continue_a_service_deployment(opted_in: dict[str, Any]) -> None:
    for name, (_, function) in functions_by_name(opted_in).items():
        if name == "ReleaseGate":
            continue
        statements = role_policy_statements(opted_in, function["Properties"]["Role"]["Fn::GetAtt"][0])
        actions = {
            action
            for s in statements
            for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        }
        assert "ecs:ContinueServiceDeployment" not in actions, name


def test_the_gate_reads_which_services_opt_in_from_its_environment(opted_in: dict[str, Any]) -> None:
    _, function = functions_by_name(opted_in)["ReleaseGate"]
    variables = function["Properties"]["Environment"]["Variables"]
    assert json.loads(variables["ANSWER_PAUSE_HOOKS"]) == {
        "clusters": ["batch"],
        "services": [f"{CLUSTER}/{SERVICE}"],
    }


def test_without_answer_pause_hooks_there_is_no_rule_and_no_grant() -> None:
    template = synthesize(_context(None), account=ACCOUNT, region=REGION).template
    assert _gate_rules(template) == []
    assert not any(
        "ecs:ContinueServiceDeployment" in json.dumps(s["Action"]) for s in _gate_statements(template)
    )
    _, function = functions_by_name(template)["ReleaseGate"]
    assert "ANSWER_PAUSE_HOOKS" not in function["Properties"]["Environment"]["Variables"]


@pytest.mark.parametrize(
    ("answer_pause_hooks", "key"),
    [
        ({"services": ["staging/api"]}, "answerPauseHooks.services.0"),
        ({"clusters": ["prod"]}, "answerPauseHooks.clusters.0"),
    ],
)
def test_a_service_outside_the_scope_cannot_opt_in(answer_pause_hooks: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        synthesize(_context(answer_pause_hooks))
