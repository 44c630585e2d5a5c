"""EventBridge patterns of the rules (deployments, alarms, images, pause hooks), as plain data built from the validated configuration.

They live apart from the construct so the tests can feed the very same patterns to a real
EventBridge matcher.
"""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import aws_events as events

from ecs_rollback.config import SERVICE_ARN_RE, AlarmLink, CodeDeployGroup, Members, Scope
from ecs_rollback.events.codedeploy_deployment import CODEDEPLOY_DETAIL_TYPE

ECS_SOURCE = "aws.ecs"
ECS_DEPLOYMENT_DETAIL_TYPE = "ECS Deployment State Change"
ECS_DEPLOYMENT_EVENT_NAMES = (
    "SERVICE_DEPLOYMENT_IN_PROGRESS",
    "SERVICE_DEPLOYMENT_COMPLETED",
    "SERVICE_DEPLOYMENT_FAILED",
)
# Pause hooks (ECS, May 2026): a service deployment paused at a PAUSE lifecycle hook.
ECS_HOOK_DETAIL_TYPE = "ECS Hook State Change"
ECS_HOOK_AWAITING_ACTION = "HOOK_AWAITING_ACTION"
ALARM_SOURCE = "aws.cloudwatch"
ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"
ECR_SOURCE = "aws.ecr"
ECR_IMAGE_DETAIL_TYPE = "ECR Image Action"
CODEDEPLOY_SOURCE = "aws.codedeploy"
# The states that end a CodeDeploy deployment (START and READY do not).
CODEDEPLOY_FINAL_STATES = ("SUCCESS", "FAILURE", "STOP")


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
    scope: Scope, *, partition: str, region: str, account: str, members: Members | None = None
) -> events.EventPattern:
    """The services in scope of this account, and of each member account (its scope, or this one)."""
    resources = service_resources(scope, partition=partition, region=region, account=account)
    for member in members.accounts if members is not None else ():
        for member_region in member.regions or (region,):
            for resource in service_resources(
                member.scope or scope, partition=partition, region=member_region, account=member.account
            ):
                if resource not in resources:  # a full service ARN in the shared scope is listed once
                    resources.append(resource)
    if members is not None and members.organization_id is not None:
        # Any account of the organisation (the bus accepts no other), in this region.
        any_account = service_arn_base(partition, region, "*")
        resources += [
            events.Match.wildcard(f"{any_account}{ref}")[0]
            for ref in scope.services
            if not SERVICE_ARN_RE.match(ref)
        ]
        resources += [events.Match.wildcard(f"{any_account}{cluster}/*")[0] for cluster in scope.clusters]
    return events.EventPattern(
        source=[ECS_SOURCE],
        detail_type=[ECS_DEPLOYMENT_DETAIL_TYPE],
        resources=resources,
        detail={"eventName": list(ECS_DEPLOYMENT_EVENT_NAMES)},
    )


def pause_hook_pattern(services: Scope, *, partition: str, region: str, account: str) -> events.EventPattern:
    """Pause hooks awaiting action of the services that opt in (``answerPauseHooks``).

    ECS publishes no sample of the event; its ``resources`` are taken to name the service, as its
    deployment events do, and the service deployment is matched there too, so either form is heard.
    """
    by_service = service_resources(services, partition=partition, region=region, account=account)
    base = service_arn_base(partition, region, account).replace(":service/", ":service-deployment/")
    exact = [
        ref.replace(":service/", ":service-deployment/", 1) if SERVICE_ARN_RE.match(ref) else f"{base}{ref}"
        for ref in services.services
    ]
    prefixes = [f"{prefix}/" for prefix in exact] + [f"{base}{cluster}/" for cluster in services.clusters]
    return events.EventPattern(
        source=[ECS_SOURCE],
        detail_type=[ECS_HOOK_DETAIL_TYPE],
        resources=[*by_service, *(events.Match.prefix(prefix)[0] for prefix in dict.fromkeys(prefixes))],
        detail={"eventName": [ECS_HOOK_AWAITING_ACTION]},
    )


def codedeploy_deployment_pattern(groups: tuple[CodeDeployGroup, ...]) -> events.EventPattern:
    """The end of a deployment of a configured CodeDeploy application and deployment group: a
    rollback carried out through CodeDeploy ends with it (ECS sends no deployment events for a
    CODE_DEPLOY-controlled service). Names of one group may pair with another's application
    here; the handler follows only a configured pair."""
    return events.EventPattern(
        source=[CODEDEPLOY_SOURCE],
        detail_type=[CODEDEPLOY_DETAIL_TYPE],
        detail={
            "application": sorted({group.application for group in groups}),
            "deploymentGroup": sorted({group.deployment_group for group in groups}),
            "state": list(CODEDEPLOY_FINAL_STATES),
        },
    )


def alarm_name_filters(links: tuple[AlarmLink, ...], extra_prefixes: tuple[str, ...]) -> list[Any]:
    """Exact names and ``{"prefix": ...}`` filters; empty means "every alarm"."""
    exact = [link.alarm for link in links if not link.is_prefix]
    prefixes = [link.alarm[:-1] for link in links if link.is_prefix] + list(extra_prefixes)
    if "" in prefixes:
        return []  # a link to "*" covers every alarm name
    return [*dict.fromkeys(exact), *(events.Match.prefix(prefix)[0] for prefix in dict.fromkeys(prefixes))]


def alarm_event_pattern(
    links: tuple[AlarmLink, ...],
    extra_prefixes: tuple[str, ...],
    *,
    account: str,
    members: Members | None = None,
) -> events.EventPattern:
    """ALARM transitions of this account (and the member accounts), narrowed to linked names when
    any are configured (a member's own links among them).

    Alarms linked only by tags or by ``ClusterName``/``ServiceName`` dimensions cannot be
    filtered by name here: with no links and no ``alarmNamePrefixes`` the rule matches every
    ALARM transition and the handler ignores the alarms it cannot link.
    """
    detail: dict[str, Any] = {"state": {"value": ["ALARM"]}}
    accounts = members.accounts if members is not None else ()
    names = alarm_name_filters((*links, *(link for m in accounts for link in m.alarm_links)), extra_prefixes)
    if names:
        detail["alarmName"] = names
    organization = members is not None and members.organization_id is not None
    return events.EventPattern(
        source=[ALARM_SOURCE],
        detail_type=[ALARM_DETAIL_TYPE],
        # With an organisation, every account whose events reach the bus (its policy names the
        # organisation); the function refuses any other.
        account=None if organization else [account, *(member.account for member in accounts)],
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
