"""The sandbox's story and the pieces the end-to-end tests share with it.

A service on a deployed stack (``StackWorld``), narrated on a ``Timeline``: releases whose image
tag moves, deployments ECS plays out, alarms, bake timers. The story (``run_story``) is the
command's default; ``serving`` keeps the emulator up for the operator CLI, playing ECS for every
``UpdateService`` it sees.
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from ecs_rollback.domain.gitsha import COMMIT_MESSAGE_TAG, GIT_SHA_TAG
from ecs_rollback.domain.model import Deployment, ImageReference, RevisionId, ServiceId
from ecs_rollback_sandbox.clock import ManualClock
from ecs_rollback_sandbox.deploy import SynthesizedApp
from ecs_rollback_sandbox.emulator import Emulator
from ecs_rollback_sandbox.lambda_endpoint import LambdaEndpoint
from ecs_rollback_sandbox.stack import (
    CLUSTER,
    DIMENSION_ALARM,
    LINKED_ALARM,
    SERVICE,
    SandboxStack,
    StackWorld,
    deploy,
    synthesize,
)
from ecs_rollback_sandbox.timeline import Timeline, short_digest, short_image


class SandboxError(RuntimeError):
    """A step of the sandbox failed; the message is the one line the command prints."""


@dataclass(frozen=True)
class Release:
    """One build of the demo application: its commit and the image content (hence its digest)."""

    label: str
    git_sha: str
    message: str
    content: str


V1 = Release(
    "v1", "3f2c1ab9e0d44c7b8a61f5e2d9c0b7a4e3f21d08", "Add the checkout page", "web build 1: checkout"
)
V2 = Release(
    "v2", "8c41d7e2b59a0f36c1e8d4b7a2f09e6d5c3b1a47", "Cache product pages", "web build 2: page cache"
)
V3 = Release("v3", "5d9e0b3c7a1f48e2b6c4d0a9f3e7b1c5d8a2e6f0", "Speed up search", "web build 3: search")
STORY_LENGTH = timedelta(minutes=55)  # simulated time the story covers, so the command can end it "now"
DEPLOYMENT_TIME = timedelta(minutes=2)  # how long ECS takes to reach steady state, on the simulated clock


# -- the harness on a deployed stack ----------------------------------------------------------------


def build_world(
    emulator: Emulator, app: SynthesizedApp, clock: ManualClock, timeline: Timeline
) -> tuple[StackWorld, SandboxStack]:
    """Deploy ``app`` into ``emulator`` and a ``World`` of its functions, narrated on ``timeline``."""
    deployed = deploy(emulator, app)
    world = StackWorld.from_stack(emulator, clock, deployed)
    world.observers.append(timeline.observe)
    return world, deployed


def play_ecs(
    world: StackWorld, timeline: Timeline, *, complete: bool = True, duration: timedelta = DEPLOYMENT_TIME
) -> list[dict[str, Any]]:
    """ECS's part after ``UpdateService``: start each pending deployment (and, ``duration`` later,
    finish it), emitting the events ECS would, each routed by the deployed rules."""
    results: list[dict[str, Any]] = []
    for service, started in start_pending(world, timeline):
        results.append(started)
        if complete:
            world.clock.advance(duration)
            results.append(finish_deployment(world, timeline, service))
    return results


def start_pending(world: StackWorld, timeline: Timeline) -> list[tuple[ServiceId, dict[str, Any]]]:
    """ECS starts a deployment on every service whose task definition ``UpdateService`` changed."""
    started = []
    for key, raw in list(world.ecs._backend.services.items()):
        cluster, name = key.split(":", 1)
        service = world.ecs.service_id(cluster, name)
        if raw.status != "ACTIVE" or not world.ecs.pending_update(service):
            continue
        event = world.ecs.start_deployment(service)
        timeline.say(
            "ecs",
            f"{cluster}/{name}: deployment of {revision_of(raw.task_definition)} IN_PROGRESS; "
            f"tasks run {running_images(world, raw.task_definition)}",
            event=event,
        )
        started.append((service, world.deliver(event)))
    return started


def finish_deployment(world: StackWorld, timeline: Timeline, service: ServiceId) -> dict[str, Any]:
    """The service's PRIMARY deployment reaches steady state."""
    event = world.ecs.complete(service)
    revision = revision_of(world.service_task_definition(service))
    timeline.say("ecs", f"{service.cluster}/{service.name}: {revision} COMPLETED (steady state)", event=event)
    return world.deliver(event)


