"""``--keep``: the deployed functions served for Lambda ``Invoke`` on loopback, and ECS played in
the background for every ``UpdateService`` the CLI's rollbacks and deploys make."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from ecs_rollback.domain.model import ServiceId
from ecs_rollback_sandbox.fleet import finish_deployment, show_notifications, start_pending
from ecs_rollback_sandbox.lambda_endpoint import Function as Invoker
from ecs_rollback_sandbox.lambda_endpoint import LambdaEndpoint
from ecs_rollback_sandbox.timeline import Timeline
from ecs_rollback_sandbox.world import World


def invokers(world: World, lock: threading.RLock) -> dict[str, Invoker]:
    """Every function of ``world`` by its name, run as Lambda ``Invoke`` runs it, one at a time."""

    def invoker(key: str) -> Invoker:
        def run(payload: Any) -> Any:
            with lock:
                return world.invoke(key, payload, via="lambda Invoke")

        return run

    return {function.name: invoker(key) for key, function in world.functions.items()}


class EcsPlayer:
    """While the sandbox is kept, plays ECS for every ``UpdateService`` (the CLI's rollbacks and
    deploys): a deployment starts on the next tick and reaches steady state ``settle`` seconds
    later, so ``ecs-rollback deploy --wait`` sees it progress. It also fires due bake timers and
    shows new notifications. The simulated clock follows the wall clock from where the story
    left it."""

    def __init__(
        self,
        world: World,
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
            show_notifications(self.world, self.timeline)

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
def serving(world: World, timeline: Timeline) -> Iterator[LambdaEndpoint]:
    """The Lambda Invoke endpoint for every function, and ECS played in the background."""
    lock = threading.RLock()
    endpoint = LambdaEndpoint(invokers(world, lock), region=world.emulator.region)
    endpoint.start()
    player = EcsPlayer(world, timeline, lock).start()
    try:
        yield endpoint
    finally:
        player.stop()
        endpoint.stop()
