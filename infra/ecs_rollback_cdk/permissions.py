"""Narrow IAM statements for the AWS calls the functions make, each with named actions and ARNs.

DynamoDB, SNS, SQS, Logs and Lambda access come from the constructs' ``grant_*`` methods; what is
here is what no grant covers. Resource-level support follows the Service Authorization Reference:

- ecs:DescribeServices, ecs:UpdateService: ``service`` ARNs (one per service in scope, or
  ``service/<cluster>/*`` for a cluster in scope);
- ecs:DescribeTaskDefinition: no resource-level permissions, so ``*`` (a read);
- ecs:RegisterTaskDefinition: ``task-definition`` ARNs; ecs:TagResource on the same ARNs, only
  as part of RegisterTaskDefinition (condition ecs:CreateAction);
- ecs:ListTasks: resource ``*`` narrowed by the ``ecs:cluster`` condition (the form the ECS
  developer guide documents; the API takes no task ARN); ecs:DescribeTasks: ``task/<cluster>/*``;
- iam:PassRole: the configured role ARNs, only to ecs-tasks.amazonaws.com (or, for the bake
  timer's scheduler role, only to scheduler.amazonaws.com);
- ecr:DescribeImages, ecr:BatchGetImage: repository ARNs;
- cloudwatch:DescribeAlarms, cloudwatch:ListTagsForResource: the alarms of the account and region;
- scheduler:CreateSchedule: schedules of the stack's own schedule group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import aws_iam as iam

from ecs_rollback.config import SERVICE_ARN_RE, Scope

ECS_TASKS_PRINCIPAL = "ecs-tasks.amazonaws.com"
SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"

# Actions that are reads yet accept no resource narrower than "*" (Service Authorization Reference).
READS_WITHOUT_RESOURCE_LEVEL = ("ecs:DescribeTaskDefinition",)


@dataclass(frozen=True)
class Arns:
    """ARN builders for one stack's partition, region and account (tokens or literals)."""

    partition: str
    region: str
    account: str

    def _prefix(self, service: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}"

    def cluster(self, name: str) -> str:
        return f"{self._prefix('ecs')}:cluster/{name}"

    def service(self, ref: str) -> str:
        return ref if SERVICE_ARN_RE.match(ref) else f"{self._prefix('ecs')}:service/{ref}"

    def services_of_cluster(self, cluster: str) -> str:
        return f"{self._prefix('ecs')}:service/{cluster}/*"

    def tasks_of_cluster(self, cluster: str) -> str:
        return f"{self._prefix('ecs')}:task/{cluster}/*"

    def task_definition_family(self, family: str) -> str:
        # A family ending in "*" is a prefix; otherwise every revision of that family.
        return f"{self._prefix('ecs')}:task-definition/{family if family.endswith('*') else family + ':*'}"

    def ecr_repositories(self) -> str:
        return f"{self._prefix('ecr')}:repository/*"

    def alarms(self) -> str:
        return f"{self._prefix('cloudwatch')}:alarm:*"

    def schedules_in_group(self, group_name: str) -> str:
        return f"{self._prefix('scheduler')}:schedule/{group_name}/*"

    def schedule_group(self, group_name: str) -> str:
        return f"{self._prefix('scheduler')}:schedule-group/{group_name}"


def _service_arns(scope: Scope, arns: Arns) -> list[str]:
    return [arns.service(ref) for ref in scope.services] + [
        arns.services_of_cluster(c) for c in scope.clusters
    ]


def clusters_in_scope(scope: Scope) -> list[str]:
    """Every cluster whose services can be in scope (named clusters and clusters of named services)."""
    return list(dict.fromkeys([*scope.clusters, *(cluster for cluster, _ in scope.service_names())]))


