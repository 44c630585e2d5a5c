"""Benchmark: an alarm storm over a fleet, delivered concurrently, on the local emulator (figures, no assertions).

    .venv/bin/python -m benchmarks.storm [--services 100] [--failing 50] [--events 1000] [--threads 8]
                                         [--duplicates 0.3] [--retries 2] [--seed 1] [--moto-as-is]

``--services`` services in cluster ``prod``, each set up as the integration tests set one up: v1
running (its image pinned by digest, tagged with its git SHA), a CPU alarm on its ECS dimensions,
then v2 deployed by UpdateService and COMPLETED (the first deployment event adopts v1 as the
baseline GOOD). ``--failing`` of them (chosen with ``--seed``) go bad: their alarm goes to ALARM and
``--events`` alarm events are shared among them (20 each by default). A ``--duplicates`` share of
each service's events are redeliveries of another of its events (same id); the rest are distinct
state changes (own id, own time, a few seconds apart). All events are shuffled together and handed
to EventBridge's part (``world.deliver``) from ``--threads`` threads at once, every function warm and
shared by the threads. An invocation that raises is delivered again up to ``--retries`` times, as
Lambda retries an asynchronous invocation.

Figures: wall time of the storm and events per second; each delivery's wall time (p50, p99,
max); invocations that raised, and events still failing after the retries; ``ecs.UpdateService``
calls in all; per failing service, its ROLLED_BACK records in the ledger (exactly one is right)
and the task definition ECS runs (v1 is right); the services with none or more than one; the
healthy services that were touched (a record, or not on v2); the other records the storm left
(duplicates and later events, by outcome and code); the outbox after the storm (entries the
stream's notifier left unsent, records it reported failed, batches that raised); and, once ECS
has finished the rollback deployments, v2's status and the notifications sent, by outcome (if
any entry is still unsent, the reconciler is run once and what it published is counted). A line
on stderr every 100 events tells the progress.

The emulator, not the service, sets the pace: the functions run in this process beside moto
(one interpreter lock for both), the harness answers DynamoDB requests one at a time, and moto's
``TransactWriteItems`` deep-copies each table it names. Unless ``--moto-as-is``, that copy leaves
the table's stream out (``leave_the_stream_out_of_transaction_backups``: the harness never reads
it back), which halves a storm's time (200 events over 20 services: 167 s as is, 76 s) without
changing what any request answers; and in every run moto's dashboard is made to forget those copies
(``forget_tracked_models``), which it would otherwise keep, gigabytes of them. The last line
prints what one empty transaction costs the emulator before and after the storm.
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import benchmarks.in_process  # noqa: F401  (sets the environment the functions load with)
from ecs_rollback.domain.model import Outcome, RevisionId, RollbackRecord, ServiceId
from ecs_rollback_sandbox.clock import ManualClock
from ecs_rollback_sandbox.emulator import Emulator
from ecs_rollback_sandbox.emulator_fixes import (
    forget_tracked_models,
    leave_the_stream_out_of_transaction_backups,
)
from ecs_rollback_sandbox.eventbridge import milliseconds
from ecs_rollback_sandbox.world import World

CLUSTER = "prod"
SHA_V1 = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"


@dataclass(frozen=True)
class Fleet:
    id: ServiceId
    alarm: str
    v1: str
    v2: str


@dataclass(frozen=True)
class Delivery:
    service: ServiceId
    event_id: str
    seconds: float
    attempts: int
    errors: tuple[str, ...]  # the exception of every attempt that raised
    answer: dict[str, Any] | None


def make_fleet(emulator: Emulator, count: int) -> tuple[World, list[Fleet]]:
    """``count`` services on a COMPLETED v2, v1 their baseline GOOD (as the integration tests make them)."""
    world = World.direct(emulator, ManualClock(), name="storm")
    fleet = []
    for index in range(count):
        forget_tracked_models()
        name = f"svc{index:03d}"
        uri = world.repository_uri(name)
        first = world.push_image(name, SHA_V1[:12], content=f"{name}-v1")
        v1 = world.register(
            name,
            {"app": f"{uri}@{first}"},
            tags={"ecs-rollback:git-sha": SHA_V1, "ecs-rollback:commit-message": "release v1"},
        )
        second = world.push_image(name, "v2", content=f"{name}-v2")
        v2 = world.register(name, {"app": f"{uri}@{second}"})
        world.ecs.create_service(CLUSTER, name, v1)
        alarm = f"{name}-cpu-high"
        world.cloudwatch.create_service_alarm(alarm, CLUSTER, name)
        fleet.append(Fleet(world.ecs.service_id(CLUSTER, name), alarm, v1, v2))
    world.clock.advance(timedelta(minutes=1))
    ecs = emulator.client("ecs")
    for service in fleet:  # what the deploy tool does, service by service; then ECS's part for all
        ecs.update_service(cluster=CLUSTER, service=service.id.name, taskDefinition=service.v2)
    world.run_ecs()
    forget_tracked_models()
    world.clock.advance(timedelta(minutes=3))
    return world, fleet


def storm_events(
    world: World, failing: list[Fleet], events: int, duplicates: float, rng: random.Random
) -> list[tuple[Fleet, dict[str, Any]]]:
    """The failing services' alarm events, shuffled: distinct state changes and redeliveries."""
    share, extra = divmod(events, len(failing))
    storm: list[tuple[Fleet, dict[str, Any]]] = []
    for position, service in enumerate(failing):
        count = share + (1 if position < extra else 0)
        if count == 0:
            continue
        first = world.cloudwatch.set_state(service.alarm, "ALARM")
        distinct = max(1, count - round(count * duplicates))
        now = world.clock.now()
        variants = [first]
        for step in range(1, distinct):  # the alarm went OK and back to ALARM, seconds apart
            at = now - timedelta(seconds=5 * step)
            variant = copy.deepcopy(first)
            variant["id"] = str(uuid.uuid4())
            variant["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
            variant["detail"]["state"]["timestamp"] = milliseconds(at) + "+0000"
            variants.append(variant)
        redelivered = [copy.deepcopy(rng.choice(variants)) for _ in range(count - distinct)]
        storm += [(service, event) for event in variants + redelivered]
    rng.shuffle(storm)
    return storm


def transaction_probe(emulator: Emulator, table: str) -> float:
    """The emulator's wall time for one TransactWriteItems on the ledger table that writes nothing
    (a ConditionCheck of an absent key): what moto's copy of the table costs each transaction."""
    started = time.perf_counter()
    emulator.client("dynamodb").transact_write_items(
        TransactItems=[
            {
                "ConditionCheck": {
                    "TableName": table,
                    "Key": {"pk": {"S": "BENCHMARK#probe"}, "sk": {"S": "BENCHMARK#probe"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
    )
    return time.perf_counter() - started


def deliver(world: World, service: Fleet, event: dict[str, Any], retries: int) -> Delivery:
    forget_tracked_models()  # memory only: done with --moto-as-is too
    started = time.perf_counter()
    errors: list[str] = []
    answer = None
    for _attempt in range(1 + retries):
        try:
            answer = world.deliver(event)
            break
        except Exception as error:  # Lambda reports the invocation failed, and retries it
            errors.append(f"{type(error).__name__}: {str(error)[:120]}")
    return Delivery(
        service.id, event["id"], time.perf_counter() - started, len(errors) + 1, tuple(errors), answer
    )


def records(world: World, service: ServiceId) -> list[RollbackRecord]:
    ledger = world.ledger
    found: list[RollbackRecord] = []
    cursor = None
    while True:
        page = ledger.rollbacks(service, limit=100, cursor=cursor)
        found += page.items
        cursor = page.cursor
        if not cursor:
            return found


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def report(
    world: World,
    fleet: list[Fleet],
    failing: list[Fleet],
    deliveries: list[Delivery],
    elapsed: float,
    threads: int,
) -> None:
    distinct = len({d.event_id for d in deliveries})
    times = [d.seconds for d in deliveries]
    print(
        f"storm: {len(deliveries)} alarm events ({distinct} distinct ids, {len(deliveries) - distinct} redeliveries) "
        f"for {len(failing)} failing of {len(fleet)} services, {threads} threads"
    )
    print(f"wall time {elapsed:.1f} s, {len(deliveries) / elapsed:.1f} events per second")
    print(
        f"delivery wall time: p50 {_ms(_percentile(times, 0.5))}, p99 {_ms(_percentile(times, 0.99))}, "
        f"max {_ms(max(times, default=0))} (mean {_ms(statistics.fmean(times))})"
    )
    raised = Counter(error.split(":", 1)[0] for d in deliveries for error in d.errors)
    lost = [d for d in deliveries if d.answer is None]
    print(
        f"invocations that raised (retried as Lambda would): {sum(raised.values())} {dict(raised) or ''}".rstrip()
    )
    for error, times_seen in Counter(e for d in deliveries for e in d.errors).most_common(3):
        print(f"  {times_seen:4d} x {error}")
    print(f"events still failing after the retries: {len(lost)}")
    print(
        f"ecs.UpdateService calls in all: {world.count('ecs.UpdateService')} (one per failing service is right)"
    )

    failing_ids = {service.id for service in failing}
    rolled_back: dict[ServiceId, int] = {}
    others: Counter[str] = Counter()
    on_v1 = 0
    touched = []
    for service in fleet:
        found = records(world, service.id)
        running = world.service_task_definition(service.id)
        if service.id in failing_ids:
            rolled_back[service.id] = sum(record.outcome == Outcome.ROLLED_BACK for record in found)
            others.update(
                f"{record.outcome.value} {record.code}"
                for record in found
                if record.outcome != Outcome.ROLLED_BACK
            )
            on_v1 += running == service.v1
        elif found or running != service.v2:
            touched.append(f"{service.id} ({len(found)} records, runs {running.rsplit('/', 1)[1]})")
    spread = Counter(rolled_back.values())
    print(
        "ROLLED_BACK records per failing service: "
        + ", ".join(f"{n} record(s): {services} services" for n, services in sorted(spread.items()))
    )
    none = sorted(str(service) for service, n in rolled_back.items() if n == 0)
    many = sorted(f"{service} ({n})" for service, n in rolled_back.items() if n > 1)
    print(f"failing services with 0 rollbacks: {len(none)} {none[:10] or ''}".rstrip())
    print(f"failing services with >1 rollbacks: {len(many)} {many[:10] or ''}".rstrip())
    print(f"failing services ECS runs on v1: {on_v1}/{len(failing)}")
    print(
        f"healthy services touched: {len(touched)}/{len(fleet) - len(failing)} {touched[:10] or ''}".rstrip()
    )
    print("other records of the failing services (later events and redeliveries), by outcome and code:")
    for label, count in others.most_common():
        print(f"  {count:5d} x {label}")

    notifier_runs = [result for function, _, result in world.delivered if function == "notifier"]
    unpublished = sum(len(result.get("batchItemFailures", [])) for result in notifier_runs)
    unsent = len(world.ledger.unsent(limit=1000))
    print(
        f"outbox after the storm: {unsent} entries unsent; notifier runs {len(notifier_runs)}, "
        f"records they reported failed {unpublished}, batches that raised {len(world.stream_failures)}"
    )
    for failure in world.stream_failures[:3]:
        print(f"  {failure[:200]}")

    world.run_ecs()  # ECS carries out the rollback deployments (not timed)
    statuses = Counter(
        deployment.status.value if deployment else "unknown"
        for service in failing
        for deployment in [world.ledger.find_revision(service.id, RevisionId.from_arn(service.v2))]
    )
    print(f"after ECS finished: v2 status of the failing services {dict(statuses)}")
    notes = Counter(str(note["body"].get("outcome", note["subject"])) for note in world.notifications())
    print(f"notifications sent, by outcome: {dict(notes)}")
    left = len(world.ledger.unsent(limit=1000))
    if left:
        world.clock.advance(timedelta(minutes=2))  # past the grace the reconciler leaves to the stream
        world.reconcile()  # what the reconciler's schedule does with what the stream left
        later = Counter(str(note["body"].get("outcome", note["subject"])) for note in world.notifications())
        print(
            f"the reconciler then published {sum(later.values())} more {dict(later)}; "
            f"unsent now: {len(world.ledger.unsent(limit=1000))}"
        )


class Progress:
    """A line on stderr every ``every`` deliveries (the storm is long on the emulator)."""

    def __init__(self, total: int, every: int = 100) -> None:
        self.total, self.every, self.done = total, every, 0
        self.started = time.perf_counter()
        self._lock = threading.Lock()

    def tick(self) -> None:
        with self._lock:
            self.done += 1
            if self.done % self.every == 0 or self.done == self.total:
                elapsed = time.perf_counter() - self.started
                print(f"  ... {self.done}/{self.total} events, {elapsed:.0f} s", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--services", type=int, default=100, help="services in the fleet (default 100)")
    parser.add_argument("--failing", type=int, default=50, help="services whose v2 is bad (default 50)")
    parser.add_argument("--events", type=int, default=1000, help="alarm events in all (default 1000)")
    parser.add_argument("--threads", type=int, default=8, help="concurrent deliveries (default 8)")
    parser.add_argument("--duplicates", type=float, default=0.3, help="share of redeliveries (default 0.3)")
    parser.add_argument(
        "--retries", type=int, default=2, help="Lambda's retries of a failed invocation (default 2)"
    )
    parser.add_argument("--seed", type=int, default=1, help="which services fail, and the order (default 1)")
    parser.add_argument(
        "--moto-as-is",
        action="store_true",
        help="keep moto's whole-table copies (stream included) in every transaction (see above)",
    )
    args = parser.parse_args()
    if not 0 < args.failing <= args.services:
        parser.error("--failing must be between 1 and --services")
    rng = random.Random(args.seed)  # noqa: S311 (a reproducible storm, not secrets)
    with Emulator() as emulator:
        if not args.moto_as_is:
            leave_the_stream_out_of_transaction_backups()
        started = time.perf_counter()
        world, fleet = make_fleet(emulator, args.services)
        failing = rng.sample(fleet, args.failing)
        storm = storm_events(world, failing, args.events, args.duplicates, rng)
        for function in ("alarm_events", "notifier", "deployment_events"):
            world.deps(function)  # warm functions: clients built at cold start, not during the storm
        world.notifications()  # the set-up's notifications, drained
        print(f"set-up: {args.services} services on a COMPLETED v2 in {time.perf_counter() - started:.0f} s")
        table = world.settings["alarm_events"].ledger_table_name
        forget_tracked_models()
        probe_before = transaction_probe(emulator, table)
        world.calls.clear()
        started = time.perf_counter()
        progress = Progress(len(storm))

        def one(item: tuple[Fleet, dict[str, Any]]) -> Delivery:
            delivery = deliver(world, item[0], item[1], args.retries)
            progress.tick()
            return delivery

        world.delivered.clear()
        with ThreadPoolExecutor(max_workers=args.threads) as pool:
            deliveries = list(pool.map(one, storm))
        elapsed = time.perf_counter() - started
        probe_after = transaction_probe(emulator, table)
        report(world, fleet, failing, deliveries, elapsed, args.threads)
        print(
            f"emulator: one TransactWriteItems that writes nothing took {_ms(probe_before)} before the storm, "
            f"{_ms(probe_after)} after it (moto deep-copies the table per transaction"
            + (", its stream included" if args.moto_as_is else ", its stream left out")
            + "; the harness answers DynamoDB requests one at a time)"
        )


if __name__ == "__main__":
    main()
