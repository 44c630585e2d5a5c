"""One emulated AWS account with the rollback service in it: the harness the integration tests,
the end-to-end scenarios and the sandbox share.

A provisioner creates the service's resources in the emulator and says what it made
(``Resources``): each function's name, ARN and environment, the inbox queue subscribed to the
notification topic, the bake timers' schedule group, and how EventBridge routes an event.
``provision_direct`` creates them straight through the APIs (fast, for integration tests;
``World.direct``); ``stack.provision_stack`` deploys the synthesized CloudFormation stack (the
sandbox and the end-to-end tests). The rest is one ``World`` for both: each handler run as Lambda
would run it, with the settings it reads from its own environment; EventBridge's and
Scheduler's delivery; ECS's and CloudWatch's parts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ecs_rollback import contract
from ecs_rollback.adapters.ledger_dynamodb import DynamoDBLedger
from ecs_rollback.composition import build
from ecs_rollback.config import AlarmLink, CodeDeployGroup, Group, Members, Scope, Settings
from ecs_rollback.contract import from_environment, table_definition, to_environment
from ecs_rollback.domain.model import ServiceId
from ecs_rollback.domain.notices import NoticeKind
from ecs_rollback.handlers import (
    alarm_events,
    bake_timer,
    deployment_events,
    image_events,
    manual_rollback,
    notifier,
    reconciler,
    release_gate,
)
from ecs_rollback.ports import Dependencies
from ecs_rollback_sandbox import codedeploy_deployments
from ecs_rollback_sandbox.clock import ManualClock
from ecs_rollback_sandbox.cloudwatch_simulator import CloudWatchSimulator
from ecs_rollback_sandbox.ecs_simulator import EcsSimulator
from ecs_rollback_sandbox.emulator import ACCOUNT, Emulator
from ecs_rollback_sandbox.eventbridge import EventSource
from ecs_rollback_sandbox.router import Route, Target, due_schedules, route_by_detail_type


@dataclass(frozen=True)
class Function:
    """One of the service's functions, as Lambda knows it."""

    name: str
    arn: str
    environment: Mapping[str, str]  # what the function reads its configuration from


Handler = Callable[[Any, Dependencies, Function], dict[str, Any]]


def _manual(event: Any, deps: Dependencies, function: Function) -> dict[str, Any]:
    # As Lambda calls it: a fresh request id per invocation, the function's own ARN.
    return manual_rollback.handle(event, deps, request_id=str(uuid.uuid4()), function_arn=function.arn)


HANDLERS: dict[str, Handler] = {
    "deployment_events": lambda event, deps, _: deployment_events.handle(event, deps),
    "alarm_events": lambda event, deps, _: alarm_events.handle(event, deps),
    "manual_rollback": _manual,
    "bake_timer": lambda event, deps, _: bake_timer.handle(event, deps),
    "image_events": lambda event, deps, _: image_events.handle(event, deps),
    "notifier": lambda event, deps, _: notifier.handle(event, deps),
    "reconciler": lambda event, deps, _: reconciler.handle(event, deps),
    # ECS invokes it as a deployment lifecycle hook (``World.lifecycle_hook``).
    "release_gate": lambda event, deps, _: release_gate.handle(event, deps),
}
# Lambda's event source mapping on the ledger's stream invokes the notifier with these only.
OUTBOX_PREFIX = "OUT#"


@dataclass(frozen=True)
class Resources:
    """What a provisioner made in the emulator: everything the world needs to know of it."""

    functions: Mapping[str, Function]  # by handler module (a HANDLERS key)
    inbox_url: str  # an SQS queue subscribed to the notification topic
    schedule_group: str  # where the functions create their bake timers
    route: Route  # the (rule, function) pairs EventBridge invokes for an event
    chat_inbox_url: str | None = None  # an SQS queue subscribed to the chat topic, when there is one


