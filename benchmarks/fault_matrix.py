"""Benchmark: the fault matrix as figures, on the local emulator.

Plays every cell of ``tests/integration/test_fault_matrix.py`` (the same cells, the same
platform retries, Reconciler and ECS) and counts, instead of asserting, what a probe would:

- **lost**: a transient fault that cleared, yet ECS does not run the last good release;
- **duplicate**: ``UpdateService`` called again after AWS had answered one, or carried out for
  two different targets;
- **wedged**: a lock still held after the cell;
- **false ledger**: the ledger's current deployment is not what ECS runs, or says ROLLED_BACK
  while ECS runs the bad release;
- **missing notice**: a recorded decision without its notice (or a rollback without its
  result notice).

    .venv/bin/python -m benchmarks.fault_matrix [--path automatic|manual] [--operation ecs.UpdateService]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from datetime import timedelta

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "CRITICAL")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from ecs_rollback_sandbox.clock import ManualClock
from ecs_rollback_sandbox.emulator import Emulator
from ecs_rollback_sandbox.world import World
from tests.integration import test_fault_matrix as matrix
from tests.integration.conftest import SHA_V1, SHA_V2, Service


def bad_release(emulator: Emulator) -> tuple[World, Service]:
    emulator.reset()
    world = World.direct(emulator, ManualClock())
    web = Service(world, world.ecs.service_id("prod", "web"), world.repository_uri("web"), {}, "web-cpu-high")
    v1 = web.revision("v1", sha=SHA_V1, pinned=True)
    world.ecs.create_service("prod", "web", v1)
    world.cloudwatch.create_service_alarm(web.alarm, "prod", "web")
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.deploy("v2")
    world.notifications()
    world.clock.advance(timedelta(minutes=2))
    return world, web


def play(emulator: Emulator, path: str, fault: str, times: str, service: str, operation: str) -> Counter[str]:
    world, web = bad_release(emulator)
    world.calls.clear()
    figures: Counter[str] = Counter(cells=1)
    try:
        updates = matrix._run(world, web, path, fault, times, service, operation)
    except Exception:
        figures["harness error"] += 1
        return figures
    running = web.task_definition
    rolled_back = running == web.revisions["v1"]
    state = world.ledger.load(web.id)
    records = matrix._rollbacks(world, web)
    notices = [note["body"] for note in world.notifications()]
    decided = {
        note.get("rollback_id") for note in notices if note.get("rollback_id") and "result" not in note
    }
    results = [note for note in notices if note.get("rollback_id") and "result" in note]

    figures["rolled back" if rolled_back else "not rolled back"] += 1
    if times == "once" and fault != "access_denied" and not rolled_back:
        figures["lost"] += 1
    if len({update["taskDefinition"] for update in updates}) > 1 or world.calls_after_success(
        "ecs.UpdateService"
    ):
        figures["duplicate"] += 1
    if state is None or state.in_flight is not None:
        figures["wedged"] += 1
    current = state.current.task_definition_arn if state and state.current else None
    if current != running or (not rolled_back and web.status_of("v2") == "ROLLED_BACK"):
        figures["false ledger"] += 1
    if any(record.rollback_id not in decided for record in records) or (rolled_back and not results):
        figures["missing notice"] += 1
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--path", choices=matrix.PATHS, help="one path only")
    parser.add_argument("--operation", help="one call only, as service.Operation")
    args = parser.parse_args(argv)
    cells = [
        cell.values
        for cell in matrix.CELLS
        if (args.path is None or cell.values[0] == args.path)
        and (args.operation is None or f"{cell.values[3]}.{cell.values[4]}" == args.operation)
    ]
    columns = ("cells", "rolled back", "lost", "duplicate", "wedged", "false ledger", "missing notice")
    rows: dict[str, Counter[str]] = {}
    started = time.perf_counter()
    with Emulator() as emulator:
        for index, (path, fault, times, service, operation) in enumerate(cells, 1):
            key = f"{path:9} {service}.{operation}"
            rows.setdefault(key, Counter()).update(
                play(emulator, str(path), str(fault), str(times), str(service), str(operation))
            )
            print(f"\r{index}/{len(cells)} cells", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    total: Counter[str] = sum(rows.values(), Counter())
    width = max(len(key) for key in rows)
    print(f"{'path / call':{width}}  " + "  ".join(columns))
    for key, figures in [*rows.items(), ("total", total)]:
        print(f"{key:{width}}  " + "  ".join(f"{figures[column]:>{len(column)}}" for column in columns))
    if total["harness error"]:
        print(f"harness errors: {total['harness error']}")
    print(f"{len(cells)} cells in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
