"""The release gate's hook role: what a service's ``lifecycleHooks`` entry names as ``roleArn``.

ECS assumes it to invoke the gate at the stages the service lists ("Permissions required for
Lambda functions in Amazon ECS blue/green deployments": trust ``ecs.amazonaws.com``, allow
``lambda:InvokeFunction``). It may invoke the gate (its unqualified ARN) and nothing else, so
one role serves every service in the account that adds the hook.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

ECS_PRINCIPAL = "ecs.amazonaws.com"


def hook_role(scope: Construct, gate: lambda_.IFunction) -> iam.Role:
    role = iam.Role(
        scope,
        "ReleaseGateHookRole",
        description="Assumed by ECS to invoke the release gate as a deployment lifecycle hook, and nothing else",
        assumed_by=iam.ServicePrincipal(ECS_PRINCIPAL),
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="InvokeReleaseGateOnly", actions=["lambda:InvokeFunction"], resources=[gate.function_arn]
        )
    )
    return role
