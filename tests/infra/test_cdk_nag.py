"""cdk-nag AwsSolutions: zero unacknowledged findings, and no acknowledgement without a finding.

cdk-nag 3 is a CDK validation plugin; ``validate_scope`` runs the same checks ``cdk synth`` runs
(``Validations.of(app).add_plugins(AwsSolutionsChecks(app))`` in infra/ecs_rollback_cdk/app.py) and honours the
acknowledgements recorded with ``Validations.of(construct).acknowledge``.
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Validations
from cdk_nag import AwsSolutionsChecks
from cdk_testkit import Synthesized, example_context, synthesize, with_config

import ecs_rollback_cdk.nag
from ecs_rollback_cdk.app import build_app

VARIANTS = {
    "example": {},
    "clusters": {"scope": {"services": [], "clusters": ["prod", "staging"]}, "alarmLinks": []},
    "patterns": {
        "passRoleArns": ["arn:aws:iam::123456789012:role/app-*"],
        "ecrRepositoryArns": ["arn:aws:ecr:us-east-1:123456789012:repository/team/*"],
        "taskDefinitionFamilies": None,
    },
    "existing-resources": {
        "existingTableName": "ledger",
        "existingTableStreamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/ledger/stream/2026-01-01T00:00:00.000",
        "existingTopicArn": "arn:aws:sns:us-east-1:123456789012:rollbacks",
    },
    "chat": {"chatNotifications": True},
    "pause-hooks": {"answerPauseHooks": {"services": ["prod/web"]}},
    "codedeploy": {
        "codeDeploy": [
            {"service": "prod/web", "application": "AppECS-prod-web", "deploymentGroup": "DgpECS-prod-web"}
        ]
    },
    "chat-with-existing-topic": {
        "chatNotifications": True,
        "existingTopicArn": "arn:aws:sns:us-east-1:123456789012:rollbacks",
    },
    # A central installation and its member stack (the app holds both; both are checked).
    "members": {
        "members": {
            "accounts": [
                {"account": "222222222222"},
                {"account": "333333333333", "regions": ["eu-west-1"], "scope": {"clusters": ["team"]}},
            ]
        }
    },
}


def findings(synthesized: Synthesized) -> list[tuple[str, str]]:
    report = AwsSolutionsChecks().validate_scope(synthesized.app)
    return sorted(
        (violation.rule_name, resource.construct_path)
        for violation in report.violations
        for resource in violation.violating_resources
    )


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_no_unacknowledged_findings(variant: str) -> None:
    # Given the app for one configuration variant
    synthesized = synthesize(with_config(**VARIANTS[variant]))

    # When AwsSolutions checks run, then nothing is left unacknowledged
    assert findings(synthesized) == []


def test_no_unacknowledged_findings_in_an_environment_specific_stack() -> None:
    # Finding ids embed the synthesized ARNs; with an explicit env they hold literal values
    synthesized = synthesize(example_context(), account="111122223333", region="eu-west-1")

    assert findings(synthesized) == []


def _acknowledgements(root: Any) -> list[tuple[str, str, str]]:
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    acknowledged = []
    for construct in root.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == key:
                for rule, reason in entry.data.items():
                    acknowledged.append((construct.node.path, rule.removeprefix("Annotation::"), reason))
    return acknowledged


@pytest.mark.parametrize("variant", ["example", "members"])
def test_every_acknowledgement_answers_a_real_finding(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, variant: str
) -> None:
    # Given the app built twice: once as shipped, once with acknowledgements recorded only
    recorded: list[tuple[str, str]] = []
    monkeypatch.setattr(
        ecs_rollback_cdk.nag,
        "acknowledge",
        lambda construct, rule, reason: recorded.append((construct.node.path, rule)),
    )
    bare, _ = build_app(context=with_config(**VARIANTS[variant]), outdir=str(tmp_path), nag=False)

    # When AwsSolutions runs on the unacknowledged app
    report = AwsSolutionsChecks().validate_scope(bare)
    raw = sorted(
        (
            resource.construct_path.removesuffix("/Resource"),
            violation.rule_name.removeprefix("AwsSolutions::"),
        )
        for violation in report.violations
        for resource in violation.violating_resources
    )

    # Then the acknowledgements are exactly the findings: none missing, none stale
    assert sorted(recorded) == raw


def test_every_acknowledgement_carries_a_specific_reason(synthesized: Synthesized) -> None:
    acknowledgements = _acknowledgements(synthesized.app)

    assert acknowledgements, "the example stack acknowledges its remaining findings"
    for path, rule, reason in acknowledgements:
        assert rule.startswith("AwsSolutions-"), (path, rule)
        assert len(reason) >= 60, f"{path} {rule}: reason too short to be specific: {reason!r}"
    rules = {rule.split("[")[0] for _, rule, _ in acknowledgements}
    assert rules == {"AwsSolutions-IAM5", "AwsSolutions-L1", "AwsSolutions-SQS3"}


def test_synth_runs_cdk_nag_and_fails_on_a_finding(tmp_path: Any) -> None:
    # Given the shipped app with one more wildcard statement that nobody acknowledged
    from aws_cdk import aws_iam as iam

    app, stack = build_app(context=example_context(), outdir=str(tmp_path))
    stack.rollback.manual_rollback_function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["ecs:UpdateService"], resources=["arn:aws:ecs:us-east-1:123456789012:service/x/*"]
        )
    )

    # When synthesized, then the validation plugin stops synthesis
    with pytest.raises(
        RuntimeError, match=r"(?s)ValidationFailed.*AwsSolutions-IAM5\[Resource::arn:aws:ecs:[^]]*/x/\*\]"
    ):
        app.synth()


def test_a_composed_ledger_table_under_a_customer_managed_key_is_granted_and_acknowledged() -> None:
    # Given another app that hands the construct its own ledger table, encrypted with its own key
    from aws_cdk import App, Stack
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_kms as kms
    from aws_cdk.assertions import Template

    from ecs_rollback.config import Scope
    from ecs_rollback_cdk import EcsAutoRollback, RollbackConfig

    app = App()
    stack = Stack(app, "Platform")
    key_arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    table = dynamodb.Table.from_table_attributes(
        stack,
        "Ledger",
        table_name="ledger",
        table_stream_arn="arn:aws:dynamodb:us-east-1:123456789012:table/ledger/stream/2026-01-01",
        encryption_key=kms.Key.from_key_arn(stack, "LedgerKey", key_arn),
    )
    config = RollbackConfig(
        scope=Scope(services=("prod/web",)), pass_role_arns=("arn:aws:iam::123456789012:role/web",)
    )

    # When the construct is added
    EcsAutoRollback(stack, "Rollback", config=config, existing_table=table)

    # Then every function may use the key for the items it writes, and nothing is left unacknowledged
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    key_statements = [
        statement
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Resource") == key_arn
    ]
    # (one per function that writes items, the release gate's reads, and the Notifier's stream
    # read decrypting the stream)
    item_statements = [s for s in key_statements if s["Action"] != ["kms:Decrypt", "kms:DescribeKey"]]
    assert len(item_statements) == 7
    assert len(key_statements) == 9
    for statement in item_statements:
        assert set(statement["Action"]) == {
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:Encrypt",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
        }
    report = AwsSolutionsChecks().validate_scope(app)
    assert [violation.rule_name for violation in report.violations] == []