def revision_of(task_definition_arn: str) -> str:
    return str(RevisionId.from_arn(task_definition_arn))


def running_images(world: StackWorld, task_definition_arn: str) -> str:
    """What ECS resolves each container's image to when it starts tasks, right now."""
    definition = world.emulator.client("ecs").describe_task_definition(taskDefinition=task_definition_arn)
    parts = []
    for container in definition["taskDefinition"]["containerDefinitions"]:
        image = container["image"]
        digest = world.ecs.resolve(image)
        shown = short_image(image)
        parts.append(shown if ImageReference.parse(image).digest else f"{shown} = {short_digest(digest)}")
    return ", ".join(parts)


@dataclass
class DemoService:
    """One ECS service of the demo, and what its team and its alarms do to it."""

    world: StackWorld
    timeline: Timeline
    id: ServiceId
    revisions: dict[str, str] = field(default_factory=dict)  # release label -> task definition ARN
    digests: dict[str, str] = field(default_factory=dict)  # release label -> digest pushed

    @classmethod
    def create(
        cls,
        world: StackWorld,
        timeline: Timeline,
        first: Release,
        *,
        cluster: str = CLUSTER,
        name: str = SERVICE,
        desired: int = 2,
        circuit_breaker_rollback: bool = False,
        alarms: bool = True,
    ) -> DemoService:
        """The repository, the first revision, the service, its alarms; then ECS's first deployment."""
        service = cls(world, timeline, world.ecs.service_id(cluster, name))
        arn = service.release(first)
        world.ecs.create_service(
            cluster, name, arn, desired=desired, circuit_breaker_rollback=circuit_breaker_rollback
        )
        timeline.say(
            "you",
            f"CreateService {cluster}/{name}: {revision_of(arn)}, desired {desired}"
            + (", circuit breaker with rollback" if circuit_breaker_rollback else ""),
        )
        if alarms:
            world.cloudwatch.create_plain_alarm(LINKED_ALARM if name == SERVICE else f"{name}-5xx-rate")
            world.cloudwatch.create_service_alarm(
                DIMENSION_ALARM if name == SERVICE else f"{name}-cpu-high", cluster, name
            )
            timeline.say(
                "cloudwatch",
                f"alarms {service.linked_alarm} (linked by the stack's alarmLinks) and "
                f"{service.dimension_alarm} (ClusterName/ServiceName dimensions)",
            )
        service._play_first_deployment()
        return service

    @property
    def linked_alarm(self) -> str:
        return LINKED_ALARM if self.id.name == SERVICE else f"{self.id.name}-5xx-rate"

    @property
    def dimension_alarm(self) -> str:
        return DIMENSION_ALARM if self.id.name == SERVICE else f"{self.id.name}-cpu-high"

    def _play_first_deployment(self) -> None:
        """CreateService starts a deployment too, and ECS reports it like any other."""
        ecs = self.world.ecs
        raw = ecs._service(self.id)
        first = raw.deployments[0]
        first.update(rolloutState="IN_PROGRESS", runningCount=0, pendingCount=raw.desired_count)
        event = ecs.deployment_event(
            self.id,
            "SERVICE_DEPLOYMENT_IN_PROGRESS",
            first["id"],
            f"ECS deployment {first['id']} in progress.",
        )
        self.timeline.say(
            "ecs",
            f"{self.id.cluster}/{self.id.name}: deployment of {revision_of(raw.task_definition)} IN_PROGRESS; "
            f"tasks run {running_images(self.world, raw.task_definition)}",
            event=event,
        )
        self.world.deliver(event)
        self.world.clock.advance(DEPLOYMENT_TIME)
        finish_deployment(self.world, self.timeline, self.id)

    # -- the team -------------------------------------------------------------------------------

    @property
    def repository_uri(self) -> str:
        return self.world.repository_uri(self.id.name)

    def push(self, release: Release, tag: str = "latest") -> str:
        previous = self.tag_digest(tag)
        digest = self.world.push_image(self.id.name, tag, content=release.content)
        self.digests[release.label] = digest
        moved = f" (the tag moved from {short_digest(previous)})" if previous and previous != digest else ""
        self.timeline.say(
            "ecr", f"push {self.id.name}:{tag} = {short_digest(digest)}{moved}", digest=digest, tag=tag
        )
        return digest

    def release(self, release: Release, tag: str = "latest") -> str:
        """Push the build under ``tag`` and register a revision naming ``<repo>:<tag>``."""
        self.push(release, tag)
        image = f"{self.repository_uri}:{tag}"
        arn = self.world.register(
            self.id.name,
            {"app": image},
            tags={GIT_SHA_TAG: release.git_sha, COMMIT_MESSAGE_TAG: release.message},
        )
        self.revisions[release.label] = arn
        self.timeline.say(
            "you",
            f"RegisterTaskDefinition {revision_of(arn)}: image {short_image(image)}, "
            f"commit {release.git_sha[:7]} {release.message!r}",
            task_definition_arn=arn,
        )
        return arn

    def deploy(self, label: str, *, complete: bool = True) -> list[dict[str, Any]]:
        """What a deploy tool does (``UpdateService``), then ECS's part."""
        self.world.clock.advance(timedelta(minutes=1))
        arn = self.revisions[label]
        self.world.emulator.client("ecs").update_service(
            cluster=self.id.cluster, service=self.id.name, taskDefinition=arn
        )
        self.timeline.say("you", f"UpdateService {self.id.cluster}/{self.id.name} -> {revision_of(arn)}")
        return play_ecs(self.world, self.timeline, complete=complete)

    def fail(self) -> dict[str, Any]:
        """ECS gives up on the deployment in progress (circuit breaker without rollback)."""
        event = self.world.ecs.fail(self.id)
        self.timeline.say(
            "ecs", f"{self.id.cluster}/{self.id.name}: deployment FAILED (circuit breaker)", event=event
        )
        return self.world.deliver(event)

    def fail_with_ecs_rollback(self) -> list[dict[str, Any]]:
        """The circuit breaker with rollback on: FAILED, then ECS starts its own rollback."""
        failed, rolling_back = self.world.ecs.fail_with_ecs_rollback(self.id)
        self.timeline.say("ecs", f"{self.id.cluster}/{self.id.name}: deployment FAILED", event=failed)
        results = [self.world.deliver(failed)]
        self.timeline.say(
            "ecs",
            f"{self.id.cluster}/{self.id.name}: ECS rolls back by itself ({rolling_back['detail']['reason']})",
        )
        results.append(self.world.deliver(rolling_back))
        return results

    def bake(self) -> list[dict[str, Any]]:
        """Let the bake time pass; Scheduler fires the timers that came due."""
        bake = self.world.settings["bake_timer"].bake_time_seconds
        self.world.clock.advance(timedelta(seconds=bake + 1))
        self.timeline.say("scheduler", f"{bake} s of bake time later, due bake timers fire")
        return self.world.fire_timers()

    def alarm(self, name: str | None = None, state: str = "ALARM") -> dict[str, Any]:
        """CloudWatch moves the alarm to ``state`` and emits the event, which EventBridge routes."""
        name = name or self.linked_alarm
        current = self.world.emulator.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][
            0
        ]
        if state == "ALARM" and current["StateValue"] == "ALARM":
            self.alarm(name, "OK")  # an alarm fires on a transition; re-arm it first
        event = self.world.cloudwatch.set_state(name, state)
        self.timeline.say(
            "cloudwatch", f"{name}: {event['detail']['previousState']['value']} -> {state}", event=event
        )
        return self.world.deliver(event)

    # -- reading the state ----------------------------------------------------------------------

    @property
    def task_definition(self) -> str:
        return self.world.service_task_definition(self.id)

    def images(self, task_definition_arn: str | None = None) -> list[str]:
        definition = self.world.emulator.client("ecs").describe_task_definition(
            taskDefinition=task_definition_arn or self.task_definition
        )
        return [container["image"] for container in definition["taskDefinition"]["containerDefinitions"]]

    def tag_digest(self, tag: str = "latest") -> str | None:
        """What the tag points to in ECR now (None before the first push)."""
        ecr = self.world.emulator.client("ecr")
        try:
            details = ecr.describe_images(repositoryName=self.id.name, imageIds=[{"imageTag": tag}])
        except (ecr.exceptions.RepositoryNotFoundException, ecr.exceptions.ImageNotFoundException):
            return None
        return str(details["imageDetails"][0]["imageDigest"])

    def recorded(self, label: str) -> Deployment:
        deployment = self.world.ledger.find_revision(self.id, RevisionId.from_arn(self.revisions[label]))
        assert deployment is not None, f"{label} is not in the ledger"
        return deployment

    def status_of(self, label: str) -> str:
        return self.recorded(label).status.value

    def show_inbox(self) -> list[dict[str, Any]]:
        """Drain the notifications the topic delivered to the inbox queue onto the timeline."""
        notes = self.world.notifications()
        for note in notes:
            self.timeline.say("sns", str(note["subject"]), body=note["body"])
        return notes


