"""Narrow IAM statements for the AWS calls the functions make: one small builder per need, each
with named actions and ARNs. ``constructs/access.py`` composes them per function.

SNS, SQS, Logs and Lambda access come from the constructs' ``grant_*`` methods; the ledger's
DynamoDB access is written here, action by action, because no grant is that narrow.
Resource-level support follows the Service Authorization Reference:

- ecs:DescribeServices, ecs:UpdateService: ``service`` ARNs (one per service in scope, or
  ``service/<cluster>/*`` for a cluster in scope);
- ecs:StopServiceDeployment: ``service-deployment`` ARNs of the services in scope
  (``service-deployment/<cluster>/<service>/*``), and ecs:DescribeServiceDeployments on the same
  ARNs; ecs:DescribeServiceRevisions:
  ``service-revision`` ARNs of the same services;
- ecs:ContinueServiceDeployment (and ecs:DescribeServiceDeployments, to find the hooks awaiting
  action): ``service-deployment`` ARNs of the services that opt in (``answerPauseHooks``);
- ecs:DescribeTaskDefinition: no resource-level permissions, so ``*`` (a read);
- ecs:RegisterTaskDefinition: ``task-definition`` ARNs; ecs:TagResource on the same ARNs, only
  as part of RegisterTaskDefinition (condition ecs:CreateAction);
- ecs:ListTasks: resource ``*`` narrowed by the ``ecs:cluster`` condition (the form the ECS
  developer guide documents; the API takes no task ARN); ecs:DescribeTasks: ``task/<cluster>/*``;
- iam:PassRole: the configured role ARNs, only to ecs-tasks.amazonaws.com (or, for the bake
  timer's scheduler role, only to scheduler.amazonaws.com);
- ecr:DescribeImages: repository ARNs;
- cloudwatch:DescribeAlarms, cloudwatch:ListTagsForResource: the alarms of the account and region;
- scheduler:CreateSchedule: schedules of the stack's own schedule group;
- codedeploy:CreateDeployment, codedeploy:GetDeployment, codedeploy:ListDeployments and
  codedeploy:StopDeployment: ``deploymentgroup:<application>/<group>`` ARNs of the configured
  deployment groups (``codeDeploy``) only; codedeploy:GetDeploymentConfig, which CreateDeployment
  needs for the group's deployment configuration: ``deploymentconfig:*`` (the group's
  configuration is not named in the stack's configuration); codedeploy:RegisterApplicationRevision,
  which CreateDeployment needs to register the revision it carries (the AppSpec content) with the
  application: ``application:<application>`` ARNs of the configured groups' applications;
- dynamodb: GetItem, BatchGetItem, PutItem, UpdateItem and Query on the table, Query on
  ``table/<name>/index/*``; the Notifier's stream read comes from its event source
  (DescribeStream, GetRecords, GetShardIterator on the stream; ListStreams, which has no
  resource-level permissions, on ``*``). TransactWriteItems has no action of its own: each item it holds is
  authorized as the action it performs (Put as PutItem, Update as UpdateItem, ConditionCheck as
  ConditionCheckItem), and the ledger adapter writes Put and Update items only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import aws_iam as iam

from ecs_rollback.config import SERVICE_ARN_RE, CodeDeployGroup, Scope

ECS_TASKS_PRINCIPAL = "ecs-tasks.amazonaws.com"
SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"

# Actions that are reads yet accept no resource narrower than "*" (Service Authorization Reference).
READS_WITHOUT_RESOURCE_LEVEL = ("ecs:DescribeTaskDefinition",)
# What CDK's read and read/write grants give on a table's customer-managed key.
TABLE_KEY_READ_ACTIONS = ("kms:Decrypt", "kms:DescribeKey")
TABLE_KEY_WRITE_ACTIONS = ("kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*")


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

    def codedeploy_deployment_group(self, application: str, group: str) -> str:
        return f"{self._prefix('codedeploy')}:deploymentgroup:{application}/{group}"

    def codedeploy_application(self, application: str) -> str:
        return f"{self._prefix('codedeploy')}:application:{application}"

    def codedeploy_deployment_configs(self) -> str:
        return f"{self._prefix('codedeploy')}:deploymentconfig:*"


def _service_arns(scope: Scope, arns: Arns) -> list[str]:
    return [arns.service(ref) for ref in scope.services] + [
        arns.services_of_cluster(c) for c in scope.clusters
    ]


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


def _service_children(scope: Scope, arns: Arns, kind: str) -> list[str]:
    """``service-deployment`` or ``service-revision`` ARNs of the services in scope."""
    return [
        arn.replace(":service/", f":{kind}/", 1) + ("" if arn.endswith("/*") else "/*")
        for arn in _service_arns(scope, arns)
    ]


# -- ECS services ---------------------------------------------------------------------------


def service_updates(scope: Scope, arns: Arns) -> iam.PolicyStatement:
    """DescribeServices and UpdateService on the services in scope (a rollback reads the service
    before it resumes one a lost answer left unfinished)."""
    return iam.PolicyStatement(
        sid="ReadAndUpdateServicesInScope",
        actions=["ecs:DescribeServices", "ecs:UpdateService"],
        resources=_service_arns(scope, arns),
    )


def code_deploy_rollbacks(groups: Sequence[CodeDeployGroup], arns: Arns) -> list[iam.PolicyStatement]:
    """A CODE_DEPLOY-controlled service's rollback through its configured deployment group: what
    CodeDeploy is deploying (ListDeployments, GetDeployment), StopDeployment with rollback, or
    CreateDeployment of the GOOD release (which reads the group's deployment configuration and
    registers the revision it carries with the group's application)."""
    deployment_groups = sorted(
        {arns.codedeploy_deployment_group(group.application, group.deployment_group) for group in groups}
    )
    applications = sorted({arns.codedeploy_application(group.application) for group in groups})
    return [
        iam.PolicyStatement(
            sid="RollBackThroughConfiguredCodeDeployGroups",
            actions=[
                "codedeploy:CreateDeployment",
                "codedeploy:GetDeployment",
                "codedeploy:ListDeployments",
                "codedeploy:StopDeployment",
            ],
            resources=deployment_groups,
        ),
        iam.PolicyStatement(
            sid="ReadCodeDeployDeploymentConfigs",
            actions=["codedeploy:GetDeploymentConfig"],
            resources=[arns.codedeploy_deployment_configs()],
        ),
        iam.PolicyStatement(
            sid="RegisterRollbackRevisionsWithConfiguredApplications",
            actions=["codedeploy:RegisterApplicationRevision"],
            resources=applications,
        ),
    ]


# -- task definitions -----------------------------------------------------------------------


def service_deployment_stops(scope: Scope, arns: Arns) -> iam.PolicyStatement:
    """StopServiceDeployment (with ROLLBACK) on the service deployments of the services in scope:
    ECS's own rollback, when it lands on the newest GOOD release."""
    return iam.PolicyStatement(
        sid="StopServiceDeploymentsInScope",
        actions=["ecs:StopServiceDeployment"],
        resources=_service_children(scope, arns, "service-deployment"),
    )


def service_deployment_reads(scope: Scope, arns: Arns) -> iam.PolicyStatement:
    """DescribeServiceDeployments on the service deployments of the services in scope: how a
    deployment ECS no longer lists ended."""
    return iam.PolicyStatement(
        sid="ReadServiceDeploymentsInScope",
        actions=["ecs:DescribeServiceDeployments"],
        resources=_service_children(scope, arns, "service-deployment"),
    )


def pause_hook_answers(services: Scope, arns: Arns) -> iam.PolicyStatement:
    """DescribeServiceDeployments (the pause hooks awaiting action) and ContinueServiceDeployment
    on the service deployments of the services that opt in (``answerPauseHooks``), and no others."""
    return iam.PolicyStatement(
        sid="AnswerPauseHooksOfOptedInServices",
        actions=["ecs:ContinueServiceDeployment", "ecs:DescribeServiceDeployments"],
        resources=_service_children(services, arns, "service-deployment"),
    )


def service_revision_reads(scope: Scope, arns: Arns) -> iam.PolicyStatement:
    """DescribeServiceRevisions on the revisions of the services in scope (the digests ECS resolved)."""
    return iam.PolicyStatement(
        sid="ReadServiceRevisionsInScope",
        actions=["ecs:DescribeServiceRevisions"],
        resources=_service_children(scope, arns, "service-revision"),
    )


def task_definition_reads() -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="DescribeTaskDefinitionsNoResourceLevel",
        actions=list(READS_WITHOUT_RESOURCE_LEVEL),
        resources=["*"],
    )


