"""A central installation's side of its member accounts (``members`` in the configuration).

- the default event bus accepts ``events:PutEvents`` from the member accounts only (the member
  stack's forwarding rules put their ECS and alarm events there), or from the accounts of the
  organisation (``aws:PrincipalOrgID``) with ``organizationId``;
- the functions that act on a member's services may assume the member role of each member
  account, and no other role (``sts:AssumeRole`` on ``arn:<partition>:iam::<member>:role/<name>``;
  with ``organizationId``, ``arn:<partition>:iam::*:role/<name>`` where ``aws:ResourceOrgID`` is
  the organisation).

Nothing here is created for a single-account installation.
"""

from __future__ import annotations

from aws_cdk import CfnResource, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from ecs_rollback.config import Members
from ecs_rollback_cdk.constructs import functions

DEFAULT_BUS = "default"
MEMBER_STATEMENT_ID = "EcsRollbackMemberAccountsPutEvents"
ORGANIZATION_STATEMENT_ID = "EcsRollbackOrganizationPutEvents"
_BUS_POLICY_IDS = {
    MEMBER_STATEMENT_ID: "MemberEventsBusPolicy",
    ORGANIZATION_STATEMENT_ID: "OrganizationEventsBusPolicy",
}
# The functions whose code acts in a member account (through ``services/place.py``): the
# deployment and alarm events of a member, the bake of a member's release, and an operator's
# manual rollback of a member's service (named by its cluster ARN, or in a group), and the
# reconciler's pass over the members' services and alarms.
ACTING_IN_MEMBERS = (
    functions.DEPLOYMENT_EVENTS,
    functions.ALARM_EVENTS,
    functions.BAKE_TIMER,
    functions.MANUAL_ROLLBACK,
    functions.RECONCILER,
)


def member_role_arns(members: Members, partition: str) -> list[str]:
    return [members.role_arn(partition, member.account) for member in members.accounts]


def assume_member_roles(members: Members, partition: str) -> list[iam.PolicyStatement]:
    """The member role of each listed account, by its exact ARN; with ``organizationId``, the
    role of that name in the organisation's accounts only (``aws:ResourceOrgID``)."""
    statements = []
    if members.accounts:
        statements.append(
            iam.PolicyStatement(
                sid="AssumeTheMemberRoles",
                actions=["sts:AssumeRole"],
                resources=member_role_arns(members, partition),
            )
        )
    if members.organization_id is not None:
        statements.append(
            iam.PolicyStatement(
                sid="AssumeTheMemberRoleInTheOrganization",
                actions=["sts:AssumeRole"],
                resources=[members.role_arn(partition, "*")],
                conditions={"StringEquals": {"aws:ResourceOrgID": members.organization_id}},
            )
        )
    return statements


def member_access(members: Members | None, partition: str) -> dict[str, tuple[iam.PolicyStatement, ...]]:
    """Function name -> the statements it needs to act in the member accounts (none without members)."""
    if members is None:
        return {}
    return {spec.name: tuple(assume_member_roles(members, partition)) for spec in ACTING_IN_MEMBERS}


def member_event_bus_policies(scope: Construct, members: Members) -> list[CfnResource]:
    """The default bus's resource policy: ``events:PutEvents`` from the listed member accounts,
    and from the organisation's accounts (``aws:PrincipalOrgID``) with ``organizationId``."""
    stack = Stack.of(scope)
    bus_arn = f"arn:{stack.partition}:events:{stack.region}:{stack.account}:event-bus/{DEFAULT_BUS}"
    statements: dict[str, iam.PolicyStatement] = {}
    if members.accounts:
        statements[MEMBER_STATEMENT_ID] = iam.PolicyStatement(
            sid=MEMBER_STATEMENT_ID,
            actions=["events:PutEvents"],
            principals=[iam.AccountPrincipal(member.account) for member in members.accounts],
            resources=[bus_arn],
        )
    if members.organization_id is not None:
        statements[ORGANIZATION_STATEMENT_ID] = iam.PolicyStatement(
            sid=ORGANIZATION_STATEMENT_ID,
            actions=["events:PutEvents"],
            principals=[iam.AnyPrincipal()],
            resources=[bus_arn],
            conditions={"StringEquals": {"aws:PrincipalOrgID": members.organization_id}},
        )
    # CfnEventBusPolicy's Python class warns of its deprecated Principal property whatever is passed
    # (this writes Statement only); the resource is the same.
    return [
        CfnResource(
            scope,
            _BUS_POLICY_IDS[statement_id],
            type="AWS::Events::EventBusPolicy",
            properties={
                "EventBusName": DEFAULT_BUS,
                "StatementId": statement_id,
                "Statement": statement.to_statement_json(),
            },
        )
        for statement_id, statement in statements.items()
    ]
