"""EventBridge patterns of the three rules, as plain data built from the validated configuration.

They live apart from the construct so the tests can feed the very same patterns to a real
EventBridge matcher.
"""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import aws_events as events

from ecs_rollback.config import SERVICE_ARN_RE, AlarmLink, Scope

ECS_SOURCE = "aws.ecs"
ECS_DEPLOYMENT_DETAIL_TYPE = "ECS Deployment State Change"
ECS_DEPLOYMENT_EVENT_NAMES = (
    "SERVICE_DEPLOYMENT_IN_PROGRESS",
    "SERVICE_DEPLOYMENT_COMPLETED",
    "SERVICE_DEPLOYMENT_FAILED",
)
ALARM_SOURCE = "aws.cloudwatch"
ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"
ECR_SOURCE = "aws.ecr"
ECR_IMAGE_DETAIL_TYPE = "ECR Image Action"


def service_arn_base(partition: str, region: str, account: str) -> str:
    return f"arn:{partition}:ecs:{region}:{account}:service/"


def service_resources(scope: Scope, *, partition: str, region: str, account: str) -> list[str]:
    """Service ARNs in scope, exact, then one prefix per cluster in scope.

    ``cluster/service`` references are placed in the stack's own region and account; full ARNs
    are kept as given. A cluster prefix ends in ``/`` so ``prod`` does not match ``prod-2``.
    """
    base = service_arn_base(partition, region, account)
    exact = [ref if SERVICE_ARN_RE.match(ref) else f"{base}{ref}" for ref in scope.services]
    prefixes = [f"{base}{cluster}/" for cluster in scope.clusters]
    return [*dict.fromkeys(exact), *(events.Match.prefix(prefix)[0] for prefix in prefixes)]


def deployment_event_pattern(
    scope: Scope, *, partition: str, region: str, account: str
) -> events.EventPattern:
    return events.EventPattern(
        source=[ECS_SOURCE],
        detail_type=[ECS_DEPLOYMENT_DETAIL_TYPE],
        resources=service_resources(scope, partition=partition, region=region, account=account),
        detail={"eventName": list(ECS_DEPLOYMENT_EVENT_NAMES)},
    )


def alarm_name_filters(links: tuple[AlarmLink, ...], extra_prefixes: tuple[str, ...]) -> list[Any]:
    """Exact names and ``{"prefix": ...}`` filters; empty means "every alarm"."""
    exact = [link.alarm for link in links if not link.is_prefix]
    prefixes = [link.alarm[:-1] for link in links if link.is_prefix] + list(extra_prefixes)
    if "" in prefixes:
        return []  # a link to "*" covers every alarm name
    return [*dict.fromkeys(exact), *(events.Match.prefix(prefix)[0] for prefix in dict.fromkeys(prefixes))]


def alarm_event_pattern(
    links: tuple[AlarmLink, ...], extra_prefixes: tuple[str, ...], *, account: str
) -> events.EventPattern:
    """ALARM transitions of this account, narrowed to linked names when any are configured.

    Alarms linked only by tags or by ``ClusterName``/``ServiceName`` dimensions cannot be
    filtered by name here: with no links and no ``alarmNamePrefixes`` the rule matches every
    ALARM transition and the handler ignores the alarms it cannot link.
    """
    detail: dict[str, Any] = {"state": {"value": ["ALARM"]}}
    names = alarm_name_filters(links, extra_prefixes)
    if names:
        detail["alarmName"] = names
    return events.EventPattern(
        source=[ALARM_SOURCE],
        detail_type=[ALARM_DETAIL_TYPE],
        account=[account],
        detail=detail,
    )


def repository_name_filters(repository_arns: tuple[str, ...] | None) -> list[Any]:
    """Names of the repositories ``ecrRepositoryArns`` allows; empty means "every repository".

    An ARN's ``*`` is IAM's wildcard: a trailing one becomes a name prefix, any other an
    EventBridge wildcard, and a bare ``repository/*`` lifts the filter.
    """
    # "**" means "*" to IAM, and EventBridge refuses consecutive wildcards
    names = [re.sub(r"\*+", "*", arn.split(":repository/", 1)[1]) for arn in repository_arns or ()]
    if not names or "*" in names:
        return []
    filters: list[Any] = []
    for name in dict.fromkeys(names):
        if "*" not in name:
            filters.append(name)
        elif name.index("*") == len(name) - 1:
            filters.append(events.Match.prefix(name[:-1])[0])
        else:
            filters.append(events.Match.wildcard(name)[0])
    return filters


def image_deleted_pattern(repository_arns: tuple[str, ...] | None) -> events.EventPattern:
    """Images ECR deleted, in the configured repositories when ``ecrRepositoryArns`` names them.

    No account filter: a registry account that forwards its ECR events to this bus is heard
    (the handler matches each image by registry account and repository, not by the event bus).
    """
    detail: dict[str, Any] = {"action-type": ["DELETE"], "result": ["SUCCESS"]}
    names = repository_name_filters(repository_arns)
    if names:
        detail["repository-name"] = names
    return events.EventPattern(source=[ECR_SOURCE], detail_type=[ECR_IMAGE_DETAIL_TYPE], detail=detail)
