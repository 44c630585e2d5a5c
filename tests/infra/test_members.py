"""A central installation (``members``) and the member stack: the bus policy, the rules, who may
assume the member role, and what it may do; and a single-account install without any of it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cdk_nag import AwsSolutionsChecks
from cdk_testkit import (
    Synthesized,
    as_list,
    example_context,
    functions_by_name,
    resolve,
    resources,
    role_policy_statements,
    synthesize,
    with_config,
)
from cfnlint.api import lint as cfn_lint
from moto.events.models import EventPattern

from ecs_rollback_cdk.config import ConfigError, RollbackConfig

HOME, MEMBER, SECOND, STRANGER = "111111111111", "222222222222", "333333333333", "444444444444"
REGION = "us-east-1"
MEMBERS = {
    "accounts": [
        {"account": MEMBER},
        {"account": SECOND, "regions": ["eu-west-1"], "scope": {"clusters": ["team"]}},
    ]
}
ACTING_IN_MEMBERS = {"DeploymentEvents", "AlarmEvents", "BakeTimer", "ManualRollback", "Reconciler"}
MEMBER_ROLE_ACTIONS = {
    "ecs:DescribeServices",
    "ecs:UpdateService",
    "ecs:StopServiceDeployment",
    "ecs:DescribeTaskDefinition",
    "ecs:RegisterTaskDefinition",
    "ecs:TagResource",
    "iam:PassRole",
    "ecs:ListTasks",
    "ecs:DescribeTasks",
    "ecs:DescribeServiceRevisions",
    "ecs:DescribeServiceDeployments",
    "ecr:DescribeImages",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:ListTagsForResource",
}


@pytest.fixture(scope="module")
def central() -> Synthesized:
    return synthesize(with_config(members=MEMBERS), account=HOME, region=REGION)


@pytest.fixture(scope="module")
def member_template(central: Synthesized) -> dict[str, Any]:
    return central.app.synth().get_stack_by_name("EcsAutoRollbackMember").template


def _assume_statements(template: dict[str, Any], name: str) -> list[dict[str, Any]]:
    _, function = functions_by_name(template)[name]
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for statement in role_policy_statements(template, role)
        if "sts:AssumeRole" in as_list(statement["Action"])
    ]


# -- a single-account install is unchanged ----------------------------------------------------


def test_without_members_nothing_of_a_central_installation_is_synthesized(synthesized: Synthesized) -> None:
    # Given the example configuration (no members)
    template = synthesized.template

    # Then there is one stack, no bus policy, no output for a member stack, no role to assume
    assert [stack.stack_name for stack in synthesized.app.synth().stacks] == ["EcsAutoRollback"]
    assert resources(template, "AWS::Events::EventBusPolicy") == {}
    assert "MemberTrustedRoleArns" not in template["Outputs"]
    assert "sts:AssumeRole" not in json.dumps(
        {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::IAM::Policy"}
    )
    for function in resources(template, "AWS::Lambda::Function").values():
        assert "MEMBERS" not in function["Properties"]["Environment"]["Variables"]


# -- the central stack --------------------------------------------------------------------------


def test_the_default_bus_accepts_events_from_the_member_accounts_only(central: Synthesized) -> None:
    (policy,) = resources(central.template, "AWS::Events::EventBusPolicy").values()
    statement = resolve(policy["Properties"]["Statement"], account=HOME, region=REGION)

    assert policy["Properties"]["EventBusName"] == "default"
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "events:PutEvents"
    assert sorted(statement["Principal"]["AWS"]) == [f"arn:aws:iam::{a}:root" for a in (MEMBER, SECOND)]
    assert statement["Resource"] == f"arn:aws:events:{REGION}:{HOME}:event-bus/default"
    assert "Condition" not in statement


@pytest.mark.parametrize("name", ["DeploymentEvents", "AlarmEvents", "ManualRollback", "BakeTimer",
                                  "ImageEvents", "Notifier", "Reconciler", "ReleaseGate"])  # fmt: skip
def test_only_the_functions_acting_in_members_assume_exactly_the_member_roles(
    central: Synthesized, name: str
) -> None:
    statements = _assume_statements(central.template, name)

    if name not in ACTING_IN_MEMBERS:
        assert statements == []
        return
    (statement,) = statements
    assert as_list(statement["Action"]) == ["sts:AssumeRole"]
    assert sorted(resolve(as_list(statement["Resource"]), account=HOME, region=REGION)) == [
        f"arn:aws:iam::{account}:role/EcsAutoRollbackMember" for account in (MEMBER, SECOND)
    ]


def test_the_functions_learn_the_members_through_their_environment(central: Synthesized) -> None:
    for _, function in functions_by_name(central.template).values():
        members = json.loads(function["Properties"]["Environment"]["Variables"]["MEMBERS"])
        assert members["role_name"] == "EcsAutoRollbackMember"
        assert [m["account"] for m in members["accounts"]] == [MEMBER, SECOND]


def _rule_pattern(template: dict[str, Any], function: str) -> EventPattern:
    logical_id, _ = functions_by_name(template)[function]
    (rule,) = [
        rule
        for rule in resources(template, "AWS::Events::Rule").values()
        if rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    ]
    return EventPattern.load(
        json.dumps(resolve(rule["Properties"]["EventPattern"], account=HOME, region=REGION))
    )


def _deployment_event(account: str, region: str, service: str) -> dict[str, Any]:
    return {
        "source": "aws.ecs",
        "detail-type": "ECS Deployment State Change",
        "account": account,
        "region": region,
        "resources": [f"arn:aws:ecs:{region}:{account}:service/{service}"],
        "detail": {"eventName": "SERVICE_DEPLOYMENT_COMPLETED"},
    }


@pytest.mark.parametrize(
    ("account", "region", "service", "heard"),
    [
        (HOME, REGION, "prod/web", True),
        (MEMBER, REGION, "prod/web", True),  # the installation's scope
        (MEMBER, "eu-west-1", "prod/web", False),  # not a region it lists
        (SECOND, "eu-west-1", "team/api", True),  # its own scope
        (SECOND, "eu-west-1", "prod/web", False),
        (STRANGER, REGION, "prod/web", False),
    ],
)
def test_the_deployment_rule_hears_the_members_services_in_scope(
    central: Synthesized, account: str, region: str, service: str, heard: bool
) -> None:
    pattern = _rule_pattern(central.template, "DeploymentEvents")

    assert bool(pattern.matches_event(_deployment_event(account, region, service))) is heard


@pytest.mark.parametrize(
    ("account", "heard"), [(HOME, True), (MEMBER, True), (SECOND, True), (STRANGER, False)]
)
def test_the_alarm_rule_hears_the_member_accounts(central: Synthesized, account: str, heard: bool) -> None:
    pattern = _rule_pattern(central.template, "AlarmEvents")
    event = {
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "account": account,
        "region": REGION,
        "detail": {"alarmName": "web-5xx-high", "state": {"value": "ALARM"}},
    }

    assert bool(pattern.matches_event(event)) is heard


def test_the_central_stack_names_the_roles_the_member_role_trusts(central: Synthesized) -> None:
    output = central.template["Outputs"]["MemberTrustedRoleArns"]["Value"]
    roles = {
        function["Properties"]["Role"]["Fn::GetAtt"][0]
        for name, (_, function) in functions_by_name(central.template).items()
        if name in ACTING_IN_MEMBERS
    }

    delimiter, parts = output["Fn::Join"]
    assert delimiter == ","
    assert {part["Fn::GetAtt"][0] for part in parts} == roles


# -- the member stack ---------------------------------------------------------------------------


def test_the_member_role_is_trusted_by_the_central_functions_roles_only(
    member_template: dict[str, Any],
) -> None:
    (role,) = [
        r for r in resources(member_template, "AWS::IAM::Role").values() if "RoleName" in r["Properties"]
    ]

    assert role["Properties"]["RoleName"] == "EcsAutoRollbackMember"
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement == {
        "Sid": "CentralFunctionsOnly",
        "Effect": "Allow",
        "Principal": {"AWS": {"Ref": "CentralFunctionRoleArns"}},
        "Action": "sts:AssumeRole",
    }
    assert member_template["Parameters"]["CentralFunctionRoleArns"]["Type"] == "CommaDelimitedList"
    assert "Default" not in member_template["Parameters"]["CentralFunctionRoleArns"]


def test_the_member_role_holds_only_what_the_central_functions_call_there(
    member_template: dict[str, Any],
) -> None:
    (role,) = [
        r for r in resources(member_template, "AWS::IAM::Role").values() if "RoleName" in r["Properties"]
    ]
    refs = {"CentralRegion": "us-east-1"}
    statements = [
        statement
        for policy in role["Properties"]["Policies"]
        for statement in resolve(
            policy["PolicyDocument"]["Statement"], account=MEMBER, region=REGION, refs=refs
        )
    ]

    assert {
        action for statement in statements for action in as_list(statement["Action"])
    } == MEMBER_ROLE_ACTIONS
    for statement in statements:
        for resource in as_list(statement["Resource"]):
            if resource == "*":
                assert set(as_list(statement["Action"])) <= {"ecs:DescribeTaskDefinition", "ecs:ListTasks"}
            else:  # the member's own account (or the role it passes, of the same name there)
                assert f":{MEMBER}:" in resource or f"::{MEMBER}:" in resource, resource
    updates = [
        r for s in statements if s["Sid"] == "ReadAndUpdateServicesInScope" for r in as_list(s["Resource"])
    ]
    # The installation's scope and each member's, in each region a member lists (or the central one)
    assert sorted(updates) == sorted(
        f"arn:aws:ecs:{region}:{MEMBER}:service/{ref}"
        for region in ("us-east-1", "eu-west-1")
        for ref in ("prod/web", "team/*")
    )
    passed = {
        r for s in statements if s["Sid"] == "PassTaskRolesToEcsTasksOnly" for r in as_list(s["Resource"])
    }
    assert passed == {
        f"arn:aws:iam::{MEMBER}:role/web-task-role",
        f"arn:aws:iam::{MEMBER}:role/web-execution-role",
    }


def test_the_member_stack_forwards_ecs_and_alarm_events_to_the_central_bus(
    member_template: dict[str, Any],
) -> None:
    rules = resources(member_template, "AWS::Events::Rule")
    refs = {"CentralRegion": REGION, "CentralAccountId": HOME}
    bus = f"arn:aws:events:{REGION}:{HOME}:event-bus/default"

    sources = sorted(rule["Properties"]["EventPattern"]["source"][0] for rule in rules.values())
    assert sources == ["aws.cloudwatch", "aws.ecs"]
    (forwarder,) = [
        r for r in resources(member_template, "AWS::IAM::Role") if r.startswith("ForwardToCentralBus")
    ]
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        assert resolve(target["Arn"], account=MEMBER, region=REGION, refs=refs) == bus
        assert target["RoleArn"] == {"Fn::GetAtt": [forwarder, "Arn"]}
    (statement,) = role_policy_statements(member_template, forwarder)
    assert statement["Action"] == "events:PutEvents"
    assert resolve(statement["Resource"], account=MEMBER, region=REGION, refs=refs) == bus


def test_the_member_stack_is_cfn_lint_and_cdk_nag_clean(
    central: Synthesized, member_template: dict[str, Any]
) -> None:
    matches = cfn_lint(json.dumps(member_template), regions=["us-east-1"])
    assert [f"{m.rule.id} {m.message}" for m in matches if m.rule.id[0] in "EW"] == []

    report = AwsSolutionsChecks().validate_scope(central.app)
    assert [
        (violation.rule_name, resource.construct_path)
        for violation in report.violations
        for resource in violation.violating_resources
    ] == []


def test_the_central_template_is_cfn_lint_clean(central: Synthesized) -> None:
    matches = cfn_lint(json.dumps(central.template), regions=["us-east-1"])
    assert [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")] == []


# -- the configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ({"accounts": []}, "ecsRollback.members: members names no account and no organisation"),
        ({"organizationId": "org-1"}, "ecsRollback.members.organizationId: String should match"),
        ({"accounts": [{"account": "1234"}]}, "ecsRollback.members.accounts.0.account: String should match"),
        (
            {"accounts": [{"account": MEMBER}, {"account": MEMBER}]},
            f"account {MEMBER} is listed more than once",
        ),
        ({"acounts": []}, "ecsRollback.members.acounts: unknown key. Fix: did you mean 'accounts'?"),
        ({"roleName": "a/b", "accounts": [{"account": MEMBER}]}, "ecsRollback.members.roleName"),
        (
            {
                "accounts": [
                    {"account": MEMBER, "alarmLinks": [{"alarm": "x", "cluster": "other", "service": "s"}]}
                ]
            },
            "ecsRollback.members.accounts.0.alarmLinks.0: links alarm 'x' to other/s, which is not in the member's scope",
        ),
        (
            {
                "accounts": [
                    {
                        "account": MEMBER,
                        "scope": {"services": [f"arn:aws:ecs:us-east-1:{STRANGER}:service/a/b"]},
                    }
                ]
            },
            f"ecsRollback.members.accounts.0.scope.services.0: 'arn:aws:ecs:us-east-1:{STRANGER}:service/a/b' is a "
            f"service of another account than {MEMBER}",
        ),
    ],
)
def test_a_bad_members_setting_is_refused_at_synth_with_its_key(
    members: dict[str, Any], expected: str
) -> None:
    context = example_context()["ecsRollback"]

    with pytest.raises(ConfigError) as raised:
        RollbackConfig.from_context({**context, "members": members})

    assert any(expected in problem for problem in raised.value.problems), raised.value.problems


# -- an organisation ------------------------------------------------------------------------------

ORGANIZATION = "o-a1b2c3d4e5"


@pytest.fixture(scope="module")
def organization() -> Synthesized:
    members = {"organizationId": ORGANIZATION, "accounts": [{"account": MEMBER}]}
    return synthesize(with_config(members=members), account=HOME, region=REGION)


def test_with_an_organization_the_bus_accepts_its_accounts_by_principal_org_id(
    organization: Synthesized,
) -> None:
    policies = {
        policy["Properties"]["StatementId"]: resolve(
            policy["Properties"]["Statement"], account=HOME, region=REGION
        )
        for policy in resources(organization.template, "AWS::Events::EventBusPolicy").values()
    }

    org = policies["EcsRollbackOrganizationPutEvents"]
    assert org["Principal"] == {"AWS": "*"}
    assert org["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION}}
    assert org["Action"] == "events:PutEvents"
    assert policies["EcsRollbackMemberAccountsPutEvents"]["Principal"] == {
        "AWS": f"arn:aws:iam::{MEMBER}:root"
    }


def test_with_an_organization_the_functions_assume_the_role_only_inside_it(organization: Synthesized) -> None:
    statements = _assume_statements(organization.template, "AlarmEvents")

    by_sid = {statement["Sid"]: statement for statement in statements}
    assert resolve(by_sid["AssumeTheMemberRoles"]["Resource"], account=HOME, region=REGION) == (
        f"arn:aws:iam::{MEMBER}:role/EcsAutoRollbackMember"
    )
    anywhere = by_sid["AssumeTheMemberRoleInTheOrganization"]
    assert (
        resolve(anywhere["Resource"], account=HOME, region=REGION)
        == "arn:aws:iam::*:role/EcsAutoRollbackMember"
    )
    assert anywhere["Condition"] == {"StringEquals": {"aws:ResourceOrgID": ORGANIZATION}}
    assert _assume_statements(organization.template, "Notifier") == []


@pytest.mark.parametrize(
    ("account", "service", "heard"), [(STRANGER, "prod/web", True), (STRANGER, "prod/api", False)]
)
def test_with_an_organization_the_rules_hear_any_account_in_scope(
    organization: Synthesized, account: str, service: str, heard: bool
) -> None:
    deployments = _rule_pattern(organization.template, "DeploymentEvents")
    alarms = _rule_pattern(organization.template, "AlarmEvents")
    alarm = {
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "account": account,
        "region": REGION,
        "detail": {"alarmName": "web-5xx-high", "state": {"value": "ALARM"}},
    }

    assert bool(deployments.matches_event(_deployment_event(account, REGION, service))) is heard
    assert bool(alarms.matches_event(alarm))


def test_with_an_organization_both_stacks_are_cdk_nag_clean(organization: Synthesized) -> None:
    report = AwsSolutionsChecks().validate_scope(organization.app)

    assert [
        (violation.rule_name, resource.construct_path)
        for violation in report.violations
        for resource in violation.violating_resources
    ] == []
