"""Faults in the emulator's request path, as the product's boto3 clients see them.

Each test calls the emulator over HTTP with a client configured exactly as the product's
(``ecs_rollback.composition``: standard retries, ``max_attempts=4`` retries after the first
attempt, so 5 attempts in all), injects a fault at the server, and checks both sides: what the
client raised or returned, and what the emulator received and carried out.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import botocore.exceptions
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.parsers import RpcV2CBORParser

from ecs_rollback.composition import _BOTO_CONFIG as PRODUCT_CONFIG
from ecs_rollback_sandbox import faults as faults_module
from ecs_rollback_sandbox.emulator import ACCOUNT, REGION, Emulator
from ecs_rollback_sandbox.faults import FaultInjector, attach

pytestmark = [pytest.mark.emulator, pytest.mark.timeout(60)]

TABLE = "fault-ledger"
CLUSTER = "prod"
SERVICE = "web"
TOTAL_ATTEMPTS = 1 + PRODUCT_CONFIG.retries["max_attempts"]  # botocore's max_attempts counts retries


@pytest.fixture
def faults(aws: Emulator) -> Iterator[FaultInjector]:
    """The emptied emulator with a fault injector in its request path, removed after the test."""
    with attach(aws) as injector:
        yield injector


@pytest.fixture
def product_client(aws: Emulator) -> Callable[[str], Any]:
    """A client as the product builds it, pointed at the emulator."""

    def make(service: str) -> Any:
        return aws.session().client(service, endpoint_url=aws.endpoint, config=PRODUCT_CONFIG)

    return make


@pytest.fixture
def table(aws: Emulator) -> str:
    aws.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return TABLE


@pytest.fixture
def ecs_service(aws: Emulator) -> dict[str, str]:
    """Service prod/web running web:1; web:2 registered, not deployed."""
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    arns = {}
    for label in ("v1", "v2"):
        arns[label] = ecs.register_task_definition(
            family=SERVICE,
            containerDefinitions=[{"name": "app", "image": f"web:{label}", "memory": 128}],
        )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=CLUSTER, serviceName=SERVICE, taskDefinition=arns["v1"], desiredCount=1)
    return arns


def _task_definition(aws: Emulator) -> str:
    described = aws.client("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])
    return str(described["services"][0]["taskDefinition"])


def _item(pk: str, sk: str = "STATE", **attributes: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in attributes.items()}}


def _create_schedule(client: Any, name: str) -> dict[str, Any]:
    return dict(
        client.create_schedule(
            Name=name,
            ScheduleExpression="at(2030-01-01T00:00:00)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:bake-timer",
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/scheduler",
            },
        )
    )


# -- one call per service: what each operation is, and which protocol carries it ---------------


@pytest.fixture
def one_call_each(aws: Emulator, table: str, ecs_service: dict[str, str]) -> dict[str, Callable[[Any], Any]]:
    """For each service the product uses, one of its calls (resources made beforehand)."""
    topic = aws.client("sns").create_topic(Name="rollbacks")["TopicArn"]
    aws.client("cloudwatch").put_metric_alarm(
        AlarmName="web-5xx",
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName="web")
    ecr.put_image(
        repositoryName="web",
        imageTag="v1",
        imageManifest=json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"digest": "sha256:" + "c" * 64, "size": 1, "mediaType": "x"},
                "layers": [{"digest": "sha256:" + "d" * 64, "size": 1, "mediaType": "y"}],
            }
        ),
    )
    return {
        "dynamodb.GetItem": lambda c: c.get_item(TableName=table, Key=_item("svc")),
        "ecs.DescribeServices": lambda c: c.describe_services(cluster=CLUSTER, services=[SERVICE]),
        "ecs.UpdateService": lambda c: c.update_service(
            cluster=CLUSTER, service=SERVICE, taskDefinition=ecs_service["v2"]
        ),
        "sns.Publish": lambda c: c.publish(TopicArn=topic, Message="rolled back", Subject="rollback"),
        "cloudwatch.DescribeAlarms": lambda c: c.describe_alarms(AlarmNames=["web-5xx"]),
        "ecr.DescribeImages": lambda c: c.describe_images(
            repositoryName="web", imageIds=[{"imageTag": "v1"}]
        ),
        "scheduler.CreateSchedule": lambda c: _create_schedule(c, "bake-web-1"),
    }


def _call(calls: dict[str, Callable[[Any], Any]], product_client: Callable[[str], Any], name: str) -> Any:
    service = name.split(".", 1)[0]
    return calls[name](product_client(service))


def test_every_request_is_counted_by_service_and_operation(faults, one_call_each, product_client):
    # Given no rules
    # When the product's clients make one call to each service
    for name in one_call_each:
        _call(one_call_each, product_client, name)

    # Then each call was classified by service and operation, whatever its protocol (JSON 1.0/1.1
    # X-Amz-Target, query Action=, REST-JSON method and path), and carried out once
    for name in one_call_each:
        service, operation = name.split(".")
        assert (faults.calls(service, operation), faults.carried_out(service, operation)) == (1, 1), name
    assert faults.log == []


SERVICES_THROTTLED = {
    "dynamodb.GetItem": "ThrottlingException",
    "ecs.DescribeServices": "ThrottlingException",
    "sns.Publish": "Throttling",
    "cloudwatch.DescribeAlarms": "ThrottlingException",
    "ecr.DescribeImages": "ThrottlingException",
    "scheduler.CreateSchedule": "ThrottlingException",
}


@pytest.mark.parametrize("name", sorted(SERVICES_THROTTLED))
def test_throttled_once_botocore_retries_and_the_call_reaches_the_backend_once(
    faults, one_call_each, product_client, name
):
    # Given the service throttles the first attempt of this operation
    service, operation = name.split(".")
    faults.add(service, operation, "throttle", times=1)

    # When the product's client calls it
    answer = _call(one_call_each, product_client, name)

    # Then botocore retried once and succeeded; the backend carried the call out once
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert faults.calls(service, operation) == 2
    assert faults.carried_out(service, operation) == 1
    assert [(c.operation, c.fault, c.attempt) for c in faults.log] == [(operation, "throttle", 1)]


def test_throttled_always_the_client_gives_up_after_max_attempts(faults, one_call_each, product_client):
    # Given ECS throttles every DescribeServices
    faults.add("ecs", "DescribeServices", "throttle", times="always")

    # When the product's client calls it
    with pytest.raises(ClientError) as raised:
        _call(one_call_each, product_client, "ecs.DescribeServices")

    # Then it raised ECS's ThrottlingException after every attempt botocore allows; nothing ran
    error = raised.value.response
    assert error["Error"]["Code"] == "ThrottlingException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["ResponseMetadata"]["RetryAttempts"] == TOTAL_ATTEMPTS - 1
    assert faults.calls("ecs", "DescribeServices") == TOTAL_ATTEMPTS
    assert faults.carried_out("ecs", "DescribeServices") == 0


def test_dynamodb_throttles_one_transaction_by_its_key(faults, table, product_client):
    # Given DynamoDB answers ProvisionedThroughputExceeded to the first transaction writing svc-a
    dynamodb = product_client("dynamodb")

    def writes_svc_a(body: dict[str, Any]) -> bool:
        return any(op["Put"]["Item"]["pk"]["S"] == "svc-a" for op in body["TransactItems"])

    faults.add(
        "dynamodb",
        "TransactWriteItems",
        "throttle",
        when=writes_svc_a,
        error=faults_module.ErrorShape(
            400,
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded.",
        ),
    )

    # When the product writes svc-b's transaction, then svc-a's
    for pk in ("svc-b", "svc-a"):
        answer = dynamodb.transact_write_items(
            TransactItems=[{"Put": {"TableName": table, "Item": _item(pk, version="1")}}]
        )
        # Then each succeeded; only svc-a's needed a retry
        assert answer["ResponseMetadata"]["RetryAttempts"] == (1 if pk == "svc-a" else 0)

    # And three requests reached DynamoDB, two were carried out, both items are written once
    assert faults.calls("dynamodb", "TransactWriteItems") == 3
    assert faults.carried_out("dynamodb", "TransactWriteItems") == 2
    assert [c.body["TransactItems"][0]["Put"]["Item"]["pk"]["S"] for c in faults.log] == ["svc-a"]
    assert faults.predicate_errors == []
    for pk in ("svc-a", "svc-b"):
        assert "Item" in dynamodb.get_item(TableName=table, Key=_item(pk))


def test_server_error_once_is_retried(faults, one_call_each, product_client):
    # Given ECR fails the first DescribeImages with its own 500
    faults.add("ecr", "DescribeImages", "server_error")

    # When the product's client calls it
    answer = _call(one_call_each, product_client, "ecr.DescribeImages")

    # Then botocore retried (5xx is transient) and got the image; ECR ran it once
    assert answer["imageDetails"][0]["imageTags"] == ["v1"]
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert (faults.calls("ecr", "DescribeImages"), faults.carried_out("ecr", "DescribeImages")) == (2, 1)


def test_server_error_always_raises_the_services_modeled_exception(faults, one_call_each, product_client):
    # Given CloudWatch fails every DescribeAlarms (JSON 1.0, query-compatible: its modeled fault)
    faults.add("cloudwatch", "DescribeAlarms", "server_error", times="always")
    cloudwatch = product_client("cloudwatch")

    # When the product's client calls it
    with pytest.raises(cloudwatch.exceptions.InternalServiceFault) as raised:
        cloudwatch.describe_alarms(AlarmNames=["web-5xx"])

    # Then it is CloudWatch's own InternalServiceFault (code InternalServiceError), after every attempt
    error = raised.value.response
    assert (error["Error"]["Code"], error["Error"]["Type"]) == ("InternalServiceError", "Receiver")
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert error["ResponseMetadata"]["RetryAttempts"] == TOTAL_ATTEMPTS - 1
    assert faults.calls("cloudwatch", "DescribeAlarms") == TOTAL_ATTEMPTS
    assert faults.carried_out("cloudwatch", "DescribeAlarms") == 0


ACCESS_DENIED = {
    "dynamodb.GetItem": (400, "AccessDeniedException"),
    "ecs.UpdateService": (400, "AccessDeniedException"),
    "sns.Publish": (403, "AuthorizationError"),
    "cloudwatch.DescribeAlarms": (400, "AccessDeniedException"),
    "ecr.DescribeImages": (400, "AccessDeniedException"),
    "scheduler.CreateSchedule": (403, "AccessDeniedException"),
}


@pytest.mark.parametrize("name", sorted(ACCESS_DENIED))
def test_access_denied_is_not_retried(aws, faults, one_call_each, product_client, ecs_service, name):
    # Given the service refuses this operation to the caller's role
    service, operation = name.split(".")
    faults.add(service, operation, "access_denied", times="always")

    # When the product's client calls it
    with pytest.raises(ClientError) as raised:
        _call(one_call_each, product_client, name)

    # Then it raised the service's own access error at once, and nothing was carried out
    status, code = ACCESS_DENIED[name]
    error = raised.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (status, code)
    assert f"not authorized to perform: {service}:{operation}" in error["Error"]["Message"]
    assert error["ResponseMetadata"]["RetryAttempts"] == 0
    assert (faults.calls(service, operation), faults.carried_out(service, operation)) == (1, 0)
    assert _task_definition(aws) == ecs_service["v1"]


def test_connection_dropped_once_is_retried_and_carried_out_once(aws, faults, ecs_service, product_client):
    # Given the first UpdateService loses its connection before ECS sees it
    faults.add("ecs", "UpdateService", "connection_error")

    # When the product updates the service
    answer = product_client("ecs").update_service(
        cluster=CLUSTER, service=SERVICE, taskDefinition=ecs_service["v2"]
    )

    # Then botocore retried the closed connection and succeeded; ECS ran UpdateService once
    assert answer["service"]["taskDefinition"] == ecs_service["v2"]
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert faults.calls("ecs", "UpdateService") == 2
    assert faults.carried_out("ecs", "UpdateService") == 1
    assert [(c.fault, c.carried_out) for c in faults.log] == [("connection_error", False)]


def test_connection_dropped_always_raises_connection_closed(aws, faults, ecs_service, product_client):
    # Given every UpdateService loses its connection before ECS sees it
    faults.add("ecs", "UpdateService", "connection_error", times="always")

    # When the product updates the service
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        product_client("ecs").update_service(
            cluster=CLUSTER, service=SERVICE, taskDefinition=ecs_service["v2"]
        )

    # Then botocore tried every attempt; none was carried out and the service is unchanged
    assert faults.calls("ecs", "UpdateService") == TOTAL_ATTEMPTS
    assert faults.carried_out("ecs", "UpdateService") == 0
    assert _task_definition(aws) == ecs_service["v1"]


def test_lost_answer_on_a_conditional_put_looks_like_somebody_elses_write(faults, table, product_client):
    # Given DynamoDB writes the first PutItem but its answer never arrives
    dynamodb = product_client("dynamodb")
    faults.add("dynamodb", "PutItem", "lost_answer")

    # When the product creates the item only if it does not exist
    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(
            TableName=table,
            Item=_item("svc", version="1"),
            ConditionExpression="attribute_not_exists(pk)",
        )

    # Then the item exists: the first attempt wrote it (moto answered 200, the client never read it),
    # and botocore's retry failed its own condition, as if somebody else had written first
    assert dynamodb.get_item(TableName=table, Key=_item("svc"))["Item"]["version"] == {"S": "1"}
    assert faults.carried_out("dynamodb", "PutItem") == 2
    assert [(c.fault, c.carried_out, c.backend_status) for c in faults.log] == [("lost_answer", True, 200)]


def test_lost_answer_on_a_transaction_cancels_the_retry(faults, table, product_client):
    # Given the first TransactWriteItems writing svc's state commits but loses its answer
    dynamodb = product_client("dynamodb")
    faults.add(
        "dynamodb",
        "TransactWriteItems",
        "lost_answer",
        when=lambda body: body["TransactItems"][0]["Put"]["Item"]["pk"]["S"] == "svc",
    )
    transaction = [
        {
            "Put": {
                "TableName": table,
                "Item": _item("svc", version="1"),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {"Put": {"TableName": table, "Item": _item("svc", "DEPLOYMENT#1", status="IN_PROGRESS")}},
    ]

    # When the product commits the transaction
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException) as raised:
        dynamodb.transact_write_items(TransactItems=transaction)

    # Then the retry was cancelled by its own first attempt's write: ConditionalCheckFailed on the state
    reasons = [reason["Code"] for reason in raised.value.response["CancellationReasons"]]
    assert reasons == ["ConditionalCheckFailed", "None"]
    assert "Item" in dynamodb.get_item(TableName=table, Key=_item("svc", "DEPLOYMENT#1"))
    assert faults.carried_out("dynamodb", "TransactWriteItems") == 2


def test_lost_answer_on_update_service_changes_the_service_and_the_retry_succeeds(
    aws, faults, ecs_service, product_client
):
    # Given ECS carries out the first UpdateService but its answer is lost
    faults.add("ecs", "UpdateService", "lost_answer")

    # When the product updates the service
    answer = product_client("ecs").update_service(
        cluster=CLUSTER, service=SERVICE, taskDefinition=ecs_service["v2"]
    )

    # Then the client saw a retried success; ECS ran UpdateService twice (not idempotent by itself)
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert _task_definition(aws) == ecs_service["v2"]
    assert (faults.calls("ecs", "UpdateService"), faults.carried_out("ecs", "UpdateService")) == (2, 2)


def test_lost_answer_always_on_update_service_the_client_fails_but_the_service_changed(
    aws, faults, ecs_service, product_client
):
    # Given ECS carries out every UpdateService and every answer is lost
    faults.add("ecs", "UpdateService", "lost_answer", times="always")

    # When the product updates the service
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        product_client("ecs").update_service(
            cluster=CLUSTER, service=SERVICE, taskDefinition=ecs_service["v2"]
        )

    # Then the client got an error, yet the service runs web:2: every attempt was carried out
    assert _task_definition(aws) == ecs_service["v2"]
    assert faults.carried_out("ecs", "UpdateService") == TOTAL_ATTEMPTS
    assert {c.backend_status for c in faults.log} == {200}


def test_lost_answer_on_create_schedule_the_retry_conflicts(faults, product_client):
    # Given Scheduler creates the first schedule but its answer is lost
    scheduler = product_client("scheduler")
    faults.add("scheduler", "CreateSchedule", "lost_answer")

    # When the product creates the bake timer's schedule
    with pytest.raises(scheduler.exceptions.ConflictException):
        _create_schedule(scheduler, "bake-web-1")

    # Then the schedule exists, and the retry met it as a conflict
    assert scheduler.get_schedule(Name="bake-web-1")["Name"] == "bake-web-1"
    assert faults.carried_out("scheduler", "CreateSchedule") == 2


def test_times_n_is_exact_under_concurrent_requests(faults, table, product_client):
    # Given DynamoDB throttles exactly 3 GetItem attempts, whoever sends them
    faults.add("dynamodb", "GetItem", "throttle", times=3)
    dynamodb = product_client("dynamodb")
    errors: list[BaseException] = []

    def read() -> None:
        try:
            dynamodb.get_item(TableName=table, Key=_item("svc"))
        except BaseException as error:
            errors.append(error)

    # When 8 threads read at once
    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # Then every read succeeded, 3 attempts were throttled, and each read was carried out once
    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    assert len(faults.log) == 3
    assert faults.calls("dynamodb", "GetItem") == 8 + 3
    assert faults.carried_out("dynamodb", "GetItem") == 8


def test_detach_puts_the_emulator_back(aws, table, product_client):
    # Given an injector that throttles every GetItem
    injector = attach(aws)
    injector.add("dynamodb", "GetItem", "throttle", times="always")

    # When it is detached
    injector.detach()

    # Then calls pass straight to moto again, uncounted, and a second attach is possible
    product_client("dynamodb").get_item(TableName=table, Key=_item("svc"))
    assert injector.calls("dynamodb", "GetItem") == 0
    attach(aws).detach()


# -- the product's own code path under faults ---------------------------------------------------


def test_alarm_rollback_survives_a_lost_update_service_answer(bad_release):
    # Given ECS carries out the alarm function's first UpdateService but its answer is lost
    world, web = bad_release
    event = web.alarm_fires()
    with attach(world.emulator) as faults:
        faults.add("ecs", "UpdateService", "lost_answer")

        # When the alarm reaches the alarm function
        result = world.deliver(event)

        # Then botocore's retry repeated UpdateService, and the rollback is recorded and notified once
        assert faults.carried_out("ecs", "UpdateService") == 2
    assert result["decisions"][0]["outcome"] == "ROLLED_BACK"
    assert web.task_definition == web.revisions["v1"]
    assert web.status_of("v2") == "ROLLED_BACK"
    assert [note["body"]["outcome"] for note in world.notifications()] == ["ROLLED_BACK"]


def test_alarm_rollback_survives_a_lost_ledger_transaction_answer(bad_release):
    # Given DynamoDB commits the alarm function's first TransactWriteItems but its answer is lost
    world, web = bad_release
    event = web.alarm_fires()
    with attach(world.emulator) as faults:
        faults.add("dynamodb", "TransactWriteItems", "lost_answer")

        # When the alarm reaches the alarm function
        result = world.deliver(event)

    # Then the retry recognised the commit's own write: ROLLED_BACK, the service on v1, told once
    assert result["decisions"][0]["outcome"] == "ROLLED_BACK"
    assert web.task_definition == web.revisions["v1"]
    assert world.count("ecs.UpdateService") == 1
    assert [note["body"]["outcome"] for note in world.notifications()] == ["ROLLED_BACK"]


@pytest.mark.parametrize("fault", ["throttle", "server_error", "access_denied"])
def test_cbor_errors_parse_as_the_services_own(fault):
    # Given a CloudWatch request in Smithy RPC v2 CBOR (botocore 1.44 prefers JSON 1.0; moto speaks
    # no CBOR, so this checks the answer's encoding with botocore's own parser, without the server)
    model = botocore.session.get_session().get_service_model("cloudwatch")
    operation = model.operation_model("DescribeAlarms")
    request = faults_module.Request(
        "cloudwatch",
        "DescribeAlarms",
        "smithy-rpc-v2-cbor",
        "POST",
        "/service/GraniteServiceVersion20100801/operation/DescribeAlarms",
        {},
        b"",
        {},
    )

    # When the injector renders the fault
    status, headers, body = faults_module.render_error(request, faults_module.error_shape(request, fault))
    parsed = RpcV2CBORParser().parse(
        {"status_code": int(status.split()[0]), "headers": {k.lower(): v for k, v in headers}, "body": body},
        operation.output_shape,
    )

    # Then botocore reads the same code as over JSON
    expected = {
        "throttle": "ThrottlingException",
        "server_error": "InternalServiceError",
        "access_denied": "AccessDeniedException",
    }
    assert parsed["Error"]["Code"] == expected[fault]
