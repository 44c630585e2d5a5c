"""Every cdk-nag AwsSolutions finding that stays, with the reason it stays.

Wildcard resources of the functions' statements are acknowledged one by one, with the reason
kept under the statement's Sid; the finding ids are computed from the synthesized ARNs, so they
hold for environment-agnostic and environment-specific stacks alike.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct

if TYPE_CHECKING:
    from ecs_rollback_cdk.construct import EcsAutoRollback

RUNTIME_REASON = (
    "Pinned to python3.13 on purpose: the Powertools layer is resolved from its python3.13 arm64 SSM "
    "parameter, and python3.13 is supported until 2029. Move runtime and layer together."
)
# Actions on "*" (they have no resource-level permissions), and why each is acceptable.
STAR_ACTIONS = {
    "xray": "xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing)",
    "ecs:DescribeTaskDefinition": "ecs:DescribeTaskDefinition (a read)",
    "dynamodb:ListStreams": "dynamodb:ListStreams (the Notifier's event source mapping reads the ledger's stream)",
    "ecs:ListTasks": (
        "ecs:ListTasks, which the ecs:cluster condition narrows to the clusters in scope, as the ECS "
        "developer guide documents"
    ),
}
RESOURCE_STAR_REASON = "Only actions without resource-level permissions: {actions}."
TOPIC_KEY_REASON = "grant_publish on the KMS-encrypted topic: SNS needs a data key to encrypt each message."
TABLE_KEY_REASON = (
    "The existing ledger table is encrypted with a customer-managed key: the data-key actions CDK's "
    "table grants give on that key, so DynamoDB can encrypt and decrypt the items this function writes."
)
DEAD_LETTER_REASON = (
    "This queue is itself a dead-letter queue ({purpose}); a DLQ for a DLQ adds nothing, "
    "and its depth is alarmed to the notification topic."
)
WILDCARD_REASONS = {
    "QueryLedgerIndexes": (
        "Query, and nothing else, on the ledger's documented GSIs (table/<ledger>/index/*), which answer "
        "its history, revision, git SHA, release and service questions."
    ),
    "ReadAndUpdateServicesInScope": (
        "A whole cluster is in scope (scope.clusters): DescribeServices/UpdateService on that cluster's "
        "services only, service/<cluster>/*."
    ),
    "ReadServiceRevisionsInScope": (
        "ECS names a service revision at deploy time: DescribeServiceRevisions, a read, on the revisions of "
        "the services in scope only, service-revision/<cluster>/<service>/*."
    ),
    "ReadServiceDeploymentsInScope": (
        "ECS names a service deployment when it starts one: DescribeServiceDeployments, a read, on the "
        "deployments of the services in scope only, service-deployment/<cluster>/<service>/*."
    ),
    "AnswerPauseHooksOfOptedInServices": (
        "ECS names a service deployment when it starts one and a pause hook when it pauses: "
        "DescribeServiceDeployments and ContinueServiceDeployment on the deployments of the services "
        "that opt in (answerPauseHooks) only, service-deployment/<cluster>/<service>/*."
    ),
    "StopServiceDeploymentsInScope": (
        "ECS names a service deployment when it starts one: StopServiceDeployment (with ROLLBACK) on the "
        "deployments of the services in scope only, service-deployment/<cluster>/<service>/*."
    ),
    "ReadCodeDeployDeploymentConfigs": (
        "CreateDeployment reads the deployment configuration of the configured deployment group, which the "
        "stack's configuration does not name: GetDeploymentConfig, a read, on this account's deployment "
        "configurations (deploymentconfig:*)."
    ),
    "RegisterPinnedTaskDefinitionCopies": (
        "RegisterTaskDefinition creates the next revision of a family (a copy pinned to image digests, or a "
        "deregistered rollback revision registered again from the ledger), whose ARN cannot be known in "
        "advance; limited to taskDefinitionFamilies when set."
    ),
    "TagTaskDefinitionsOnlyAtRegistration": (
        "Tags on the pinned copy, only while registering it (ecs:CreateAction = RegisterTaskDefinition)."
    ),
    "DescribeTasksOfClustersInScope": "DescribeTasks on tasks of the clusters in scope; ECS creates task ids.",
    "ReadImageDigests": (
        "Read-only image digest lookups (DescribeImages) in the repositories allowed by ecrRepositoryArns "
        "(default: this account's repositories in this region)."
    ),
    "ReadAlarmStates": (
        "Alarms are linked to services by configuration, tags or ClusterName/ServiceName dimensions, so their "
        "names are not known at synth: read-only DescribeAlarms on this account's alarms."
    ),
    "ReadAlarmTags": (
        "An alarm event that carried no ecs-rollback:* tags links its service through the alarm's tags, and "
        "alarm names are not known at synth: read-only ListTagsForResource on this account's alarms."
    ),
    "PassTaskRolesToEcsTasksOnly": "A role name pattern from passRoleArns; PassRole only to ecs-tasks.amazonaws.com.",
    "AssumeTheMemberRoleInTheOrganization": (
        "members.organizationId: the member role (members.roleName) of any account of the organisation, "
        "whose accounts are not listed; aws:ResourceOrgID limits it to roles in that organisation."
    ),
    "CreateBakeSchedulesInOwnGroup": (
        "One-time bake schedules get generated names at run time; creation is limited to this stack's "
        "own schedule group."
    ),
}


def acknowledge_findings(
    rollback: EcsAutoRollback,
    *,
    statements: Mapping[str, Sequence[iam.PolicyStatement]],
    publishers: Collection[str],
    table_key: bool,
    purposes: Mapping[str, str],
) -> None:
    """``statements``: each function's own (the grants aside); ``publishers``: the functions
    granted the topic; ``table_key``: the ledger is under a customer-managed key the functions
    were granted; ``purposes``: what each dead-letter queue holds."""
    stack = Stack.of(rollback)

    def resource_finding(value: str) -> str:
        return f"AwsSolutions-IAM5[Resource::{_nag_string(stack.resolve(value))}]"

    for name, queue in rollback.dead_letter_queues.items():
        acknowledge(queue, "AwsSolutions-SQS3", DEAD_LETTER_REASON.format(purpose=purposes[name]))
    for name, function in rollback.functions.items():
        acknowledge(function, "AwsSolutions-L1", RUNTIME_REASON)
        policy = function.role.node.try_find_child("DefaultPolicy") if function.role else None
        assert policy is not None, "every function role has a default policy"
        own = statements.get(name, [])
        star = _star_actions(own)
        reasons = ", ".join(STAR_ACTIONS[action] for action in ("xray", *dict.fromkeys(star)))
        findings = {"AwsSolutions-IAM5[Resource::*]": RESOURCE_STAR_REASON.format(actions=reasons)}
        keyed_topics = [topic for topic in (rollback.topic, rollback.chat_topic) if topic is not None]
        if name in publishers and any(topic.master_key is not None for topic in keyed_topics):
            findings["AwsSolutions-IAM5[Action::kms:GenerateDataKey*]"] = TOPIC_KEY_REASON
        if table_key and any(
            {"dynamodb:PutItem", "dynamodb:UpdateItem"} & set(statement.actions) for statement in own
        ):
            findings.setdefault("AwsSolutions-IAM5[Action::kms:GenerateDataKey*]", TABLE_KEY_REASON)
            findings["AwsSolutions-IAM5[Action::kms:ReEncrypt*]"] = TABLE_KEY_REASON
        for statement in own:
            for resource in statement.resources:
                finding = resource_finding(resource)
                if resource != "*" and "*" in finding and finding not in findings:
                    findings[finding] = WILDCARD_REASONS[statement.sid or ""]
        for finding, reason in findings.items():
            acknowledge(policy, finding, reason)


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on one construct, with the reason it stays.

    The bare rule id, as cdk-nag 3 documents it: CDK records it as ``Annotation::<id>``, which
    cdk-nag strips when it checks a finding, both during ``cdk synth`` and in ``validate_scope``.
    (The ``AwsSolutions::<id>`` form the CLI report suggests is honoured by synth but not by
    ``validate_scope``.)
    """
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def _nag_string(value: Any) -> str:
    """A resolved CloudFormation value written the way cdk-nag names it in a finding."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    if isinstance(value, dict) and "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return str(delimiter).join(_nag_string(part) for part in parts)
    return json.dumps(value, sort_keys=True)


def _star_actions(statements: Sequence[iam.PolicyStatement]) -> list[str]:
    """The actions granted on ``*`` that ``STAR_ACTIONS`` explains (none may be granted otherwise)."""
    return [
        action
        for statement in statements
        if "*" in statement.resources
        for action in statement.actions
        if action in STAR_ACTIONS
    ]


def acknowledge_member_role(role: IConstruct, statements: Sequence[iam.PolicyStatement]) -> None:
    """The member stack's member role: the same statements as the central functions' (the
    wildcards' reasons by Sid), on the member account's own resources."""
    stack = Stack.of(role)
    star = _star_actions(statements)
    findings: dict[str, str] = {}
    if star:
        reasons = ", ".join(STAR_ACTIONS[action] for action in dict.fromkeys(star))
        findings["AwsSolutions-IAM5[Resource::*]"] = RESOURCE_STAR_REASON.format(actions=reasons)
    for statement in statements:
        for resource in statement.resources:
            finding = f"AwsSolutions-IAM5[Resource::{_nag_string(stack.resolve(resource))}]"
            if resource != "*" and "*" in finding and finding not in findings:
                findings[finding] = WILDCARD_REASONS[statement.sid or ""]
    for finding, reason in findings.items():
        acknowledge(role, finding, reason)