def _cluster_arns(scope: Scope, arns: Arns) -> list[str]:
    arns_by_cluster = {cluster: arns.cluster(cluster) for cluster in scope.clusters}
    for ref in scope.services:
        match = SERVICE_ARN_RE.match(ref)
        if match:  # keep the region and account of a full service ARN
            arns_by_cluster.setdefault(
                match["cluster"], ref.split(":service/")[0] + f":cluster/{match['cluster']}"
            )
        else:
            cluster = ref.split("/")[0]
            arns_by_cluster.setdefault(cluster, arns.cluster(cluster))
    return list(arns_by_cluster.values())


def _task_arns(scope: Scope, arns: Arns) -> list[str]:
    return [cluster_arn.replace(":cluster/", ":task/") + "/*" for cluster_arn in _cluster_arns(scope, arns)]


def describe_services(scope: Scope, arns: Arns) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="DescribeServicesInScope", actions=["ecs:DescribeServices"], resources=_service_arns(scope, arns)
    )


def rollback_executor(
    scope: Scope,
    arns: Arns,
    *,
    pass_role_arns: Sequence[str],
    ecr_repository_arns: Sequence[str] | None,
    task_definition_families: Sequence[str] | None,
) -> list[iam.PolicyStatement]:
    """What a function that can roll a service back needs, beyond the ledger and the topic."""
    families = list(task_definition_families) if task_definition_families else ["*"]
    task_definition_arns = [arns.task_definition_family(family) for family in families]
    statements = [
        iam.PolicyStatement(
            sid="ReadAndUpdateServicesInScope",
            actions=["ecs:DescribeServices", "ecs:UpdateService"],
            resources=_service_arns(scope, arns),
        ),
        iam.PolicyStatement(
            sid="DescribeTaskDefinitionsNoResourceLevel",
            actions=list(READS_WITHOUT_RESOURCE_LEVEL),
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="RegisterPinnedTaskDefinitionCopies",
            actions=["ecs:RegisterTaskDefinition"],
            resources=task_definition_arns,
        ),
        iam.PolicyStatement(
            sid="TagTaskDefinitionsOnlyAtRegistration",
            actions=["ecs:TagResource"],
            resources=task_definition_arns,
            conditions={"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}},
        ),
        iam.PolicyStatement(
            sid="ListTasksOfClustersInScope",
            actions=["ecs:ListTasks"],
            resources=["*"],
            conditions={"ArnEquals": {"ecs:cluster": _cluster_arns(scope, arns)}},
        ),
        iam.PolicyStatement(
            sid="DescribeTasksOfClustersInScope",
            actions=["ecs:DescribeTasks"],
            resources=_task_arns(scope, arns),
        ),
        iam.PolicyStatement(
            sid="ReadImageDigests",
            actions=["ecr:DescribeImages", "ecr:BatchGetImage"],
            resources=list(ecr_repository_arns) if ecr_repository_arns else [arns.ecr_repositories()],
        ),
        alarm_reader(arns),
    ]
    if pass_role_arns:
        statements.append(
            iam.PolicyStatement(
                sid="PassTaskRolesToEcsTasksOnly",
                actions=["iam:PassRole"],
                resources=list(pass_role_arns),
                conditions={"StringEquals": {"iam:PassedToService": ECS_TASKS_PRINCIPAL}},
            )
        )
    return statements


def alarm_reader(arns: Arns) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="ReadAlarmsAndTheirTags",
        actions=["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"],
        resources=[arns.alarms()],
    )


def bake_scheduler(arns: Arns, *, group_name: str, scheduler_role_arn: str) -> list[iam.PolicyStatement]:
    """Create one-time bake schedules in the stack's group, run by the scheduler role only."""
    return [
        iam.PolicyStatement(
            sid="CreateBakeSchedulesInOwnGroup",
            actions=["scheduler:CreateSchedule"],
            resources=[arns.schedules_in_group(group_name)],
        ),
        iam.PolicyStatement(
            sid="PassSchedulerRoleToSchedulerOnly",
            actions=["iam:PassRole"],
            resources=[scheduler_role_arn],
            conditions={"StringEquals": {"iam:PassedToService": SCHEDULER_PRINCIPAL}},
        ),
    ]