@dataclass(frozen=True)
class Delivery:
    """One invocation of a function, as the timeline tells it."""

    via: str  # "rule <name>", "schedule", "invoke", "lambda Invoke", "lifecycle hook",
    # or "no rule matched"
    function: str | None  # handler module (HANDLERS key); None when nothing was invoked
    event: Any
    result: dict[str, Any]


Observer = Callable[[Delivery], None]


@dataclass
class World:
    emulator: Emulator
    clock: ManualClock
    resources: Resources
    observers: list[Observer] = field(default_factory=list)
    delivered: list[tuple[str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    calls: list[str] = field(
        default_factory=list
    )  # every AWS API call the functions made, "ecs.UpdateService"
    # (len(calls) when it answered, "ecs.UpdateService"): every call AWS answered with success
    answered: list[tuple[int, str]] = field(default_factory=list, repr=False)
    _deps: dict[str, Dependencies] = field(default_factory=dict, repr=False)
    auto_publish: bool = True  # play the stream's event source mapping after every invocation
    stream_failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        functions = self.resources.functions
        missing = set(HANDLERS) - set(functions)
        if missing:
            raise RuntimeError(f"no function was provisioned for {sorted(missing)}")
        # Each function's configuration, read from its environment as the function reads it.
        self.settings: dict[str, Settings] = {
            key: from_environment(function.environment) for key, function in functions.items()
        }
        self._by_name = {function.name: key for key, function in functions.items()}
        self._by_arn = {function.arn: key for key, function in functions.items()}
        self.ecs = EcsSimulator(self.emulator, self.clock)
        self._stream = StreamReader(self.emulator, self.settings["deployment_events"].ledger_table_name)
        self.cloudwatch = CloudWatchSimulator(self.emulator, self.clock)

    @classmethod
    def direct(cls, emulator: Emulator, clock: ManualClock, **options: Any) -> World:
        """A world on resources created through the APIs (``provision_direct``'s options)."""
        return cls(emulator, clock, provision_direct(emulator, **options))

    @property
    def functions(self) -> Mapping[str, Function]:
        return self.resources.functions

    def function_for(self, arn_or_name: str) -> str:
        """The handler of the function an ARN (or a name, as Lambda accepts) names."""
        name = arn_or_name.split(":function:", 1)[-1].split(":", 1)[0]
        key = self._by_arn.get(arn_or_name) or self._by_name.get(name)
        if key is None:
            raise LookupError(f"{arn_or_name} is not a provisioned function")
        return key

    # -- each function as Lambda would run it ---------------------------------------------

    def deps(self, function: str = "deployment_events") -> Dependencies:
        """Each function's dependencies, built once as a warm Lambda container keeps them."""
        if function not in self._deps:
            self._deps[function] = self._build(function)
        return self._deps[function]

    def _build(self, function: str) -> Dependencies:
        session = self.emulator.session()
        session.events.register("before-call.*.*", self._record_call)
        session.events.register("after-call.*.*", self._record_answer)
        return build(
            self.settings[function],
            session=session,
            endpoint_url=self.emulator.endpoint,
            clock=self.clock,
            # The bake timer re-schedules itself: Lambda gives it its own ARN (invoked_function_arn).
            bake_timer_target_arn=self.functions[function].arn if function == "bake_timer" else None,
        )

    def _record_call(self, event_name: str, **_: Any) -> None:
        _phase, service, operation = event_name.split(".", 2)
        self.calls.append(f"{service}.{operation}")

    def _record_answer(self, event_name: str, http_response: Any = None, **_: Any) -> None:
        if http_response is not None and http_response.status_code < 300:
            _phase, service, operation = event_name.split(".", 2)
            self.answered.append((len(self.calls), f"{service}.{operation}"))

    def calls_after_success(self, call: str) -> int:
        """How many times ``call`` was made after AWS had answered it with success once."""
        first = next((index for index, name in self.answered if name == call), None)
        return 0 if first is None else self.calls[first:].count(call)

    def count(self, call: str) -> int:
        return self.calls.count(call)

    def invoke(self, function: str, payload: Any, *, via: str = "invoke") -> dict[str, Any]:
        try:
            result = HANDLERS[function](payload, self.deps(function), self.functions[function])
        finally:
            if self.auto_publish and function != "notifier":
                self.publish_outbox()
        self.delivered.append((function, payload if isinstance(payload, dict) else {"raw": payload}, result))
        self._tell(Delivery(via, function, payload, result))
        return result

    # -- the ledger's stream and the notifier ---------------------------------------------

    def publish_outbox(self) -> dict[str, Any] | None:
        """What the stream's event source mapping does: the new outbox entries since the last read,
        in one batch, to the notifier. A batch the notifier fails on is left (as after the
        mapping's retries): the reconciler publishes it."""
        with self._stream.lock:  # one batch at a time per shard, as the mapping does
            return self._publish_batch()

    def _publish_batch(self) -> dict[str, Any] | None:
        records = [
            record
            for record in self._stream.read()
            if record.get("eventName") == "INSERT"
            and record.get("dynamodb", {})
            .get("NewImage", {})
            .get("sk", {})
            .get("S", "")
            .startswith(OUTBOX_PREFIX)
        ]
        if not records:
            return None
        try:
            return self.invoke("notifier", {"Records": records}, via="stream")
        except Exception as error:
            self.stream_failures.append(repr(error))
            return None

    def reconcile(self) -> dict[str, Any]:
        """The reconciler's schedule fires once."""
        return self.invoke(
            "reconciler", {"source": "aws.events", "detail-type": "Scheduled Event"}, via="schedule"
        )

    def lifecycle_hook(
        self, service: ServiceId, stage: str, *, hook_details: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """What ECS does at ``stage`` of the service's newest service deployment when its
        ``lifecycleHooks`` name the release gate: invoke it with the documented payload
        (``executionDetails`` naming the deployment's real target revision) and read its answer."""
        ecs = self.emulator.client("ecs")
        (newest,) = ecs.list_service_deployments(cluster=service.cluster, service=service.name, maxResults=1)[
            "serviceDeployments"
        ]
        payload: dict[str, Any] = {
            "executionId": str(uuid.uuid4()),
            "lifecycleStage": stage,
            "resourceArn": newest["serviceDeploymentArn"],
            "executionDetails": {
                "serviceArn": service.arn,
                "targetServiceRevisionArn": newest["targetServiceRevisionArn"],
                "testTrafficWeights": {},
                "productionTrafficWeights": {},
            },
        }
        if hook_details is not None:
            payload["hookDetails"] = dict(hook_details)
        return self.invoke("release_gate", payload, via="lifecycle hook")

    def manual(self, **request: Any) -> dict[str, Any]:
        request.setdefault("reason", "operator request in a test")
        request.setdefault("requested_by", "arn:aws:iam::123456789012:user/oncall")
        return self.invoke("manual_rollback", request)

    def _tell(self, delivery: Delivery) -> None:
        for observer in list(self.observers):
            observer(delivery)

    # -- EventBridge and Scheduler --------------------------------------------------------

    def targets(self, event: Mapping[str, Any]) -> list[Target]:
        return self.resources.route(event)

    def deliver(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """What EventBridge does with ``event``: every matching rule invokes its target.

        Returns the one function's answer (the rules never overlap), ``{"status": "no rule
        matched"}`` when the event is dropped, or every answer under ``results``.
        """
        targets = self.targets(event)
        if not targets:
            dropped = {"status": "no rule matched"}
            self._tell(Delivery("no rule matched", None, dict(event), dropped))
            return dropped
        results = [self.invoke(target.function, dict(event), via=f"rule {target.rule}") for target in targets]
        return results[0] if len(results) == 1 else {"status": "delivered", "results": results}

    def fire_timers(self) -> list[dict[str, Any]]:
        """Scheduler fires every due bake timer at the function its schedule names."""
        due = due_schedules(
            self.emulator.client("scheduler"), self.resources.schedule_group, self.clock.now()
        )
        return [
            self.invoke(self.function_for(schedule.target_arn), schedule.payload, via="schedule")
            for schedule in due
        ]

    # -- ECS's part -------------------------------------------------------------------------

    def run_ecs(self, *, complete: bool = True) -> list[dict[str, Any]]:
        """Let ECS act on every service whose task definition was changed by UpdateService."""
        results = []
        for service in self.ecs.pending_services():
            results.append(self.deliver(self.ecs.start_deployment(service)))
            if complete:
                results.append(self.deliver(self.ecs.complete(service)))
        return results

    def codedeploy_events(self) -> list[dict[str, Any]]:
        """The events CodeDeploy sends for its deployments that ended since the last call (not yet
        delivered: a test may deliver, lose or redeliver them)."""
        return codedeploy_deployments.state_change_events(
            self.ecs.account, self.emulator.region, self.clock.now()
        )

    def run_codedeploy(self) -> list[dict[str, Any]]:
        """Deliver CodeDeploy's events for its deployments that ended since the last call."""
        return [self.deliver(event) for event in self.codedeploy_events()]

    def deploy(
        self, service: ServiceId, task_definition_arn: str, *, complete: bool = True
    ) -> list[dict[str, Any]]:
        """What a deploy tool does (UpdateService), then ECS's part."""
        self.emulator.client("ecs").update_service(
            cluster=service.cluster, service=service.name, taskDefinition=task_definition_arn
        )
        return self.run_ecs(complete=complete)

    # -- reading what happened --------------------------------------------------------------

    @property
    def ledger(self) -> DynamoDBLedger:
        settings = self.settings["deployment_events"]
        return DynamoDBLedger(self.emulator.client("dynamodb"), settings.ledger_table_name)

    def notifications(self) -> list[dict[str, Any]]:
        """Every SNS message published so far (drained from the subscribed queue)."""
        return [
            {"subject": envelope.get("Subject"), "body": json.loads(envelope["Message"])}
            for envelope in self._drain(self.resources.inbox_url)
        ]

    def chat_notifications(self) -> list[dict[str, Any]]:
        """Every message published to the chat topic so far: Amazon Q Developer custom notifications."""
        assert self.resources.chat_inbox_url is not None, "provision the world with chat=True"
        return [json.loads(envelope["Message"]) for envelope in self._drain(self.resources.chat_inbox_url)]

    def _drain(self, queue_url: str) -> list[dict[str, Any]]:
        """The SNS envelopes in ``queue_url``, deleted as they are read."""
        sqs = self.emulator.client("sqs")
        envelopes: list[dict[str, Any]] = []
        while True:
            response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            batch = response.get("Messages", [])
            if not batch:
                return envelopes
            for message in batch:
                envelopes.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def service_task_definition(self, service: ServiceId) -> str:
        response = self.emulator.client("ecs").describe_services(
            cluster=service.cluster, services=[service.name]
        )
        return str(response["services"][0]["taskDefinition"])

    # -- images and revisions ----------------------------------------------------------------

    def push_image(self, repository: str, tag: str, *, content: str) -> str:
        """Push an image whose digest derives from ``content`` (the emulator hashes layer digests only)."""
        ecr = self.emulator.client("ecr")
        with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
            ecr.create_repository(repositoryName=repository)
        self._keep_image_tagged_by(repository, tag)
        layer = "sha256:" + hashlib.sha256(content.encode()).hexdigest()
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7023,
                "digest": layer,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 32654,
                    "digest": layer,
                }
            ],
        }
        response = ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)
        return str(response["image"]["imageId"]["imageDigest"])

    def delete_image(self, repository: str, digest: str) -> dict[str, Any]:
        """Delete an image (as a lifecycle rule would) and deliver the event ECR emits for it."""
        self.emulator.client("ecr").batch_delete_image(
            repositoryName=repository, imageIds=[{"imageDigest": digest}]
        )
        event = EventSource("aws.ecr", ACCOUNT, self.emulator.region).event(
            "ECR Image Action",
            {
                "result": "SUCCESS",
                "repository-name": repository,
                "image-digest": digest,
                "action-type": "DELETE",
            },
            resources=[],
            at=self.clock.now(),
        )
        return self.deliver(event)

    def _keep_image_tagged_by(self, repository: str, tag: str) -> None:
        """Real ECR keeps an image when its tag moves to another (it becomes untagged); the emulator
        deletes it. Give the old image a second tag first, so it survives as it would in ECR."""
        ecr = self.emulator.client("ecr")
        try:
            old = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": tag}])["images"]
        except ecr.exceptions.RepositoryNotFoundException:
            return
        if old:
            digest = old[0]["imageId"]["imageDigest"]
            ecr.put_image(
                repositoryName=repository,
                imageManifest=old[0]["imageManifest"],
                imageTag=f"kept-{digest[7:19]}",
            )

    def repository_uri(self, repository: str) -> str:
        return f"{ACCOUNT}.dkr.ecr.{self.emulator.region}.amazonaws.com/{repository}"

    def register(
        self, family: str, images: Mapping[str, str], *, tags: Mapping[str, str] | None = None
    ) -> str:
        """Register a revision with one container per (name, image)."""
        response = self.emulator.client("ecs").register_task_definition(
            family=family,
            networkMode="bridge",
            containerDefinitions=[
                {"name": name, "image": image, "memory": 256, "essential": True}
                for name, image in images.items()
            ],
            tags=[{"key": key, "value": value} for key, value in (tags or {}).items()],
        )
        return str(response["taskDefinition"]["taskDefinitionArn"])


