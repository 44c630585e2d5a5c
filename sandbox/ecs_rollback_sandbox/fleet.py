"""The demo's services on a provisioned ``World``, and what their teams, ECS and CloudWatch do to
them, each step told on a ``Timeline``: releases whose image tag moves, deployments ECS plays out,
alarms, bake timers. The story (``demo``), the end-to-end tests and ``--keep``'s ECS player
(``serve``) share them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ecs_rollback.domain.gitsha import COMMIT_MESSAGE_TAG, GIT_SHA_TAG
from ecs_rollback.domain.model import Deployment, ImageReference, RevisionId, ServiceId
from ecs_rollback_sandbox.stack import CLUSTER, DIMENSION_ALARM, LINKED_ALARM, SERVICE
from ecs_rollback_sandbox.timeline import Timeline, short_digest, short_image
from ecs_rollback_sandbox.world import World

DEPLOYMENT_TIME = timedelta(minutes=2)  # how long ECS takes to reach steady state, on the simulated clock
BLUE_GREEN_BAKE_MINUTES = (
    10  # ECS's own bake (deploymentConfiguration.bakeTimeInMinutes) in the blue/green story
)


@dataclass(frozen=True)
class Release:
    """One build of the demo application: its commit and the image content (hence its digest)."""

    label: str
    git_sha: str
    message: str
    content: str


# -- ECS's part -----------------------------------------------------------------------------------


def play_ecs(
    world: World, timeline: Timeline, *, complete: bool = True, duration: timedelta = DEPLOYMENT_TIME
) -> list[dict[str, Any]]:
    """ECS's part after ``UpdateService``: start each pending deployment (and, ``duration`` later,
    finish it), emitting the events ECS would, each routed as EventBridge would."""
    results: list[dict[str, Any]] = []
    for service, started in start_pending(world, timeline):
        results.append(started)
        if complete:
            world.clock.advance(duration)
            results.append(finish_deployment(world, timeline, service))
    return results


def start_pending(world: World, timeline: Timeline) -> list[tuple[ServiceId, dict[str, Any]]]:
    """ECS starts a deployment on every service whose task definition ``UpdateService`` changed."""
    return [
        (service, _started(world, timeline, service, world.ecs.start_deployment(service)))
        for service in world.ecs.pending_services()
    ]


def _started(world: World, timeline: Timeline, service: ServiceId, event: dict[str, Any]) -> dict[str, Any]:
    task_definition = world.service_task_definition(service)
    timeline.say(
        "ecs",
        f"{service.cluster}/{service.name}: deployment of {revision_of(task_definition)} IN_PROGRESS; "
        f"tasks run {running_images(world, service, task_definition)}",
        event=event,
    )
    return world.deliver(event)


def finish_deployment(world: World, timeline: Timeline, service: ServiceId) -> dict[str, Any]:
    """The service's PRIMARY deployment reaches steady state."""
    event = world.ecs.complete(service)
    revision = revision_of(world.service_task_definition(service))
    timeline.say("ecs", f"{service.cluster}/{service.name}: {revision} COMPLETED (steady state)", event=event)
    return world.deliver(event)


def revision_of(task_definition_arn: str) -> str:
    return str(RevisionId.from_arn(task_definition_arn))


def running_images(world: World, service: ServiceId, task_definition_arn: str) -> str:
    """What the tasks ECS started for ``task_definition_arn`` run: each image and its digest, as
    ECS reports them (resolved at start, or kept from the revision ECS rolls back to)."""
    definition = world.emulator.client("ecs").describe_task_definition(taskDefinition=task_definition_arn)
    started = _task_digests(world, service, task_definition_arn, by_container=True)
    parts = []
    for container in definition["taskDefinition"]["containerDefinitions"]:
        image = container["image"]
        digest = started.get(container["name"]) or world.ecs.resolve(image)
        shown = short_image(image)
        parts.append(shown if ImageReference.parse(image).digest else f"{shown} = {short_digest(digest)}")
    return ", ".join(parts)


