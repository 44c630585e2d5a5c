"""cfn-lint (the CloudFormation resource specification and rules) on the synthesized templates."""

from __future__ import annotations

import json

import pytest
from cdk_testkit import synthesize, with_config
from cfnlint.api import lint as cfn_lint

# CDK writes an explicit DependsOn from each function to its role beside the Fn::GetAtt that
# already implies it; W3005 says so. Harmless, and not ours to change.
ACCEPTED_WARNINGS = {"W3005"}


def lint(template: dict) -> tuple[list[str], list[str]]:
    """cfn-lint's default rules (as the CLI runs them) for the us-east-1 resource specification."""
    matches = cfn_lint(json.dumps(template), regions=["us-east-1"])
    errors = [f"{m.rule.id} {m.path_string}: {m.message}" for m in matches if m.rule.id.startswith("E")]
    warnings = [f"{m.rule.id} {m.path_string}: {m.message}" for m in matches if m.rule.id.startswith("W")]
    return errors, warnings


def test_the_example_template_has_no_cfn_lint_errors(template: dict) -> None:
    errors, warnings = lint(template)

    assert errors == []
    assert {warning.split()[0] for warning in warnings} <= ACCEPTED_WARNINGS, warnings


@pytest.mark.parametrize(
    "overrides",
    [
        {"scope": {"services": [], "clusters": ["prod"]}, "alarmLinks": [], "dryRun": True},
        {
            "existingTableName": "ledger",
            "existingTableStreamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/ledger/stream/2026-01-01T00:00:00.000",
            "existingTopicArn": "arn:aws:sns:us-east-1:123456789012:rollbacks",
            "powertoolsLayerArn": "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27",
        },
        {
            "codeDeploy": [
                {
                    "service": "prod/web",
                    "application": "AppECS-prod-web",
                    "deploymentGroup": "DgpECS-prod-web",
                }
            ]
        },
    ],
    ids=["clusters-dry-run", "existing-resources", "codedeploy"],
)
def test_variant_templates_have_no_cfn_lint_errors(overrides: dict) -> None:
    errors, _ = lint(synthesize(with_config(**overrides)).template)

    assert errors == []