# -- the direct provisioner -----------------------------------------------------------------------


def provision_direct(
    emulator: Emulator,
    *,
    scope: Mapping[str, Any] | None = None,
    alarm_links: list[dict[str, str]] | None = None,
    bake_time_seconds: int = contract.DEFAULT_BAKE_TIME_SECONDS,
    watch_window_seconds: int = contract.DEFAULT_WATCH_WINDOW_SECONDS,
    loop_guard_limit: int = contract.DEFAULT_LOOP_GUARD_LIMIT,
    dry_run: bool = False,
    dry_run_services: list[str] | None = None,
    rollback_known_bad_releases: bool = contract.DEFAULT_ROLLBACK_KNOWN_BAD_RELEASES,
    answer_pause_hooks: Mapping[str, Any] | None = None,
    groups: Mapping[str, list[str]] | None = None,
    members: Mapping[str, Any] | None = None,
    code_deploy: list[Mapping[str, str]] | None = None,
    notify_on: Collection[str] = contract.DEFAULT_NOTIFY_ON,
    chat: bool = False,
    name: str = "ledger",
) -> Resources:
    """The ledger table, topic, inbox, schedule group and dead-letter queue created through the
    APIs, and every function's environment written by the contract as the construct writes it;
    routing by ``detail-type`` (the stack's patterns are the end-to-end tests' business)."""
    emulator.client("dynamodb").create_table(**table_definition(name))
    topic_arn = emulator.client("sns").create_topic(Name=f"{name}-notifications")["TopicArn"]
    inbox_url = subscribe_inbox(emulator, topic_arn, f"{name}-inbox")
    chat_topic_arn = emulator.client("sns").create_topic(Name=f"{name}-chat")["TopicArn"] if chat else None
    chat_inbox_url = (
        subscribe_inbox(emulator, chat_topic_arn, f"{name}-chat-inbox") if chat_topic_arn else None
    )
    emulator.client("scheduler").create_schedule_group(Name=f"{name}-bake")
    sqs = emulator.client("sqs")
    dead_letters = sqs.create_queue(QueueName=f"{name}-bake-dead-letters")["QueueUrl"]

    def arn(key: str) -> str:
        return f"arn:aws:lambda:{emulator.region}:{ACCOUNT}:function:{name}-{key.replace('_', '-')}"

    environment = to_environment(
        Settings(
            home_account=ACCOUNT,
            home_region=emulator.region,
            ledger_table_name=name,
            notification_topic_arn=topic_arn,
            notify_on=frozenset(NoticeKind(kind) for kind in notify_on),
            chat_topic_arn=chat_topic_arn,
            scope=Scope.model_validate(scope or {"clusters": ["prod"]}),
            alarm_links=tuple(AlarmLink.model_validate(link) for link in alarm_links or []),
            bake_time_seconds=bake_time_seconds,
            watch_window_seconds=watch_window_seconds,
            loop_guard_limit=loop_guard_limit,
            loop_guard_period_seconds=contract.DEFAULT_LOOP_GUARD_PERIOD_SECONDS,
            lock_ttl_seconds=contract.DEFAULT_LOCK_TTL_SECONDS,
            lease_seconds=contract.DEFAULT_LEASE_SECONDS,
            dry_run=dry_run,
            dry_run_services=tuple(dry_run_services or ()),
            rollback_known_bad_releases=rollback_known_bad_releases,
            answer_pause_hooks=Scope.model_validate(answer_pause_hooks) if answer_pause_hooks else None,
            bake_timer_function_arn=arn("bake_timer"),
            bake_timer_role_arn=f"arn:aws:iam::{ACCOUNT}:role/{name}-bake-timer-scheduler",
            bake_timer_dead_letter_arn=queue_arn(emulator, dead_letters),
            schedule_group_name=f"{name}-bake",
            groups=tuple(Group(name=key, services=tuple(refs)) for key, refs in (groups or {}).items()),
            members=Members.model_validate(members) if members else None,
            code_deploy=tuple(CodeDeployGroup.model_validate(group) for group in code_deploy)
            if code_deploy
            else None,
        )
    )
    functions = {key: Function(arn(key).rsplit(":", 1)[1], arn(key), environment) for key in HANDLERS}
    return Resources(functions, inbox_url, f"{name}-bake", route_by_detail_type, chat_inbox_url)


