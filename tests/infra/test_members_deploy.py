"""A central installation and its member stack, deployed into the emulator's CloudFormation in two
accounts: the member stack takes the central stack's output as its parameter, its role trusts the
deployed central functions' roles and nothing else, and an ECS event of the member account travels
member rule -> central bus -> central rule -> the central function."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path
from typing import Any

import pytest
from cdk_testkit import HANDLERS, load_event, with_config

from ecs_rollback_cdk.app import build_app
from ecs_rollback_sandbox.deploy import DeployedStack, deploy_stack
from ecs_rollback_sandbox.emulator import ACCOUNT, Emulator

pytestmark = pytest.mark.emulator

MEMBER = "222222222222"
CENTRAL_STACK = "EcsAutoRollbackCentralTest"
MEMBER_STACK = "EcsAutoRollbackMemberTest"
ACTING_IN_MEMBERS = ("DeploymentEvents", "AlarmEvents", "BakeTimer", "ManualRollback", "Reconciler")


@pytest.fixture(scope="module")
def deployed(
    emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> tuple[DeployedStack, DeployedStack, Emulator]:
    outdir = tmp_path_factory.mktemp("cdk.out-members")
    app, stack = build_app(
        context=with_config(members={"accounts": [{"account": MEMBER}]}), outdir=str(outdir), nag=False
    )
    app.synth()
    member = emulator.in_account(MEMBER)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tried to parse .* not supported by moto")
        central = deploy_stack(emulator, Path(outdir), CENTRAL_STACK, artifact=str(stack.artifact_id))
        forwarding = deploy_stack(
            member,
            Path(outdir),
            MEMBER_STACK,
            artifact="EcsAutoRollbackMember",
            stack_parameters={
                "CentralAccountId": ACCOUNT,
                "CentralRegion": emulator.region,
                "CentralFunctionRoleArns": central.outputs["MemberTrustedRoleArns"],
            },
        )
    return central, forwarding, member


def test_the_member_role_trusts_exactly_the_deployed_central_functions_roles(
    emulator: Emulator, deployed: tuple[DeployedStack, DeployedStack, Emulator]
) -> None:
    central, _, member = deployed
    lambda_client = emulator.client("lambda")
    roles = sorted(
        lambda_client.get_function_configuration(
            FunctionName=central.function_by_handler(HANDLERS[name]).name
        )["Role"]
        for name in ACTING_IN_MEMBERS
    )

    role = member.client("iam").get_role(RoleName="EcsAutoRollbackMember")["Role"]

    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
    assert sorted(statement["Principal"]["AWS"]) == roles
    assert all(arn.startswith(f"arn:aws:iam::{ACCOUNT}:role/") for arn in roles)
    assert set(statement) == {"Sid", "Effect", "Principal", "Action"}  # no condition widens it


def test_the_member_role_acts_on_the_member_accounts_services_in_scope(
    deployed: tuple[DeployedStack, DeployedStack, Emulator],
) -> None:
    _, _, member = deployed
    iam = member.client("iam")
    (name,) = iam.list_role_policies(RoleName="EcsAutoRollbackMember")["PolicyNames"]
    document = iam.get_role_policy(RoleName="EcsAutoRollbackMember", PolicyName=name)["PolicyDocument"]
    if isinstance(document, str):  # the emulator keeps CloudFormation's document as Python's repr
        document = ast.literal_eval(document)

    updates = next(s for s in document["Statement"] if s["Sid"] == "ReadAndUpdateServicesInScope")
    assert updates["Resource"] in (
        f"arn:aws:ecs:us-east-1:{MEMBER}:service/prod/web",
        [f"arn:aws:ecs:us-east-1:{MEMBER}:service/prod/web"],
    )


def _ecs_event(account: str) -> dict[str, Any]:
    """ECS's sample COMPLETED event, as prod/web of ``account`` would emit it."""
    event = load_event("ecs_deployment_completed.json")
    event["account"], event["region"] = account, "us-east-1"
    event["resources"] = [f"arn:aws:ecs:us-east-1:{account}:service/prod/web"]
    return event


def _alarm_event(account: str) -> dict[str, Any]:
    event = load_event("cloudwatch_alarm_metric_alarm.json")
    event["account"], event["region"] = account, "us-east-1"
    event["detail"]["alarmName"] = "web-5xx-high"
    event["detail"]["state"]["value"] = "ALARM"
    return event


@pytest.mark.parametrize(
    ("make", "handler"), [(_ecs_event, "DeploymentEvents"), (_alarm_event, "AlarmEvents")]
)
def test_a_member_accounts_event_travels_to_the_central_function(
    deployed: tuple[DeployedStack, DeployedStack, Emulator], make: Any, handler: str
) -> None:
    central, forwarding, _ = deployed
    event = make(MEMBER)

    # The member's rule forwards it to the central default bus
    (forwarder,) = forwarding.rules_for(event)
    assert forwarder.target_arn == f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"

    # ... where the central rule delivers it to the central function
    (rule,) = central.rules_for(event)
    assert rule.target_function_name == central.function_by_handler(HANDLERS[handler]).name


@pytest.mark.parametrize("make", [_ecs_event, _alarm_event])
def test_an_event_of_an_account_not_a_member_matches_no_central_rule(
    deployed: tuple[DeployedStack, DeployedStack, Emulator], make: Any
) -> None:
    central, _, _ = deployed

    assert central.rules_for(make("444444444444")) == []
