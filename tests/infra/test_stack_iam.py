"""Least privilege: every policy in the template walked, and each function's permissions pinned.

Rules the walker enforces on every Allow statement (identity and resource policies alike):

- no ``*`` action and no ``service:*`` action;
- a ``*`` resource only for actions that cannot be scoped (``STAR_RESOURCE_ALLOWED``):
  X-Ray's two write actions, which have no resource-level permissions, and two reads,
  ecs:DescribeTaskDefinition (no resource-level permissions) and ecs:ListTasks, which must carry
  the ``ecs:cluster`` condition. Any other action on ``*`` fails, reads included.
- KMS key policies are the exception by design: there ``"Resource": "*"`` means "this key".

Deny statements (the TLS-only guards CDK adds to queues and topics) only take permissions away
and are not held to these rules.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cdk_testkit import (
    EXECUTORS,
    as_list,
    functions_by_name,
    iter_policy_documents,
    role_policy_statements,
    synthesize,
    with_config,
)

STAR_RESOURCE_ALLOWED = {
    "xray:PutTraceSegments": "X-Ray has no resource-level permissions (active tracing)",
    "xray:PutTelemetryRecords": "X-Ray has no resource-level permissions (active tracing)",
    "ecs:DescribeTaskDefinition": "read; the API has no resource-level permissions",
    "ecs:ListTasks": "read; narrowed by the ecs:cluster condition",
    "dynamodb:ListStreams": "read; the API has no resource-level permissions (the Notifier's stream source)",
}
READ_PREFIXES = ("Describe", "List", "Get", "BatchGet")


def is_read(action: str) -> bool:
    return action.split(":", 1)[1].startswith(READ_PREFIXES)


def violations(template: dict[str, Any]) -> list[str]:
    problems = []
    for logical_id, kind, statement in iter_policy_documents(template):
        if statement["Effect"] != "Allow":
            continue
        actions = as_list(statement.get("Action", []))
        resources_ = as_list(statement.get("Resource", []))
        for action in actions:
            if action == "*" or action.endswith(":*"):
                problems.append(f"{logical_id}: wildcard action {action}")
        if kind == "AWS::KMS::Key":
            continue
        if "*" in resources_:
            for action in actions:
                if action not in STAR_RESOURCE_ALLOWED:
                    what = "read" if ":" in action and is_read(action) else "mutating action"
                    problems.append(f"{logical_id}: {what} {action} on resource *")
                if action == "ecs:ListTasks" and "ecs:cluster" not in json.dumps(
                    statement.get("Condition", {})
                ):
                    problems.append(f"{logical_id}: ecs:ListTasks on * without the ecs:cluster condition")
    return problems


def test_the_walker_catches_what_it_must() -> None:
    # Given a template with each kind of violation
    bad = {
        "Resources": {
            "Policy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "Roles": [],
                    "PolicyDocument": {
                        "Statement": [
                            {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b"},
                            {"Effect": "Allow", "Action": "ecs:*", "Resource": "arn:aws:ecs:::x"},
                            {"Effect": "Allow", "Action": "ecs:UpdateService", "Resource": "*"},
                            {"Effect": "Allow", "Action": "ecs:ListTasks", "Resource": "*"},
                            {"Effect": "Deny", "Action": "sqs:*", "Resource": "*"},
                        ]
                    },
                },
            }
        }
    }

    # When walked, then every Allow violation is reported and the Deny is not
    assert violations(bad) == [
        "Policy: wildcard action *",
        "Policy: wildcard action ecs:*",
        "Policy: mutating action ecs:UpdateService on resource *",
        "Policy: ecs:ListTasks on * without the ecs:cluster condition",
    ]


def test_no_policy_in_the_stack_allows_a_wildcard_action_or_an_unscoped_resource(
    template: dict[str, Any],
) -> None:
    assert violations(template) == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"scope": {"services": [], "clusters": ["prod", "staging"]}, "alarmLinks": []},
        {
            "existingTableName": "ledger",
            "existingTableStreamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/ledger/stream/2026-01-01T00:00:00.000",
        },
        {"existingTopicArn": "arn:aws:sns:us-east-1:123456789012:rollbacks", "notificationEmails": []},
        {
            "passRoleArns": ["arn:aws:iam::123456789012:role/app-*"],
            "ecrRepositoryArns": ["arn:aws:ecr:us-east-1:123456789012:repository/web"],
        },
    ],
    ids=["clusters", "existing-table", "existing-topic", "patterns"],
)
def test_variants_stay_least_privilege(overrides: dict[str, Any]) -> None:
    assert violations(synthesize(with_config(**overrides)).template) == []


def actions_of(template: dict[str, Any], name: str) -> dict[str, set[str]]:
    """Action -> the resources (as JSON) it is allowed on, for one function's role."""
    _, function = functions_by_name(template)[name]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    granted: dict[str, set[str]] = {}
    for statement in role_policy_statements(template, role_id):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            granted.setdefault(action, set()).update(
                json.dumps(r, sort_keys=True) for r in as_list(statement["Resource"])
            )
    return granted


