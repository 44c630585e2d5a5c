"""Benchmark: the rollback path, from an alarm event to UpdateService, on the local emulator.

Prints the AWS calls the alarm function makes before UpdateService (digest-pinned and tag-pinned
targets), the handler's wall time per rollback on this machine, and each handler's cold import
time. Figures, not assertions: a shared machine makes timings noisy.

    .venv/bin/python -m benchmarks.rollback_path [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

from ecs_rollback_sandbox.clock import ManualClock
from ecs_rollback_sandbox.emulator import Emulator
from ecs_rollback_sandbox.world import World

HANDLERS = ("deployment_events", "alarm_events", "manual_rollback", "bake_timer")


def one_rollback(emulator: Emulator, run: int, *, pinned: bool) -> tuple[list[str], float]:
    """A service on v1, a bad v2, then its alarm: returns the calls before UpdateService and the time."""
    world = World.direct(emulator, ManualClock(), name=f"bench{run}{int(pinned)}")
    name = f"web{run}{int(pinned)}"
    uri = world.repository_uri(name)
    images = []
    for version in (1, 2):
        digest = world.push_image(name, f"v{version}", content=f"{name} build {version}")
        images.append(f"{uri}@{digest}" if pinned else f"{uri}:v{version}")
    v1, v2 = (world.register(name, {"app": image}) for image in images)
    service = world.ecs.create_service("prod", name, v1)
    world.cloudwatch.create_service_alarm(f"{name}-cpu", "prod", name)
    world.deploy(service, v2)
    event = world.cloudwatch.set_state(f"{name}-cpu", "ALARM")
    world.deps("alarm_events")  # a warm function: its clients are built at cold start, not per event
    world.calls.clear()
    started = time.perf_counter()
    world.deliver(event)
    elapsed = time.perf_counter() - started
    calls = world.calls[: world.calls.index("ecs.UpdateService") + 1]
    return calls, elapsed


def import_times() -> dict[str, float]:
    """Cold import of each handler module in a fresh interpreter (what a Lambda cold start pays)."""
    times = {}
    for handler in HANDLERS:
        code = f"import time; t=time.perf_counter(); import ecs_rollback.handlers.{handler}; print(time.perf_counter()-t)"
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ}
        )
        times[handler] = float(result.stdout.strip().splitlines()[-1])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10, help="rollbacks per kind (default 10)")
    args = parser.parse_args()
    with Emulator() as emulator:
        for pinned in (True, False):
            kind = "target named by digest" if pinned else "target named by tag (pinned copy registered)"
            results = [one_rollback(emulator, run, pinned=pinned) for run in range(args.runs)]
            calls = results[0][0]
            times = sorted(elapsed for _, elapsed in results)
            print(f"{kind}:")
            print(f"  AWS calls up to UpdateService: {len(calls)}  ({' -> '.join(calls)})")
            print(
                f"  alarm handler wall time (warm) on the emulator: median {statistics.median(times) * 1000:.0f} ms, "
                f"max {times[-1] * 1000:.0f} ms over {args.runs} runs"
            )
    for handler, seconds in import_times().items():
        print(f"cold import of ecs_rollback.handlers.{handler}: {seconds * 1000:.0f} ms")


if __name__ == "__main__":
    main()