# -- the story ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoryResult:
    service: DemoService
    rolled_back_to: str  # task definition ARN the service runs after the rollback
    pinned_image: str
    rollback_calls: dict[str, int]
    notifications: list[dict[str, Any]]


def run_story(world: StackWorld, timeline: Timeline) -> StoryResult:
    """Good deploy, bad deploy with a moved ``latest``, alarm, rollback pinned to the recorded digest."""
    notifications: list[dict[str, Any]] = []

    timeline.heading("1. A service that deploys well")
    web = DemoService.create(world, timeline, V1)
    for result in web.bake():
        if result.get("status") != "promoted":
            raise SandboxError(f"web:1 was not promoted to GOOD after its bake time: {result}")

    timeline.heading("2. A bad release: `latest` moves to a new image")
    world.clock.advance(timedelta(minutes=20))
    web.release(V2)
    web.deploy("v2")

    timeline.heading("3. Four minutes later the 5xx alarm fires")
    world.clock.advance(timedelta(minutes=4))
    first_call = len(world.calls)
    web.alarm(LINKED_ALARM)
    calls = Counter(world.calls[first_call:])
    rolled_back_to = web.task_definition
    images = web.images(rolled_back_to)
    recorded = web.recorded("v1").images[0].digest
    pinned = f"{web.repository_uri}@{recorded}"
    if images != [pinned]:
        raise SandboxError(f"after the alarm the service runs {images}, not web:1's recorded digest {pinned}")
    timeline.say(
        "check",
        f"demo/web now runs {revision_of(rolled_back_to)}: image {short_image(pinned)}, web:1's recorded digest; "
        f"`latest` still points at {short_digest(web.tag_digest())} (the bad build)",
        task_definition_arn=rolled_back_to,
        image=pinned,
    )
    timeline.say(
        "check",
        f"the alarm function made {sum(calls.values())} AWS calls, {calls['ecs.UpdateService']} of them UpdateService: "
        + ", ".join(f"{name} x{count}" for name, count in sorted(calls.items())),
        calls=dict(calls),
    )
    notifications += web.show_inbox()

    timeline.heading("4. ECS plays the rollback; the alarm clears; the pinned copy bakes")
    play_ecs(world, timeline)
    world.clock.advance(timedelta(minutes=1))
    web.alarm(LINKED_ALARM, "OK")
    web.bake()
    notifications += web.show_inbox()

    history = world.ledger.history(web.id, limit=50).items
    rollbacks = world.ledger.rollbacks(web.id).items
    timeline.ledger(history, rollbacks)
    return StoryResult(web, rolled_back_to, pinned, dict(calls), notifications)