def _task_digests(
    world: World, service: ServiceId, task_definition_arn: str | None, *, by_container: bool = False
) -> dict[str, str]:
    """Digest by container name (or by digest itself) from the service's running tasks of
    ``task_definition_arn`` (None: all). The emulator's ListTasks ignores ``serviceName``; the
    task's ``group`` names its service."""
    ecs = world.emulator.client("ecs")
    arns = ecs.list_tasks(cluster=service.cluster, desiredStatus="RUNNING")["taskArns"]
    tasks = ecs.describe_tasks(cluster=service.cluster, tasks=arns)["tasks"] if arns else []
    return {
        (container.get("name", "") if by_container else container["imageDigest"]): container["imageDigest"]
        for task in tasks
        if task.get("group") == f"service:{service.name}"
        and task_definition_arn in (None, task.get("taskDefinitionArn"))
        for container in task.get("containers", [])
        if container.get("imageDigest")
    }


# -- one service ----------------------------------------------------------------------------------


@dataclass
class DemoService:
    """One ECS service of the demo, and what its team and its alarms do to it."""

    world: World
    timeline: Timeline
    id: ServiceId
    revisions: dict[str, str] = field(default_factory=dict)  # release label -> task definition ARN
    digests: dict[str, str] = field(default_factory=dict)  # release label -> digest pushed

    @classmethod
    def create(
        cls,
        world: World,
        timeline: Timeline,
        first: Release,
        *,
        cluster: str = CLUSTER,
        name: str = SERVICE,
        desired: int = 2,
        circuit_breaker_rollback: bool = False,
        alarms: bool = True,
        strategy: str = "ROLLING",
    ) -> DemoService:
        """The repository, the first revision, the service, its alarms; then ECS's first deployment."""
        service = cls(world, timeline, world.ecs.service_id(cluster, name))
        arn = service.release(first)
        baking = strategy != "ROLLING"
        world.ecs.create_service(
            cluster,
            name,
            arn,
            desired=desired,
            circuit_breaker_rollback=circuit_breaker_rollback,
            strategy=strategy,
            bake_time_minutes=BLUE_GREEN_BAKE_MINUTES if baking else None,
        )
        timeline.say(
            "you",
            f"CreateService {cluster}/{name}: {revision_of(arn)}, desired {desired}"
            + (", circuit breaker with rollback" if circuit_breaker_rollback else "")
            + (f", {strategy} with {BLUE_GREEN_BAKE_MINUTES} min bake" if baking else ""),
        )
        if alarms:
            world.cloudwatch.create_plain_alarm(service.linked_alarm)
            world.cloudwatch.create_service_alarm(service.dimension_alarm, cluster, name)
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
        _started(self.world, self.timeline, self.id, self.world.ecs.first_deployment(self.id))
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

    def shift_traffic(self) -> None:
        """Blue/green: the new (green) revision takes the production traffic; ECS bakes it."""
        self.world.ecs.shift_traffic(self.id)
        self.timeline.say(
            "ecs",
            f"{self.id.cluster}/{self.id.name}: {revision_of(self.task_definition)} takes 100% of production "
            f"traffic and bakes for {BLUE_GREEN_BAKE_MINUTES} min; the blue revision stays up",
        )

    def running_digests(self, task_definition_arn: str | None = None) -> set[str]:
        """The digests the service's running tasks (of ``task_definition_arn``, or all) report."""
        return set(_task_digests(self.world, self.id, task_definition_arn).values())

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
        return show_notifications(self.world, self.timeline)


def show_notifications(world: World, timeline: Timeline) -> list[dict[str, Any]]:
    """Drain the inbox onto the timeline, one ``sns`` line per notification."""
    notes = world.notifications()
    for note in notes:
        timeline.say("sns", str(note["subject"]), body=note["body"])
    return notes
