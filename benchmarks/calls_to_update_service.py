"""Benchmark: the AWS calls from trigger to UpdateService, on every rollback path (counted, not timed).

    .venv/bin/python -m benchmarks.calls_to_update_service

Paths: an alarm whose target names its image by digest, an alarm whose target names a moving tag
(restored by the pinned copy registered when it became GOOD), a manual ``last-good``, a manual
``family:revision``, and a manual git SHA. Each runs on a warm function (its clients built at cold
start), on the emulator over HTTP, and lists the calls in order up to ``ecs.UpdateService``.
"""

from __future__ import annotations

import os

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from ecs_rollback_sandbox.clock import ManualClock
from ecs_rollback_sandbox.emulator import Emulator
from ecs_rollback_sandbox.world import World

GOAL = 3
SHA = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"


def _service(emulator: Emulator, run: str, *, pinned: bool) -> tuple[World, Any, str, str]:
    """A service whose v1 is GOOD (baked) and whose v2 runs now."""
    world = World.direct(emulator, ManualClock(), name=f"calls{run}")
    name = f"web{run}"
    uri = world.repository_uri(name)
    arns = []
    for version in (1, 2):
        tag = SHA[:12] if version == 1 else "latest"
        digest = world.push_image(name, tag, content=f"{name} build {version}")
        image = f"{uri}@{digest}" if pinned else f"{uri}:{tag}"
        tags = {"ecs-rollback:git-sha": SHA} if version == 1 else None
        arns.append(world.register(name, {"app": image}, tags=tags))
    service = world.ecs.create_service("prod", name, arns[0])
    world.cloudwatch.create_service_alarm(f"{name}-cpu", "prod", name)
    world.run_ecs()
    world.clock.advance(timedelta(minutes=11))
    world.fire_timers()
    world.deploy(service, arns[1])
    return world, service, name, arns[0]


def _calls(world: World, function: str, trigger: Callable[[], Any]) -> list[str]:
    world.deps(function)  # warm: clients exist before the trigger
    world.calls.clear()
    trigger()
    if "ecs.UpdateService" not in world.calls:
        return [*world.calls, "(no UpdateService)"]
    return world.calls[: world.calls.index("ecs.UpdateService") + 1]


def measure(emulator: Emulator) -> dict[str, list[str]]:
    paths: dict[str, list[str]] = {}
    for label, pinned in (("automatic, target by digest", True), ("automatic, target by tag", False)):
        world, _service_id, name, _v1 = _service(emulator, f"a{int(pinned)}", pinned=pinned)
        event = world.cloudwatch.set_state(f"{name}-cpu", "ALARM")
        paths[label] = _calls(world, "alarm_events", partial(world.deliver, event))
    for label, target in (
        ("manual last-good", None),
        ("manual family:revision", "revision"),
        ("manual git SHA", "sha"),
    ):
        world, _service_id, name, v1 = _service(emulator, f"m{len(paths)}", pinned=False)
        request: dict[str, Any] = {"cluster": "prod", "service": name, "reason": "benchmark"}
        if target == "revision":
            request["target"] = v1.rsplit("/", 1)[1]
        elif target == "sha":
            request["target"] = SHA[:10]
        paths[label] = _calls(world, "manual_rollback", partial(world.manual, **request))
    return paths


def main() -> None:
    with Emulator() as emulator:
        paths = measure(emulator)
    width = max(len(label) for label in paths)
    print(f"AWS calls from trigger to UpdateService (goal: at most {GOAL})")
    print(f"{'path'.ljust(width)}  calls  sequence")
    for label, calls in paths.items():
        print(f"{label.ljust(width)}  {len(calls):5d}  {' -> '.join(calls)}")


if __name__ == "__main__":
    main()