def prepare_for_operator(service: DemoService) -> None:
    """Before ``--keep`` serves: a good third release, so a manual rollback has somewhere to go."""
    service.timeline.heading("5. One more release, for you to roll back with the CLI")
    service.world.clock.advance(timedelta(minutes=1))
    service.release(V3, tag=V3.git_sha[:7])
    service.deploy("v3")


# -- owning the emulator ------------------------------------------------------------------------


def check_port(host: str, port: int) -> None:
    """Fail fast with a clear line: moto's threaded server waits forever if it cannot bind."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise SandboxError(
                f"port {port} on {host} is in use ({error.strerror}); pass another --port, or --port 0 for a free one"
            ) from error


@contextlib.contextmanager
def running_emulator(port: int = 0) -> Iterator[Emulator]:
    check_port("127.0.0.1", port)
    emulator = Emulator(port=port).start()
    try:
        yield emulator
    finally:
        emulator.stop()


@contextlib.contextmanager
def synthesized_app() -> Iterator[SynthesizedApp]:
    with tempfile.TemporaryDirectory(prefix="ecs-rollback-sandbox-") as outdir:
        yield synthesize(Path(outdir))


# -- keeping it running for the CLI ---------------------------------------------------------------


class EcsPlayer:
    """While the sandbox is kept, plays ECS for every ``UpdateService`` (the CLI's rollbacks and
    deploys): a deployment starts on the next tick and reaches steady state ``settle`` seconds
    later, so ``ecs-rollback deploy --wait`` sees it progress. It also fires due bake timers and
    shows new notifications. The simulated clock follows the wall clock from where the story
    left it."""

    def __init__(
        self,
        world: StackWorld,
        timeline: Timeline,
        lock: threading.RLock,
        *,
        interval: float = 0.25,
        settle: float = 2.0,
    ) -> None:
        self.world = world
        self.timeline = timeline
        self.lock = lock
        self.interval = interval
        self.settle = settle
        self.errors: list[BaseException] = []
        self._in_progress: dict[ServiceId, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-ecs-player", daemon=True)

    def start(self) -> EcsPlayer:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def tick(self) -> None:
        with self.lock:
            now = time.monotonic()
            for service, _ in start_pending(self.world, self.timeline):
                self._in_progress[service] = now
            for service, started in list(self._in_progress.items()):
                if now - started >= self.settle:
                    del self._in_progress[service]
                    finish_deployment(self.world, self.timeline, service)
            self.world.fire_timers()
            for note in self.world.notifications():
                self.timeline.say("sns", str(note["subject"]), body=note["body"])

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.interval):
            now = time.monotonic()
            self.world.clock.advance(timedelta(seconds=now - last))
            last = now
            try:
                self.tick()
            except Exception as error:  # keep serving; show what went wrong once per kind
                if not any(type(seen) is type(error) for seen in self.errors):
                    self.timeline.say("sandbox", f"playing ECS failed: {type(error).__name__}: {error}")
                self.errors.append(error)


@contextlib.contextmanager
def serving(world: StackWorld, timeline: Timeline) -> Iterator[LambdaEndpoint]:
    """The Lambda Invoke endpoint for every deployed function, and ECS played in the background."""
    lock = threading.RLock()
    assert world.router is not None

    def runner(key: str) -> Any:
        def run(payload: Any) -> Any:
            with lock:
                return world.invoke(key, payload, via="lambda Invoke")

        return run

    functions = {function.name: runner(key) for key, function in world.router.functions.items()}
    endpoint = LambdaEndpoint(functions, region=world.emulator.region)
    endpoint.start()
    player = EcsPlayer(world, timeline, lock).start()
    try:
        yield endpoint
    finally:
        player.stop()
        endpoint.stop()
