"""The sandbox's story, the command's default: a service on the deployed stack, narrated on a
``Timeline``. A good deploy; a bad one whose ``latest`` tag moved; the alarm; the automatic
rollback to the digest recorded for the good revision, not to what ``latest`` means now; the
notifications; the ledger. The pieces it is told with are in ``fleet`` (services, releases,
ECS's part); ``--keep`` serves the result (``serve``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ecs_rollback_sandbox.fleet import DemoService, Release, play_ecs, revision_of
from ecs_rollback_sandbox.stack import LINKED_ALARM
from ecs_rollback_sandbox.timeline import Timeline, short_digest, short_image
from ecs_rollback_sandbox.world import World


class SandboxError(RuntimeError):
    """A step of the sandbox failed; the message is the one line the command prints."""


V1 = Release(
    "v1", "3f2c1ab9e0d44c7b8a61f5e2d9c0b7a4e3f21d08", "Add the checkout page", "web build 1: checkout"
)
V2 = Release(
    "v2", "8c41d7e2b59a0f36c1e8d4b7a2f09e6d5c3b1a47", "Cache product pages", "web build 2: page cache"
)
V3 = Release("v3", "5d9e0b3c7a1f48e2b6c4d0a9f3e7b1c5d8a2e6f0", "Speed up search", "web build 3: search")
STORY_LENGTH = timedelta(minutes=55)  # simulated time the story covers, so the command can end it "now"


@dataclass(frozen=True)
class StoryResult:
    service: DemoService
    rolled_back_to: str  # task definition ARN the service runs after the rollback
    pinned_image: str
    rollback_calls: dict[str, int]
    notifications: list[dict[str, Any]]


def run_story(world: World, timeline: Timeline, *, strategy: str = "ROLLING") -> StoryResult:
    """Good deploy, bad deploy with a moved ``latest``, alarm, rollback pinned to the recorded digest.
    With ``strategy="BLUE_GREEN"`` the bad release alarms while ECS bakes it, and the rollback is
    ECS's own (``StopServiceDeployment``): the traffic goes back to the blue revision."""
    if strategy == "BLUE_GREEN":
        return _blue_green_story(world, timeline)
    notifications: list[dict[str, Any]] = []

    web = _good_start(world, timeline, strategy)

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
    state = world.ledger.load(web.id)
    good_v1 = web.recorded("v1").release
    if state is None or state.current is None or state.current.release != good_v1:
        raise SandboxError(
            f"the pinned copy {revision_of(rolled_back_to)} is not recognised as web:1's release"
        )
    timeline.say(
        "check",
        f"the ledger knows {revision_of(rolled_back_to)} as web:1's release ({good_v1[:16]}...), GOOD: "
        "one release, not two revisions to choose between",
        release_id=good_v1,
    )

    history = world.ledger.history(web.id, limit=50).items
    rollbacks = world.ledger.rollbacks(web.id).items
    timeline.ledger(history, rollbacks)
    return StoryResult(web, rolled_back_to, pinned, dict(calls), notifications)


def _good_start(world: World, timeline: Timeline, strategy: str) -> DemoService:
    timeline.heading("1. A service that deploys well")
    web = DemoService.create(world, timeline, V1, strategy=strategy)
    for result in web.bake():
        if result.get("status") != "promoted":
            raise SandboxError(f"web:1 was not promoted to GOOD after its bake time: {result}")
    return web


def _blue_green_story(world: World, timeline: Timeline) -> StoryResult:
    """The bad release takes the traffic, alarms during ECS's bake, and ECS flips it back."""
    web = _good_start(world, timeline, "BLUE_GREEN")

    timeline.heading("2. A bad release, blue/green: `latest` moves, the green revision takes the traffic")
    world.clock.advance(timedelta(minutes=20))
    web.release(V2)
    web.deploy("v2", complete=False)
    web.shift_traffic()

    timeline.heading("3. Four minutes into ECS's bake the 5xx alarm fires")
    world.clock.advance(timedelta(minutes=4))
    first_call = len(world.calls)
    web.alarm(LINKED_ALARM)
    calls = Counter(world.calls[first_call:])
    if calls["ecs.StopServiceDeployment"] != 1 or calls["ecs.UpdateService"]:
        raise SandboxError(f"the alarm did not stop ECS's deployment with ROLLBACK: {dict(calls)}")
    timeline.say(
        "check",
        f"the alarm function asked ECS for its own rollback: {sum(calls.values())} AWS calls, "
        + ", ".join(f"{name} x{count}" for name, count in sorted(calls.items())),
        calls=dict(calls),
    )
    notifications = web.show_inbox()

    timeline.heading("4. ECS rolls its deployment back: the blue revision, as it ran")
    play_ecs(world, timeline)
    rolled_back_to = web.task_definition
    recorded = web.recorded("v1").images[0].digest
    if web.running_digests(rolled_back_to) != {recorded}:
        raise SandboxError(
            f"after ECS's rollback the tasks run {web.running_digests()}, not web:1's {recorded}"
        )
    timeline.say(
        "check",
        f"demo/web runs {revision_of(rolled_back_to)} on web:1's recorded digest {short_digest(recorded)}, "
        f"though `latest` points at {short_digest(web.tag_digest())} (the bad build): ECS kept the revision's digests",
        task_definition_arn=rolled_back_to,
    )
    notifications += web.show_inbox()
    timeline.ledger(world.ledger.history(web.id, limit=50).items, world.ledger.rollbacks(web.id).items)
    image = f"{web.repository_uri}@{recorded}"
    return StoryResult(web, rolled_back_to, image, dict(calls), notifications)


def prepare_for_operator(service: DemoService) -> None:
    """Before ``--keep`` serves: a good third release, so a manual rollback has somewhere to go."""
    service.timeline.heading("5. One more release, for you to roll back with the CLI")
    service.world.clock.advance(timedelta(minutes=1))
    service.release(V3, tag=V3.git_sha[:7])
    service.deploy("v3")
