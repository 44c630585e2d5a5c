"""``MemberStack``: what a member account of a central installation deploys (alone, or as the
template of a StackSet across an organisation).

- two EventBridge rules forward the account's ECS deployment state changes and CloudWatch alarm
  state changes (ALARM) to the central account's default event bus, through a role that may put
  events on that bus and nothing else;
- the member role, named as ``members.roleName`` says, which the central functions assume to act
  here: trusted by the central functions' roles only (the central stack's
  ``MemberTrustedRoleArns`` output, passed as the ``CentralFunctionRoleArns`` parameter), allowed
  only what those functions call on a member's services (the same builders as the central roles,
  ``permissions.py``), on the services in scope in this account.

The template names no account: the central account and region are parameters, the member's own
account is the one it is deployed in. The role is global; in a second region of the same account
deploy with ``CreateMemberRole=false`` (only the forwarding rules).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnCondition, CfnParameter, Fn, Stack, Tags
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from ecs_rollback.config import Scope
from ecs_rollback_cdk import nag, patterns, permissions
from ecs_rollback_cdk.config import RollbackConfig
from ecs_rollback_cdk.stack import PROJECT_TAG

MEMBER_STACK_SUFFIX = "Member"
ACCOUNT_PATTERN = r"^\d{12}$"
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$"


def member_scope(config: RollbackConfig) -> Scope:
    """Every service any member may have in scope: each member's own, and the installation's when
    a member has none (it applies to that member's services)."""
    accounts = config.members.accounts if config.members else ()
    organization = config.members is not None and config.members.organization_id is not None
    shared = [config.scope] if organization or any(m.scope is None for m in accounts) else []
    scopes = [*shared, *(m.scope for m in accounts if m.scope is not None)]
    return Scope(
        services=tuple(dict.fromkeys(ref for scope in scopes for ref in scope.services)),
        clusters=tuple(dict.fromkeys(cluster for scope in scopes for cluster in scope.clusters)),
    )


def member_regions(config: RollbackConfig, central_region: str) -> list[str]:
    """The regions the central functions act in for a member: those listed, or the central one
    (an organisation's unlisted accounts: the central one)."""
    accounts = config.members.accounts if config.members else ()
    organization = [central_region] if config.members and config.members.organization_id else []
    return list(
        dict.fromkeys(
            [*(region for m in accounts for region in m.regions or (central_region,)), *organization]
        )
    )


def member_statements(config: RollbackConfig, arns: permissions.Arns) -> list[iam.PolicyStatement]:
    """What the central functions that act in a member account call there, in one region.

    The rollback (describe and update the service, stop ECS's deployment, register a revision
    again or its digest-pinned copy, passing the roles of the same names in this account), the
    digests ECS resolved (tasks, service revisions), the images (ECR), the alarms (state, tags),
    and, for the reconciler, how a service deployment ECS no longer lists ended.
    """
    scope = member_scope(config)
    pass_roles = [
        f"arn:{arns.partition}:iam::{arns.account}:role/{arn.split(':role/', 1)[1]}"
        for arn in config.pass_role_arns
    ]
    return [
        permissions.service_updates(scope, arns),
        permissions.service_deployment_stops(scope, arns),
        permissions.task_definition_reads(),
        *permissions.task_definition_registration(
            arns, families=config.task_definition_families, pass_role_arns=list(dict.fromkeys(pass_roles))
        ),
        *permissions.task_digests(scope, arns),
        permissions.service_revision_reads(scope, arns),
        permissions.service_deployment_reads(scope, arns),
        permissions.image_reads(arns, config.ecr_repository_arns),
        permissions.alarm_states(arns),
        permissions.alarm_tags(arns),
    ]


class MemberStack(Stack):
    """One member account (and region): its events to the central bus, and the member role."""

    def __init__(self, scope: Construct, construct_id: str, *, config: RollbackConfig, **kwargs: Any) -> None:
        if config.members is None:
            raise ValueError("MemberStack needs a configuration with members")
        kwargs.setdefault("stack_name", f"{config.stack_name}{MEMBER_STACK_SUFFIX}")
        kwargs.setdefault(
            "description",
            "ECS auto-rollback member account: forwards ECS and alarm events to the central installation, "
            "and the role its functions assume here",
        )
        super().__init__(scope, construct_id, **kwargs)
        Tags.of(self).add(*PROJECT_TAG)

        central_account = CfnParameter(
            self,
            "CentralAccountId",
            type="String",
            allowed_pattern=ACCOUNT_PATTERN,
            description="The account of the central installation",
        )
        central_region = CfnParameter(
            self,
            "CentralRegion",
            type="String",
            allowed_pattern=REGION_PATTERN,
            description="The region of the central installation",
        )
        trusted_roles = CfnParameter(
            self,
            "CentralFunctionRoleArns",
            type="CommaDelimitedList",
            description="The central stack's MemberTrustedRoleArns output: the only roles that may assume the member role",
        )
        create_role = CfnParameter(
            self,
            "CreateMemberRole",
            type="String",
            allowed_values=["true", "false"],
            default="true",
            description="false in a second region of the same account (the role is global)",
        )
        central_bus_arn = (
            f"arn:{Aws.PARTITION}:events:{central_region.value_as_string}:"
            f"{central_account.value_as_string}:event-bus/default"
        )

        # Events to the central bus: the rules' role may put events there and nowhere else (the
        # target's own grant, events:PutEvents on the bus).
        self.forwarder_role = iam.Role(
            self,
            "ForwardToCentralBusRole",
            description="Assumed by EventBridge to put this account's ECS and alarm events on the central bus",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
        )
        central_bus = events.EventBus.from_event_bus_arn(self, "CentralBus", central_bus_arn)
        forwarded = {
            "ForwardDeploymentEvents": (
                "ECS deployment state changes, to the central ECS auto-rollback installation",
                events.EventPattern(
                    source=[patterns.ECS_SOURCE],
                    detail_type=[patterns.ECS_DEPLOYMENT_DETAIL_TYPE],
                    detail={"eventName": list(patterns.ECS_DEPLOYMENT_EVENT_NAMES)},
                ),
            ),
            "ForwardAlarmEvents": (
                "CloudWatch alarms entering ALARM, to the central ECS auto-rollback installation",
                events.EventPattern(
                    source=[patterns.ALARM_SOURCE],
                    detail_type=[patterns.ALARM_DETAIL_TYPE],
                    detail={"state": {"value": ["ALARM"]}},
                ),
            ),
        }
        self.forwarding_rules = [
            events.Rule(
                self,
                rule_id,
                description=description,
                event_pattern=pattern,
                targets=[targets.EventBus(central_bus, role=self.forwarder_role)],
            )
            for rule_id, (description, pattern) in forwarded.items()
        ]

        # The member role: the central functions' roles, by ARN, and nothing else.
        per_region = [
            member_statements(
                config, permissions.Arns(partition=Aws.PARTITION, region=region, account=Aws.ACCOUNT_ID)
            )
            for region in member_regions(config, central_region.value_as_string)
        ]
        policies = [
            iam.CfnRole.PolicyProperty(
                policy_name=f"ActOnServicesInScope{index}",
                policy_document=iam.PolicyDocument(statements=statements),
            )
            for index, statements in enumerate(per_region)
        ]
        self.member_role = iam.CfnRole(
            self,
            "MemberRole",
            role_name=config.members.role_name,
            description="Assumed by the central ECS auto-rollback functions to roll back this account's services",
            assume_role_policy_document={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "CentralFunctionsOnly",
                        "Effect": "Allow",
                        "Principal": {"AWS": trusted_roles.value_as_list},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            policies=policies,
        )
        nag.acknowledge_member_role(self.member_role, [st for statements in per_region for st in statements])
        self.member_role.cfn_options.condition = CfnCondition(
            self, "CreatesMemberRole", expression=Fn.condition_equals(create_role.value_as_string, "true")
        )
