"""Notifications: a topic under a customer-managed key (or an existing topic), and its e-mails.

The key is customer-managed because CloudWatch alarm actions cannot publish to a topic encrypted
with the AWS-managed aws/sns key (its key policy cannot name CloudWatch).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from ecs_rollback_cdk.config import RollbackConfig

CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"
# What the account's IAM policies may do with the key besides using it: administer it.
KEY_ADMINISTRATION_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)


def notification_topic(
    scope: Construct, config: RollbackConfig, existing: sns.ITopic | None = None
) -> sns.ITopic:
    """``existing``, else the topic ``config`` names, else a new one; subscribed to the e-mails."""
    topic = (
        existing
        or imported_topic(scope, config)
        or _encrypted_topic(scope, "Notifications", "ECS auto-rollback")
    )
    for address in config.notification_emails:
        topic.add_subscription(subscriptions.EmailSubscription(address))
    return topic


def chat_topic(scope: Construct, config: RollbackConfig) -> sns.Topic | None:
    """With ``chatNotifications``, the topic a Slack or Teams channel of Amazon Q Developer in chat
    applications (AWS Chatbot) subscribes to: every notification in its custom-notification format."""
    if not config.chat_notifications:
        return None
    return _encrypted_topic(scope, "ChatNotifications", "ECS auto-rollback (chat)", cloudwatch=False)


def imported_topic(scope: Construct, config: RollbackConfig) -> sns.ITopic | None:
    if config.existing_topic_arn is None:
        return None
    return sns.Topic.from_topic_attributes(
        scope, "ExistingTopic", topic_arn=config.existing_topic_arn, key_arn=config.existing_topic_key_arn
    )


def _encrypted_topic(
    scope: Construct, topic_id: str, display_name: str, *, cloudwatch: bool = True
) -> sns.Topic:
    """A topic under its own customer-managed key; CloudWatch alarm actions of this account may
    publish to it when ``cloudwatch``."""
    account_root = iam.AccountRootPrincipal()
    use = ["kms:Decrypt", "kms:GenerateDataKey*"]
    from_cloudwatch = (
        [_from_cloudwatch(scope, "CloudWatchAlarmsPublishToEncryptedTopic", use, "*")] if cloudwatch else []
    )
    key = kms.Key(
        scope,
        f"{topic_id}Key",
        description=f"Encrypts the {display_name} notification topic",
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.DESTROY,
        pending_window=Duration.days(7),
        policy=iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="AccountAdministersKeyThroughIam",
                    principals=[account_root],
                    actions=list(KEY_ADMINISTRATION_ACTIONS),
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="AccountUsesKeyThroughIam", principals=[account_root], actions=use, resources=["*"]
                ),
                *from_cloudwatch,
            ]
        ),
    )
    topic = sns.Topic(scope, topic_id, display_name=display_name, master_key=key, enforce_ssl=True)
    if cloudwatch:
        topic.add_to_resource_policy(
            _from_cloudwatch(scope, "CloudWatchAlarmsOfThisAccountPublish", ["sns:Publish"], topic.topic_arn)
        )
    return topic


def _from_cloudwatch(scope: Construct, sid: str, actions: list[str], resource: str) -> iam.PolicyStatement:
    """CloudWatch, on behalf of this account's alarms only."""
    return iam.PolicyStatement(
        sid=sid,
        principals=[iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)],
        actions=actions,
        resources=[resource],
        conditions={"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}},
    )