def task_definition_registration(
    arns: Arns, *, families: Sequence[str] | None, pass_role_arns: Sequence[str]
) -> list[iam.PolicyStatement]:
    """Register a digest-pinned copy (or a deregistered revision again), tagged, passing its roles."""
    task_definition_arns = [arns.task_definition_family(family) for family in (families or ["*"])]
    statements = [
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


def task_digests(scope: Scope, arns: Arns) -> list[iam.PolicyStatement]:
    """The image digests ECS resolved, read from the tasks of the clusters in scope."""
    return [
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
    ]


# -- images and alarms ----------------------------------------------------------------------


def image_reads(arns: Arns, repository_arns: Sequence[str] | None) -> iam.PolicyStatement:
    """What a tag points at, and whether a recorded digest still exists (DescribeImages only)."""
    return iam.PolicyStatement(
        sid="ReadImageDigests",
        actions=["ecr:DescribeImages"],
        resources=list(repository_arns) if repository_arns else [arns.ecr_repositories()],
    )


def alarm_states(arns: Arns) -> iam.PolicyStatement:
    """Which of a service's alarms are in ALARM now."""
    return iam.PolicyStatement(
        sid="ReadAlarmStates", actions=["cloudwatch:DescribeAlarms"], resources=[arns.alarms()]
    )


def alarm_tags(arns: Arns) -> iam.PolicyStatement:
    """The ``ecs-rollback:*`` tags of an alarm whose event carried none."""
    return iam.PolicyStatement(
        sid="ReadAlarmTags", actions=["cloudwatch:ListTagsForResource"], resources=[arns.alarms()]
    )


# -- the ledger -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerUse:
    """The DynamoDB calls a function's ledger adapter makes (``adapters/ledger_dynamodb.py``).

    ``gets``: single items (GetItem; every function but the notifier). ``batch_reads``:
    BatchGetItem (the state with a revision, the linked alarms). ``writes``: TransactWriteItems
    of Put items (PutItem); ``updates``: Update items and UpdateItem calls (an alarm added to a
    service's set, an outbox entry claimed or marked sent).
    ``queries_table``: Query on the table itself (the deployments of a digest, a service's
    rollbacks); ``queries_indexes``: Query on the GSIs.
    """

    writes: bool
    gets: bool = True
    batch_reads: bool = False
    updates: bool = False
    queries_table: bool = False
    queries_indexes: bool = False

    def item_actions(self) -> list[str]:
        flags = (
            (self.gets, "dynamodb:GetItem"),
            (self.batch_reads, "dynamodb:BatchGetItem"),
            (self.queries_table, "dynamodb:Query"),
            (self.writes, "dynamodb:PutItem"),
            (self.updates, "dynamodb:UpdateItem"),
        )
        return [action for wanted, action in flags if wanted]


def ledger_access(table_arn: str, use: LedgerUse) -> list[iam.PolicyStatement]:
    """The ledger actions ``use`` names: items of the table, and queries of its indexes if any."""
    statements = [
        iam.PolicyStatement(
            sid="ReadAndWriteLedgerItems" if use.writes or use.updates else "ReadLedgerItems",
            actions=use.item_actions(),
            resources=[table_arn],
        )
    ]
    if use.queries_indexes:
        statements.append(
            iam.PolicyStatement(
                sid="QueryLedgerIndexes", actions=["dynamodb:Query"], resources=[f"{table_arn}/index/*"]
            )
        )
    return statements


# -- bake scheduling ------------------------------------------------------------------------


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
