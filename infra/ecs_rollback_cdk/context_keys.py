"""What each key of the ``ecsRollback`` context accepts, as the errors say it: the fix appended
to each validation message, and the log retention periods CloudWatch Logs takes."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_logs as logs

from ecs_rollback import contract
from ecs_rollback.domain.notices import NoticeKind

# Retention periods CloudWatch Logs accepts (PutRetentionPolicy), in days.
LOG_RETENTION: Mapping[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}

# How to fix each key, appended to the validation message. Keys are context paths.
FIXES: dict[str, str] = {
    "scope": 'name what to watch, e.g. "scope": {"services": ["prod/web"], "clusters": []}',
    "scope.services": 'list services as "cluster/service" or full ECS service ARNs, e.g. ["prod/web"]',
    "scope.clusters": 'list cluster names (letters, digits, "-" and "_"), e.g. ["prod"]',
    "alarmLinks": 'list objects like {"alarm": "web-5xx*", "cluster": "prod", "service": "web"}',
    "alarmNamePrefixes": 'list alarm name prefixes the alarm rule should also match, e.g. ["team-a-"]',
    "bakeTimeSeconds": (
        f"use a whole number of seconds from 0 (no bake) to 604800 (7 days); the default is {contract.DEFAULT_BAKE_TIME_SECONDS}"
    ),
    "watchWindowSeconds": (
        f"use a whole number of seconds from 0 to 604800 (7 days); the default is {contract.DEFAULT_WATCH_WINDOW_SECONDS}"
    ),
    "loopGuardLimit": (
        "use a whole number of automatic rollbacks per service per loop-guard period, 1 to 100; "
        f"the default is {contract.DEFAULT_LOOP_GUARD_LIMIT}"
    ),
    "loopGuardPeriodSeconds": (
        f"use a whole number of seconds from 60 to 604800; the default is {contract.DEFAULT_LOOP_GUARD_PERIOD_SECONDS}"
    ),
    "lockTtlSeconds": f"use a whole number of seconds from 60 to 86400; the default is {contract.DEFAULT_LOCK_TTL_SECONDS}",
    "dryRun": "use true or false (JSON booleans, not strings)",
    "dryRunServices": 'list services in scope as "cluster/service", e.g. ["prod/web"]',
    "rollbackKnownBadReleases": (
        "use true (roll back at once when ECS starts deploying a release the ledger records BAD) or false "
        f"(notify only); JSON booleans, not strings; the default is {str(contract.DEFAULT_ROLLBACK_KNOWN_BAD_RELEASES).lower()}"
    ),
    "codeDeploy": (
        "list the CodeDeploy deployment group of each CODE_DEPLOY-controlled service in scope, e.g. "
        '[{"service": "prod/web", "application": "AppECS-prod-web", "deploymentGroup": "DgpECS-prod-web"}] '
        "(names: 1-100 of A-Z a-z 0-9 . _ -), or remove the key to refuse such services"
    ),
    "answerPauseHooks": (
        "name the services (or clusters) in scope whose ECS pause hooks the release gate answers, "
        'e.g. {"services": ["prod/web"], "clusters": []}, or remove the key to answer none'
    ),
    "notifyOn": (
        f"list the kinds of notification to send, of {', '.join(NoticeKind)}; "
        f"the default is {', '.join(sorted(contract.DEFAULT_NOTIFY_ON))} (skips and dry runs off)"
    ),
    "chatNotifications": (
        "use true to add a second topic that receives each notification in Amazon Q Developer's (AWS Chatbot's) "
        "custom-notification format for Slack and Teams, or false; JSON booleans, not strings"
    ),
    "notificationEmails": 'list e-mail addresses, e.g. ["oncall@example.com"]',
    "existingTopicArn": "use an SNS topic ARN like arn:aws:sns:us-east-1:123456789012:rollbacks, or remove the key",
    "existingTopicKeyArn": (
        "use the ARN of the KMS key that encrypts existingTopicArn, "
        "like arn:aws:kms:us-east-1:123456789012:key/<key-id>, or remove the key"
    ),
    "existingTableName": "use the name of an existing ledger table (3-255 of A-Z a-z 0-9 _ . -), or remove the key",
    "existingTableStreamArn": (
        "use the table's stream ARN, like "
        "arn:aws:dynamodb:us-east-1:123456789012:table/<table>/stream/<label>, or remove the key"
    ),
    "passRoleArns": (
        "list the task and execution role ARNs of the services in scope, "
        'e.g. ["arn:aws:iam::123456789012:role/web-task-role", "arn:aws:iam::123456789012:role/app-*"]'
    ),
    "ecrRepositoryArns": (
        'list ECR repository ARNs, e.g. ["arn:aws:ecr:us-east-1:123456789012:repository/web"], '
        "or remove the key to allow the repositories of the stack's account and region"
    ),
    "taskDefinitionFamilies": (
        'list the task definition families of the services in scope (a trailing "*" is a prefix), '
        'e.g. ["web", "api-*"], or remove the key to allow every family of the stack\'s account and region'
    ),
    "powertoolsVersion": 'use a Powertools for AWS Lambda (Python) release like "3.37.0"',
    "powertoolsLayerArn": (
        "use a layer version ARN like "
        "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27, "
        "or remove the key to resolve the public layer at deploy time"
    ),
    "stackName": 'use a CloudFormation stack name (a letter, then letters, digits and "-"), e.g. "EcsAutoRollback"',
    "logRetentionDays": f"use one of {', '.join(str(days) for days in LOG_RETENTION)}",
    "logLevel": 'use "DEBUG", "INFO", "WARNING" or "ERROR"',
    "members": (
        'name the member accounts of a central installation, e.g. {"accounts": [{"account": "111122223333"}]}, '
        "or remove the key for a single-account installation"
    ),
    "members.roleName": (
        f"use an IAM role name (the role the member stack creates); the default is {contract.DEFAULT_MEMBER_ROLE_NAME}"
    ),
    "members.accounts": 'list each member account once, e.g. [{"account": "111122223333", "regions": ["eu-west-1"]}]',
    "members.organizationId": 'use an AWS Organizations id like "o-a1b2c3d4e5", or remove the key',
    "members.accounts.account": "use a 12-digit AWS account id",
    "members.accounts.regions": 'list region names, e.g. ["eu-west-1"], or remove the key for the stack\'s own region',
    "members.accounts.scope": 'name what to watch in that account, e.g. {"clusters": ["prod"]}, or remove the key',
    "members.accounts.scope.services": 'list the member\'s services as "cluster/service" or its service ARNs',
    "members.accounts.alarmLinks": 'list objects like {"alarm": "web-5xx*", "cluster": "prod", "service": "web"}',
}
