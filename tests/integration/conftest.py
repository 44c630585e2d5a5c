"""Integration fixtures: the handlers against the emulator over HTTP, ECS played by the harness."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from ecs_rollback.domain.model import RevisionId, ServiceId
from ecs_rollback_sandbox.world import World

SHA_V1 = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
SHA_V2 = "2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e"
SHA_V3 = "3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f"


@dataclass
class Service:
    """A service on the emulator, and helpers that play one deploy tool's part."""

    world: World
    id: ServiceId
    repository: str
    revisions: dict[str, str]
    alarm: str

    def revision(
        self, label: str, *, sha: str | None = None, content: str | None = None, pinned: bool = False
    ) -> str:
        """Push an image for ``label`` and register a revision naming it (by git-SHA tag, or by digest)."""
        tag = sha[:12] if sha else label
        digest = self.world.push_image(self.id.name, tag, content=content or f"{self.id.name}-{label}")
        uri = self.world.repository_uri(self.id.name)
        image = f"{uri}@{digest}" if pinned else f"{uri}:{tag}"
        # A pinned image carries no tag to read a commit from: the deploy tool tags the revision.
        tags = (
            {"ecs-rollback:git-sha": sha, "ecs-rollback:commit-message": f"release {label}"}
            if sha and pinned
            else None
        )
        arn = self.world.register(self.id.name, {"app": image}, tags=tags)
        self.revisions[label] = arn
        return arn

    def deploy(self, label: str, *, complete: bool = True) -> list[dict[str, Any]]:
        self.world.clock.advance(timedelta(minutes=1))
        return self.world.deploy(self.id, self.revisions[label], complete=complete)

    def bake(self) -> list[dict[str, Any]]:
        """Let the bake time pass and the timers fire."""
        self.world.clock.advance(timedelta(seconds=self.world.settings["bake_timer"].bake_time_seconds + 1))
        return self.world.fire_timers()

    def alarm_fires(self, *, propagate_tags: bool = False) -> dict[str, Any]:
        self.world.cloudwatch.set_state(self.alarm, "OK")
        return self.world.cloudwatch.set_state(self.alarm, "ALARM", propagate_tags=propagate_tags)

    @property
    def task_definition(self) -> str:
        return self.world.service_task_definition(self.id)

    def status_of(self, label: str) -> str:
        deployment = self.world.ledger.find_revision(self.id, RevisionId.from_arn(self.revisions[label]))
        assert deployment is not None, f"{label} is not in the ledger"
        return deployment.status.value


@pytest.fixture
def make_service() -> Callable[..., Service]:
    """Factory: a running service on v1 with a CPU alarm linked by its ECS dimensions."""

    def make(
        world: World, cluster: str = "prod", name: str = "web", *, pinned: bool = False, **options: Any
    ) -> Service:
        service = Service(
            world, world.ecs.service_id(cluster, name), world.repository_uri(name), {}, f"{name}-cpu-high"
        )
        v1 = service.revision("v1", sha=SHA_V1, pinned=pinned)
        world.ecs.create_service(cluster, name, v1, **options)
        world.cloudwatch.create_service_alarm(service.alarm, cluster, name)
        return service

    return make


@pytest.fixture
def bad_release(
    make_world: Callable[..., Any], make_service: Callable[..., Service]
) -> tuple[World, Service]:
    """v1 running and GOOD, v2 deployed and COMPLETED (its events delivered, its notices read), two
    minutes on: its alarm is about to fire."""
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.deploy("v2")
    world.notifications()
    world.clock.advance(timedelta(minutes=2))
    return world, web


def redeploy_known_bad(world: World, web: Service) -> None:
    """v2 deployed, its alarm fired, rolled back (its release recorded BAD); then, half an hour
    later, v2 deployed again: ECS has started that deployment (the gate's or a hook's moment)."""
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.deploy("v2")
    world.clock.advance(timedelta(minutes=3))
    world.deliver(web.alarm_fires())
    world.run_ecs()
    world.cloudwatch.set_state(web.alarm, "OK")
    assert web.status_of("v2") == "ROLLED_BACK"
    world.clock.advance(timedelta(minutes=30))
    world.emulator.client("ecs").update_service(
        cluster=web.id.cluster, service=web.id.name, taskDefinition=web.revisions["v2"]
    )
    world.ecs.start_deployment(web.id)