# Every function: its log group, X-Ray, its failure queue.
COMMON_ACTIONS = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "sqs:SendMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
}
NOTIFY = {"sns:Publish", "kms:Decrypt", "kms:GenerateDataKey*"}
LEDGER_READS = {"dynamodb:GetItem", "dynamodb:BatchGetItem"}
LEDGER_WRITES = {"dynamodb:PutItem"}  # TransactWriteItems of Put items
# A rollback updates the service, or stops ECS's own deployment with ROLLBACK.
SERVICE_UPDATES = {"ecs:DescribeServices", "ecs:UpdateService", "ecs:StopServiceDeployment"}
REGISTRATION = {
    "ecs:DescribeTaskDefinition",
    "ecs:RegisterTaskDefinition",
    "ecs:TagResource",
    "iam:PassRole",
}
# The digests ECS resolved: its service revisions, or its tasks.
TASK_DIGESTS = {"ecs:ListTasks", "ecs:DescribeTasks", "ecs:DescribeServiceRevisions"}
IMAGE_READS = {"ecr:DescribeImages"}
SCHEDULING = {"scheduler:CreateSchedule", "iam:PassRole"}
EXPECTED_ACTIONS = {
    "DeploymentEvents": COMMON_ACTIONS
    | LEDGER_READS
    | LEDGER_WRITES
    | {"dynamodb:Query"}
    | SERVICE_UPDATES
    | REGISTRATION
    | TASK_DIGESTS
    | IMAGE_READS
    | {"cloudwatch:DescribeAlarms"}
    | SCHEDULING,
    "AlarmEvents": COMMON_ACTIONS
    | {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"}
    | SERVICE_UPDATES
    | REGISTRATION
    | {"cloudwatch:ListTagsForResource"},
    "ManualRollback": COMMON_ACTIONS
    | LEDGER_READS
    | LEDGER_WRITES
    | {"dynamodb:Query"}
    | SERVICE_UPDATES
    | REGISTRATION
    | TASK_DIGESTS
    | IMAGE_READS,
    "BakeTimer": COMMON_ACTIONS
    | LEDGER_READS
    | LEDGER_WRITES
    | (REGISTRATION - {"ecs:DescribeTaskDefinition"})
    | IMAGE_READS
    | {"cloudwatch:DescribeAlarms"}
    | SCHEDULING,
    "ImageEvents": COMMON_ACTIONS | {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"},
    # The outbox: claim and mark sent (UpdateItem), publish; the stream read of its event source.
    "Notifier": COMMON_ACTIONS
    | NOTIFY
    | {"dynamodb:UpdateItem"}
    | {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"},
    "Reconciler": COMMON_ACTIONS
    | NOTIFY
    | LEDGER_READS
    | LEDGER_WRITES
    | {"dynamodb:Query", "dynamodb:UpdateItem"}
    | SERVICE_UPDATES
    | REGISTRATION
    | TASK_DIGESTS
    | IMAGE_READS
    | {"cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"}
    | {"ecs:DescribeServiceDeployments"}
    | SCHEDULING,
    # ECS's lifecycle hooks: the target revision and its task definition, the release's verdict and
    # the linked alarms (one item and a batch of two), the alarms' states; no write.
    "ReleaseGate": COMMON_ACTIONS
    | LEDGER_READS
    | {"ecs:DescribeServiceRevisions", "ecs:DescribeTaskDefinition", "cloudwatch:DescribeAlarms"},
}
NOTIFIERS = ("Notifier", "Reconciler")
READ_ONLY = ("ReleaseGate",)  # writes nothing to the ledger
# Where each function's Query goes: the GSIs (index/*), or the table itself (pk IMG#<digest>).
QUERIES = {
    "DeploymentEvents": "index",
    "AlarmEvents": "index",
    "ManualRollback": "index",
    "ImageEvents": "table",
    "Reconciler": "index",
}
STREAM_READS = {
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:DescribeStream",
    "dynamodb:ListStreams",
}
NEVER = {
    "dynamodb:Scan",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "ecr:BatchGetImage",
    "ecs:StopTask",
    "ecs:DeregisterTaskDefinition",
}


@pytest.mark.parametrize("name", list(EXPECTED_ACTIONS))
def test_each_function_holds_exactly_the_actions_its_code_calls(template: dict[str, Any], name: str) -> None:
    assert set(actions_of(template, name)) == EXPECTED_ACTIONS[name]


def test_no_function_holds_an_action_the_code_never_calls(template: dict[str, Any]) -> None:
    for name in EXPECTED_ACTIONS:
        assert not set(actions_of(template, name)) & NEVER, name
        if name != "Notifier":  # only the Notifier reads the ledger's stream
            assert not set(actions_of(template, name)) & STREAM_READS, name


def _table(template: dict[str, Any]) -> tuple[str, str]:
    """(table ARN, index ARN pattern) as the template writes them, in JSON."""
    table = next(k for k, r in template["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table")
    table_arn = {"Fn::GetAtt": [table, "Arn"]}
    index_arn = {"Fn::Join": ["", [table_arn, "/index/*"]]}
    return json.dumps(table_arn, sort_keys=True), json.dumps(index_arn, sort_keys=True)


@pytest.mark.parametrize("name", list(EXPECTED_ACTIONS))
def test_ledger_actions_are_on_the_table_and_queries_where_the_function_queries(
    template: dict[str, Any], name: str
) -> None:
    # Given the function's DynamoDB permissions
    granted = actions_of(template, name)
    table_arn, index_arn = _table(template)

    # Then item actions name this stack's table, and Query only the table or the indexes it queries
    for action in EXPECTED_ACTIONS[name] & {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem"}:
        assert granted[action] == {table_arn}, action
    if name in QUERIES:
        assert granted["dynamodb:Query"] == {index_arn if QUERIES[name] == "index" else table_arn}
    else:
        assert "dynamodb:Query" not in granted


@pytest.mark.parametrize("name", list(EXPECTED_ACTIONS))
def test_the_topic_is_granted_only_to_the_functions_that_notify(template: dict[str, Any], name: str) -> None:
    granted = actions_of(template, name)
    topic = next(k for k, r in template["Resources"].items() if r["Type"] == "AWS::SNS::Topic")
    key = next(k for k, r in template["Resources"].items() if r["Type"] == "AWS::KMS::Key")

    if name not in NOTIFIERS:  # the rollback path writes its notices to the outbox, in the ledger
        assert not NOTIFY & set(granted)
    else:
        assert granted["sns:Publish"] == {json.dumps({"Ref": topic})}
        assert granted["kms:GenerateDataKey*"] == {json.dumps({"Fn::GetAtt": [key, "Arn"]}, sort_keys=True)}


def test_an_existing_table_is_granted_by_its_name() -> None:
    # Given a stack that uses an existing ledger table
    template = synthesize(
        with_config(existingTableName="ledger", existingTableStreamArn=EXISTING_STREAM_ARN)
    ).template

    # Then each function's ledger actions name that table, and the index queries its indexes
    table_arn = _arn("dynamodb", ":table/ledger")
    for name in EXPECTED_ACTIONS:
        items = _statement(
            template, name, "ReadLedgerItems" if name in READ_ONLY else "ReadAndWriteLedgerItems"
        )
        assert items["Resource"] == table_arn
    indexes = _statement(template, "DeploymentEvents", "QueryLedgerIndexes")
    assert indexes["Action"] == "dynamodb:Query"
    assert indexes["Resource"] == _arn("dynamodb", ":table/ledger/index/*")


def _statement(template: dict[str, Any], name: str, sid: str) -> dict[str, Any]:
    _, function = functions_by_name(template)[name]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    (statement,) = [s for s in role_policy_statements(template, role_id) if s.get("Sid") == sid]
    return statement


def _sids(template: dict[str, Any], name: str) -> set[str]:
    _, function = functions_by_name(template)[name]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return {s["Sid"] for s in role_policy_statements(template, role_id) if "Sid" in s}


def _arn(*parts: str) -> dict[str, Any]:
    pieces: list[Any] = ["arn:", {"Ref": "AWS::Partition"}, f":{parts[0]}:", {"Ref": "AWS::Region"}, ":"]
    pieces += [{"Ref": "AWS::AccountId"}, parts[1]]
    return {"Fn::Join": ["", pieces]}


EXISTING_STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/ledger/stream/2026-01-01T00:00:00.000"
REGISTERING = ("DeploymentEvents", "AlarmEvents", "ManualRollback", "BakeTimer")


@pytest.mark.parametrize("name", EXECUTORS)
def test_service_updates_are_scoped_to_the_services_in_scope(template: dict[str, Any], name: str) -> None:
    assert _statement(template, name, "ReadAndUpdateServicesInScope")["Resource"] == _arn(
        "ecs", ":service/prod/web"
    )


@pytest.mark.parametrize("name", EXECUTORS)
def test_stopping_ecs_deployments_is_scoped_to_the_services_in_scope(
    template: dict[str, Any], name: str
) -> None:
    assert _statement(template, name, "StopServiceDeploymentsInScope")["Resource"] == _arn(
        "ecs", ":service-deployment/prod/web/*"
    )


@pytest.mark.parametrize("name", ["DeploymentEvents", "ManualRollback", "Reconciler", "ReleaseGate"])
def test_service_revision_reads_are_scoped_to_the_services_in_scope(
    template: dict[str, Any], name: str
) -> None:
    assert _statement(template, name, "ReadServiceRevisionsInScope")["Resource"] == _arn(
        "ecs", ":service-revision/prod/web/*"
    )


@pytest.mark.parametrize("name", REGISTERING)
def test_registration_is_scoped_to_the_families_and_roles_configured(
    template: dict[str, Any], name: str
) -> None:
    # task definitions only of the configured family, tags only at registration
    family = _arn("ecs", ":task-definition/web:*")
    assert _statement(template, name, "RegisterPinnedTaskDefinitionCopies")["Resource"] == family
    tag = _statement(template, name, "TagTaskDefinitionsOnlyAtRegistration")
    assert tag["Resource"] == family
    assert tag["Condition"] == {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}}
    # PassRole only on the configured roles and only to ECS tasks
    pass_role = _statement(template, name, "PassTaskRolesToEcsTasksOnly")
    assert pass_role["Resource"] == [
        "arn:aws:iam::123456789012:role/web-task-role",
        "arn:aws:iam::123456789012:role/web-execution-role",
    ]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


@pytest.mark.parametrize("name", ["DeploymentEvents", "ManualRollback"])
def test_task_digests_are_read_only_in_the_clusters_in_scope(template: dict[str, Any], name: str) -> None:
    list_tasks = _statement(template, name, "ListTasksOfClustersInScope")
    assert list_tasks["Condition"] == {"ArnEquals": {"ecs:cluster": [_arn("ecs", ":cluster/prod")]}}
    assert _statement(template, name, "DescribeTasksOfClustersInScope")["Resource"] == _arn(
        "ecs", ":task/prod/*"
    )


@pytest.mark.parametrize("name", ["DeploymentEvents", "ManualRollback", "BakeTimer"])
def test_image_reads_are_this_accounts_repositories(template: dict[str, Any], name: str) -> None:
    statement = _statement(template, name, "ReadImageDigests")
    assert statement["Action"] == "ecr:DescribeImages"
    assert statement["Resource"] == _arn("ecr", ":repository/*")


@pytest.mark.parametrize(
    ("name", "sid"),
    [
        ("DeploymentEvents", "ReadAlarmStates"),
        ("BakeTimer", "ReadAlarmStates"),
        ("AlarmEvents", "ReadAlarmTags"),
    ],
)
def test_alarm_reads_are_this_accounts_alarms(template: dict[str, Any], name: str, sid: str) -> None:
    assert _statement(template, name, sid)["Resource"] == _arn("cloudwatch", ":alarm:*")


def test_image_events_hold_the_ledger_and_nothing_else(template: dict[str, Any]) -> None:
    assert _sids(template, "ImageEvents") == {"ReadAndWriteLedgerItems"}


@pytest.mark.parametrize("name", ["DeploymentEvents", "BakeTimer"])
def test_schedulers_create_schedules_in_their_group_and_pass_only_the_scheduler_role(
    template: dict[str, Any], name: str
) -> None:
    group = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Scheduler::ScheduleGroup")
    create = _statement(template, name, "CreateBakeSchedulesInOwnGroup")
    assert create["Resource"] == _arn("scheduler", f":schedule/{group['Properties']['Name']}/*")
    pass_role = _statement(template, name, "PassSchedulerRoleToSchedulerOnly")
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    assert list(pass_role["Resource"]) == ["Fn::GetAtt"]


def test_clusters_in_scope_scope_mutations_to_their_services() -> None:
    # Given whole clusters in scope
    template = synthesize(
        with_config(scope={"services": [], "clusters": ["prod", "staging"]}, alarmLinks=[])
    ).template

    # Then ECS mutations name each cluster's services, and tasks are listed only in those clusters
    statement = _statement(template, "AlarmEvents", "ReadAndUpdateServicesInScope")
    assert statement["Resource"] == [_arn("ecs", ":service/prod/*"), _arn("ecs", ":service/staging/*")]
    list_tasks = _statement(template, "DeploymentEvents", "ListTasksOfClustersInScope")
    assert list_tasks["Condition"]["ArnEquals"]["ecs:cluster"] == [
        _arn("ecs", ":cluster/prod"),
        _arn("ecs", ":cluster/staging"),
    ]


def test_without_pass_role_arns_no_pass_role_to_ecs_is_granted() -> None:
    template = synthesize(with_config(passRoleArns=[])).template
    for name in EXPECTED_ACTIONS:
        assert "PassTaskRolesToEcsTasksOnly" not in _sids(template, name)


CODE_DEPLOY = [
    {"service": "prod/web", "application": "AppECS-prod-web", "deploymentGroup": "DgpECS-prod-web"}
]
CODE_DEPLOY_ACTIONS = {
    "codedeploy:CreateDeployment",
    "codedeploy:GetDeployment",
    "codedeploy:ListDeployments",
    "codedeploy:StopDeployment",
}
# What IAM authorizes besides CreateDeployment itself: the group's deployment configuration, read,
# and the revision the deployment carries, registered with the application.
CREATE_DEPLOYMENT_NEEDS = {"codedeploy:GetDeploymentConfig", "codedeploy:RegisterApplicationRevision"}


@pytest.fixture(scope="module")
def codedeploy_template() -> dict[str, Any]:
    return synthesize(with_config(codeDeploy=CODE_DEPLOY)).template


def test_no_function_holds_a_codedeploy_action_when_no_deployment_group_is_configured(
    template: dict[str, Any],
) -> None:
    for name in EXPECTED_ACTIONS:
        assert not [action for action in actions_of(template, name) if action.startswith("codedeploy:")], name


@pytest.mark.parametrize("name", list(EXPECTED_ACTIONS))
def test_the_functions_that_roll_back_go_through_the_configured_deployment_groups_only(
    codedeploy_template: dict[str, Any], name: str
) -> None:
    # Given a stack that names the deployment group of its CODE_DEPLOY service
    granted = actions_of(codedeploy_template, name)

    # Then each function that carries rollbacks out holds the CodeDeploy calls, on that group only,
    # and the deployment configurations CreateDeployment reads; no other function holds any
    codedeploy = {action for action in granted if action.startswith("codedeploy:")}
    if name not in EXECUTORS:
        assert codedeploy == set()
        assert set(granted) == EXPECTED_ACTIONS[name]
        return
    assert set(granted) == EXPECTED_ACTIONS[name] | CODE_DEPLOY_ACTIONS | CREATE_DEPLOYMENT_NEEDS
    group = _statement(codedeploy_template, name, "RollBackThroughConfiguredCodeDeployGroups")
    assert set(group["Action"]) == CODE_DEPLOY_ACTIONS
    assert group["Resource"] == _arn("codedeploy", ":deploymentgroup:AppECS-prod-web/DgpECS-prod-web")
    configs = _statement(codedeploy_template, name, "ReadCodeDeployDeploymentConfigs")
    assert configs["Action"] == "codedeploy:GetDeploymentConfig"
    assert configs["Resource"] == _arn("codedeploy", ":deploymentconfig:*")
    revisions = _statement(codedeploy_template, name, "RegisterRollbackRevisionsWithConfiguredApplications")
    assert revisions["Action"] == "codedeploy:RegisterApplicationRevision"
    assert revisions["Resource"] == _arn("codedeploy", ":application:AppECS-prod-web")


def test_a_codedeploy_stack_stays_least_privilege(codedeploy_template: dict[str, Any]) -> None:
    assert violations(codedeploy_template) == []
