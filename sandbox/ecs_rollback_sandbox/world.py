"""One emulated AWS account with the rollback service in it: the harness the integration tests,
the end-to-end scenarios and the sandbox demo share.

``World.direct`` creates the ledger table, topic and schedule group straight through the APIs
(fast, for integration tests); the sandbox builds a ``World`` from the deployed CloudFormation
stack instead, with each function's own environment.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ecs_rollback.adapters.ledger_dynamodb import DynamoDBLedger
from ecs_rollback.composition import build
from ecs_rollback.config import AlarmLink, Scope, Settings
from ecs_rollback.contract import (
    DEFAULT_BAKE_TIME_SECONDS,
    DEFAULT_LOCK_TTL_SECONDS,
    DEFAULT_LOOP_GUARD_LIMIT,
    DEFAULT_LOOP_GUARD_PERIOD_SECONDS,
    DEFAULT_WATCH_WINDOW_SECONDS,
    table_definition,
)
from ecs_rollback.domain.model import ServiceId
from ecs_rollback.handlers import alarm_events, bake_timer, deployment_events, manual_rollback
from ecs_rollback.ports import Dependencies
from ecs_rollback_sandbox.clock import ManualClock
from ecs_rollback_sandbox.cloudwatch_simulator import CloudWatchSimulator
from ecs_rollback_sandbox.ecs_simulator import EcsSimulator
from ecs_rollback_sandbox.emulator import ACCOUNT, Emulator
from ecs_rollback_sandbox.scheduler_simulator import SchedulerSimulator

Handler = Callable[[Any, Dependencies], dict[str, Any]]


def _manual(event: Any, deps: Dependencies) -> dict[str, Any]:
    return manual_rollback.handle(
        event,
        deps,
        request_id=hashlib.sha256(json.dumps(event, sort_keys=True, default=str).encode()).hexdigest()[:32]
        + str(deps.clock.now().timestamp()),
        function_arn=f"arn:aws:lambda:{deps.settings.notification_topic_arn.split(':')[3]}:{ACCOUNT}:function:manual",
    )


HANDLERS: dict[str, Handler] = {
    "deployment_events": deployment_events.handle,
    "alarm_events": alarm_events.handle,
    "manual_rollback": _manual,
    "bake_timer": bake_timer.handle,
}


def route_by_detail_type(event: Mapping[str, Any]) -> str | None:
    return {
        "ECS Deployment State Change": "deployment_events",
        "CloudWatch Alarm State Change": "alarm_events",
    }.get(str(event.get("detail-type")))


@dataclass
class World:
    emulator: Emulator
    clock: ManualClock
    settings: dict[str, Settings]  # per function name: each function's own configuration
    queue_url: str
    route: Callable[[Mapping[str, Any]], str | None] = route_by_detail_type
    delivered: list[tuple[str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    calls: list[str] = field(
        default_factory=list
    )  # every AWS API call the functions made, "ecs.UpdateService"
    _deps: dict[str, Dependencies] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.ecs = EcsSimulator(self.emulator, self.clock)
        self.cloudwatch = CloudWatchSimulator(self.emulator, self.clock)
        group = self.settings["deployment_events"].schedule_group_name or "ecs-rollback-bake"
        self.scheduler = SchedulerSimulator(self.emulator, self.clock, group)

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def direct(
        cls,
        emulator: Emulator,
        clock: ManualClock,
        *,
        scope: Mapping[str, Any] | None = None,
        alarm_links: list[dict[str, str]] | None = None,
        bake_time_seconds: int = DEFAULT_BAKE_TIME_SECONDS,
        watch_window_seconds: int = DEFAULT_WATCH_WINDOW_SECONDS,
        loop_guard_limit: int = DEFAULT_LOOP_GUARD_LIMIT,
        dry_run: bool = False,
        dry_run_services: list[str] | None = None,
        name: str = "ledger",
    ) -> World:
        """Resources created through the APIs, configured as the stack would configure them."""
        dynamodb = emulator.client("dynamodb")
        dynamodb.create_table(**table_definition(name))
        topic_arn = emulator.client("sns").create_topic(Name=f"{name}-notifications")["TopicArn"]
        sqs = emulator.client("sqs")
        queue_url = sqs.create_queue(QueueName=f"{name}-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        emulator.client("sns").subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "false"}
        )
        emulator.client("scheduler").create_schedule_group(Name=f"{name}-bake")
        bake_dead_letters = sqs.create_queue(QueueName=f"{name}-bake-dead-letters")["QueueUrl"]
        bake_dead_letter_arn = sqs.get_queue_attributes(
            QueueUrl=bake_dead_letters, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        settings = Settings(
            ledger_table_name=name,
            notification_topic_arn=topic_arn,
            scope=Scope.model_validate(scope or {"clusters": ["prod"]}),
            alarm_links=tuple(AlarmLink.model_validate(link) for link in alarm_links or []),
            bake_time_seconds=bake_time_seconds,
            watch_window_seconds=watch_window_seconds,
            loop_guard_limit=loop_guard_limit,
            loop_guard_period_seconds=DEFAULT_LOOP_GUARD_PERIOD_SECONDS,
            lock_ttl_seconds=DEFAULT_LOCK_TTL_SECONDS,
            dry_run=dry_run,
            dry_run_services=tuple(dry_run_services or ()),
            bake_timer_function_arn=f"arn:aws:lambda:{emulator.region}:{ACCOUNT}:function:bake-timer",
            bake_timer_role_arn=f"arn:aws:iam::{ACCOUNT}:role/bake-timer-scheduler",
            bake_timer_dead_letter_arn=bake_dead_letter_arn,
            schedule_group_name=f"{name}-bake",
        )
        return cls(emulator, clock, dict.fromkeys(HANDLERS, settings), queue_url)

    # -- dependencies, as each function builds them ---------------------------------------

    def deps(self, function: str = "deployment_events") -> Dependencies:
        """Each function's dependencies, built once as a warm Lambda container keeps them."""
        if function not in self._deps:
            self._deps[function] = self._build(function)
        return self._deps[function]

    def _build(self, function: str) -> Dependencies:
        settings = self.settings[function]
        session = self.emulator.session()
        session.events.register("before-call.*.*", self._record_call)
        return build(
            settings,
            session=session,
            endpoint_url=self.emulator.endpoint,
            clock=self.clock,
            bake_timer_target_arn=settings.bake_timer_function_arn
            or f"arn:aws:lambda:{self.emulator.region}:{ACCOUNT}:function:bake-timer",
        )

    def _record_call(self, event_name: str, **_: Any) -> None:
        _phase, service, operation = event_name.split(".", 2)
        self.calls.append(f"{service}.{operation}")

    def count(self, call: str) -> int:
        return self.calls.count(call)

    @property
    def ledger(self) -> DynamoDBLedger:
        settings = self.settings["deployment_events"]
        return DynamoDBLedger(self.emulator.client("dynamodb"), settings.ledger_table_name)

    # -- delivering events ----------------------------------------------------------------

    def deliver(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Hand an event to the function EventBridge would route it to, as Lambda would."""
        function = self.route(event)
        if function is None:
            return {"status": "no rule matched"}
        return self.invoke(function, dict(event))

    def invoke(self, function: str, payload: Any) -> dict[str, Any]:
        result = HANDLERS[function](payload, self.deps(function))
        self.delivered.append((function, payload if isinstance(payload, dict) else {"raw": payload}, result))
        return result

    def manual(self, **request: Any) -> dict[str, Any]:
        request.setdefault("reason", "operator request in a test")
        request.setdefault("requested_by", "arn:aws:iam::123456789012:user/oncall")
        return self.invoke("manual_rollback", request)

    def run_ecs(self, *, complete: bool = True) -> list[dict[str, Any]]:
        """Let ECS act on every service whose task definition was changed by UpdateService."""
        results = []
        for key, raw in list(self.ecs._backend.services.items()):
            cluster, name = key.split(":", 1)
            service = self.ecs.service_id(cluster, name)
            if raw.status != "ACTIVE" or not self.ecs.pending_update(service):
                continue
            results.append(self.deliver(self.ecs.start_deployment(service)))
            if complete:
                results.append(self.deliver(self.ecs.complete(service)))
        return results

    def fire_timers(self) -> list[dict[str, Any]]:
        return [self.invoke("bake_timer", payload) for payload in self.scheduler.due()]

    # -- reading what happened --------------------------------------------------------------

    def notifications(self) -> list[dict[str, Any]]:
        """Every SNS message published so far (drained from the subscribed queue)."""
        sqs = self.emulator.client("sqs")
        messages: list[dict[str, Any]] = []
        while True:
            response = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            batch = response.get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                envelope = json.loads(message["Body"])
                messages.append({"subject": envelope.get("Subject"), "body": json.loads(envelope["Message"])})
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

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

    def deploy(
        self, service: ServiceId, task_definition_arn: str, *, complete: bool = True
    ) -> list[dict[str, Any]]:
        """What a deploy tool does (UpdateService), then ECS's part."""
        self.emulator.client("ecs").update_service(
            cluster=service.cluster, service=service.name, taskDefinition=task_definition_arn
        )
        return self.run_ecs(complete=complete)
