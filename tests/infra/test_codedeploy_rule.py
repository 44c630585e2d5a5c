"""CodeDeploy's deployment events in the stack: a rule into DeploymentEvents, filtered to the
configured applications and deployment groups, only when ``codeDeploy`` is configured; and the
Reconciler's GetDeployment (a lost event) on those deployment groups only."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from cdk_testkit import functions_by_name, load_event, resolve, resources, synthesize, with_config
from moto.events.models import EventPattern
from test_stack_iam import _statement

SAMPLE = load_event("codedeploy_deployment_success.json")
ACCOUNT, REGION = SAMPLE["account"], SAMPLE["region"]
APPLICATION, GROUP = SAMPLE["detail"]["application"], SAMPLE["detail"]["deploymentGroup"]
CODE_DEPLOY = [{"service": "prod/web", "application": APPLICATION, "deploymentGroup": GROUP}]


def _deployment_events_rules(template: dict[str, Any]) -> list[dict[str, Any]]:
    logical_id, _ = functions_by_name(template)["DeploymentEvents"]
    return [
        rule
        for rule in resources(template, "AWS::Events::Rule").values()
        if rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    ]


def _codedeploy_rules(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        rule
        for rule in _deployment_events_rules(template)
        if rule["Properties"]["EventPattern"].get("source") == ["aws.codedeploy"]
    ]


@pytest.fixture(scope="module")
def configured() -> dict[str, Any]:
    return synthesize(with_config(codeDeploy=CODE_DEPLOY), account=ACCOUNT, region=REGION).template


@pytest.fixture(scope="module")
def pattern(configured: dict[str, Any]) -> EventPattern:
    (rule,) = _codedeploy_rules(configured)
    resolved = resolve(rule["Properties"]["EventPattern"], account=ACCOUNT, region=REGION)
    return EventPattern.load(json.dumps(resolved))


def test_without_code_deploy_there_is_no_codedeploy_rule() -> None:
    # Given the example configuration (no codeDeploy)
    template = synthesize(with_config(), account=ACCOUNT, region=REGION).template

    # Then DeploymentEvents hears ECS's deployment events only
    assert _codedeploy_rules(template) == []
    assert len(_deployment_events_rules(template)) == 1


def test_with_code_deploy_one_rule_takes_the_deployments_ends_into_deployment_events(
    configured: dict[str, Any],
) -> None:
    (rule,) = _codedeploy_rules(configured)
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.codedeploy"],
        "detail-type": ["CodeDeploy Deployment State-change Notification"],
        "detail": {
            "application": [APPLICATION],
            "deploymentGroup": [GROUP],
            "state": ["SUCCESS", "FAILURE", "STOP"],
        },
    }
    assert rule["Properties"]["Targets"][0].get("DeadLetterConfig") is not None
    assert len(_deployment_events_rules(configured)) == 2


@pytest.mark.parametrize("state", ["SUCCESS", "FAILURE", "STOP"])
def test_the_ends_of_the_configured_groups_deployments_match(pattern: EventPattern, state: str) -> None:
    event = copy.deepcopy(SAMPLE)
    event["detail"]["state"] = state
    assert pattern.matches_event(event)


@pytest.mark.parametrize(
    "edit",
    [
        lambda event: event["detail"].update(state="START"),
        lambda event: event["detail"].update(state="READY"),
        lambda event: event["detail"].update(application="OtherApplication"),
        lambda event: event["detail"].update(deploymentGroup="OtherGroup"),
        lambda event: event.update({"detail-type": "CodeDeploy Instance State-change Notification"}),
    ],
)
def test_other_states_and_other_groups_do_not_match(pattern: EventPattern, edit: Any) -> None:
    event = copy.deepcopy(SAMPLE)
    edit(event)
    assert not pattern.matches_event(event)


def test_the_reconciler_reads_codedeploy_deployments_of_the_configured_groups_only(
    configured: dict[str, Any],
) -> None:
    # Given the stack with a configured deployment group, then the Reconciler (which finishes a
    # rollback through CodeDeploy whose event was lost) may GetDeployment on that group only
    statement = _statement(configured, "Reconciler", "RollBackThroughConfiguredCodeDeployGroups")
    assert "codedeploy:GetDeployment" in statement["Action"]
    resolved = resolve(statement["Resource"], account=ACCOUNT, region=REGION)
    assert resolved == f"arn:aws:codedeploy:{REGION}:{ACCOUNT}:deploymentgroup:{APPLICATION}/{GROUP}"