class StreamReader:
    """Reads the ledger table's stream from where it was created, shard by shard, as Lambda's
    event source mapping does (records in order, each once)."""

    def __init__(self, emulator: Emulator, table_name: str) -> None:
        self._client = emulator.client("dynamodbstreams")
        self._table = table_name
        self._iterators: dict[str, str | None] = {}
        self.lock = threading.RLock()

    def read(self) -> list[dict[str, Any]]:
        streams = self._client.list_streams(TableName=self._table).get("Streams", [])
        records: list[dict[str, Any]] = []
        for stream in streams:
            arn = stream["StreamArn"]
            shards = self._client.describe_stream(StreamArn=arn)["StreamDescription"].get("Shards", [])
            for shard in shards:
                shard_id = shard["ShardId"]
                iterator = (
                    self._iterators.get(shard_id)
                    or self._client.get_shard_iterator(
                        StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                    )["ShardIterator"]
                )
                for _page in range(1000):  # bounded: a page is up to 1,000 records
                    response = self._client.get_records(ShardIterator=iterator, Limit=1000)
                    batch = response.get("Records", [])
                    records += [_as_lambda_record(record, arn) for record in batch]
                    iterator = response.get("NextShardIterator") or iterator
                    if not batch:
                        break
                self._iterators[shard_id] = iterator
        return records


def _as_lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda hands it over: JSON, the creation time in epoch seconds."""
    image = dict(record.get("dynamodb", {}))
    created = image.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        image["ApproximateCreationDateTime"] = int(created.timestamp())
    return {**record, "dynamodb": image, "eventSourceARN": stream_arn}


def queue_arn(emulator: Emulator, queue_url: str) -> str:
    attributes = emulator.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def subscribe_inbox(emulator: Emulator, topic_arn: str, queue_name: str) -> str:
    """An SQS queue subscribed to the notification topic (SNS's JSON envelope kept); its URL."""
    queue_url = str(emulator.client("sqs").create_queue(QueueName=queue_name)["QueueUrl"])
    emulator.client("sns").subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn(emulator, queue_url)
    )
    return queue_url
