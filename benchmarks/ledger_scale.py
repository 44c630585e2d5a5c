"""Benchmark: the ledger at 10, 1,000 and 100,000 history entries, counted in calls and items read.

    .venv/bin/python -m benchmarks.ledger_scale [--sizes 10,1000,100000] [--real 12]

One service, ``prod/web``. Its newest ``--real`` deployments go through the functions as in
production (a revision registered, deployed, COMPLETED, baked GOOD), so its STATE item is the one
the code writes after a long life (the GOOD list full, older GOOD releases left out); the older
history is seeded straight into the emulator's table: deployment records written by the ledger's
own item layout (``ledger_items.deployment_to_item``), clones of the real ones with their own ids
and older times. Then, measured:

- a deployment recorded: a new revision deployed, its IN_PROGRESS and COMPLETED events handled by
  the deployment-events function;
- a decision: its alarm, handled by the alarm function (a rollback to the newest GOOD release);
- history pages: the first two pages of 20 (``Ledger.history``), as the CLI reads them;
- the STATE item's size, as DynamoDB counts item size (attribute names and values, from the item
  read back), and the read units one strongly consistent read of it costs.

Items read are DynamoDB's own counts from each answer: ``ScannedCount`` for a Query, the items a
GetItem or BatchGetItem returned; KB read sums those items' sizes. What the emulator would add is
corrected here, in the harness, for the benchmark only (``corrected_emulator``): moto answers a
Query by sorting and filtering every item of the table (DynamoDB reads the key's partition, in
order, up to ``Limit``), and backs up every table a transaction names with a deep copy (DynamoDB
copies nothing). The query reads only the key's partition, and the backup copies only the items
the transaction writes; neither changes any answer, and 100,000 entries then take minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import math
import sys
import time
import types
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from boto3.dynamodb.types import TypeSerializer

import benchmarks.in_process  # noqa: F401  (sets the environment the functions load with)
from ecs_rollback.adapters import ledger_items
from ecs_rollback.adapters.ledger_dynamodb import DynamoDBLedger
from ecs_rollback.domain.model import Deployment, ServiceId, StatusChange
from ecs_rollback_sandbox import emulator_fixes
from ecs_rollback_sandbox.clock import ManualClock
from ecs_rollback_sandbox.emulator import ACCOUNT, Emulator
from ecs_rollback_sandbox.emulator_fixes import forget_tracked_models
from ecs_rollback_sandbox.world import World

CLUSTER = "prod"
SERVICE = "web"
SIZES = (10, 1_000, 100_000)
PAGE = 20
READ_UNIT = 4096
SHA = "7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a"


# -- DynamoDB's item size --------------------------------------------------------------------


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's size of a wire-format item: each attribute's name and value in UTF-8 bytes."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    kind, raw = next(iter(value.items()))
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        digits = raw.lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind in ("B",):
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(entry.encode()) for entry in raw)
    if kind == "NS":
        return sum(_value_size({"N": entry}) for entry in raw)
    if kind == "L":
        return 3 + sum(1 + _value_size(entry) for entry in raw)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _value_size(entry) for name, entry in raw.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


# -- the emulator, corrected for this benchmark ----------------------------------------------

_TOUCHED: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}


def _partition_query(query: Any) -> Any:
    """moto's ``Table.query`` over the key's partition only, when the key is the table's own."""

    def partition_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        wanted = hash_key if not index_name else None
        for attribute, value in kwargs.get("hash_key_conditions") or []:
            if attribute == self.hash_key_attr:
                wanted = value
        if wanted is not None:
            found = self.items.get(wanted, {})
            self.all_items = lambda: list(found.values()) if self.range_key_attr else [found]
        else:  # another attribute's partition: every item, as moto does, but not sorted twice
            self.all_items = lambda: [item for part in self.items.values() for item in part.values()]
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    return partition_query


def _noting_what_it_writes(transact: Any) -> Any:
    """moto's ``transact_write_items``, with the keys it writes noted for the backup below."""

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        _TOUCHED.clear()
        for entry in transact_items:
            operation = next(iter(entry.values()))
            table = self.tables.get(operation.get("TableName"))
            if table is None:
                continue
            names = [name for name in (table.hash_key_attr, table.range_key_attr) if name]
            key = operation.get("Key") or {name: operation["Item"][name] for name in names}
            _TOUCHED.setdefault(table.name, []).append(
                (key[table.hash_key_attr], key.get(table.range_key_attr or "", {}))
            )
        try:
            return transact(self, transact_items)
        finally:
            _TOUCHED.clear()

    return transact_write_items


def _backing_up_what_it_writes(previous: Any) -> Any:
    """``copy.deepcopy`` for moto's transaction backup: the table's item index copied, and only the
    items the transaction writes copied deeply (the others it does not change)."""
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if not isinstance(value, Table) or value.name not in _TOUCHED or not value.range_key_attr:
            return previous.deepcopy(value, memo)
        backup = copy.copy(value)
        backup.items = defaultdict(dict, {key: dict(part) for key, part in value.items.items()})
        for hash_value, range_value in _TOUCHED[value.name]:
            part = backup.items.get(DynamoType(hash_value))
            key = DynamoType(range_value)
            if part is not None and key in part:
                part[key] = copy.deepcopy(part[key])
        return backup

    return types.SimpleNamespace(deepcopy=deepcopy, copy=previous.copy)


@contextlib.contextmanager
def corrected_emulator() -> Iterator[None]:
    """Queries read their key's partition only; a transaction backs up only the items it writes."""
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    query, transact = Table.query, DynamoDBBackend.transact_write_items
    previous_copy: Any = models.__dict__["copy"]  # the module moto's models use (storm may have replaced it)
    Table.query = _partition_query(query)  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = _noting_what_it_writes(transact)  # type: ignore[method-assign]
    models.__dict__["copy"] = _backing_up_what_it_writes(previous_copy)
    try:
        yield
    finally:
        Table.query = query  # type: ignore[method-assign]
        DynamoDBBackend.transact_write_items = transact  # type: ignore[method-assign]
        models.__dict__["copy"] = previous_copy


# -- counting reads ----------------------------------------------------------------------------


@dataclass
class Reads:
    """DynamoDB calls one client made, and the items and bytes they read and wrote."""

    calls: list[str] = field(default_factory=list)
    items: int = 0
    bytes: int = 0
    written: int = 0

    def hook(self, event_name: str, parsed: dict[str, Any] | None = None, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[1]
        self.calls.append(operation)
        parsed = parsed or {}
        if operation == "GetItem" and parsed.get("Item"):
            self._read([parsed["Item"]])
        elif operation == "BatchGetItem":
            self._read([item for found in parsed.get("Responses", {}).values() for item in found])
        elif operation == "Query":
            self.items += int(parsed.get("ScannedCount", 0))
            self.bytes += sum(item_size(item) for item in parsed.get("Items", []))
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            self.written += 1

    def _read(self, found: list[dict[str, Any]]) -> None:
        self.items += len(found)
        self.bytes += sum(item_size(item) for item in found)

    def reset(self) -> None:
        self.calls, self.items, self.bytes, self.written = [], 0, 0, 0


def meter(client: Any) -> Reads:
    reads = Reads()
    client.meta.events.register("after-call.dynamodb.*", reads.hook)

    def count_writes(params: dict[str, Any], **_: Any) -> None:
        reads.written += len(params.get("TransactItems", []))

    client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", count_writes)
    return reads


def function_reads(world: World, function: str) -> Reads:
    """A meter on one warm function's DynamoDB client."""
    return meter(getattr(world.deps(function).ledger, "_client"))  # noqa: B009


# -- the story -------------------------------------------------------------------------------


def deploy_and_bake(world: World, service: ServiceId, version: int) -> str:
    uri = world.repository_uri(SERVICE)
    digest = world.push_image(SERVICE, f"v{version}", content=f"{SERVICE} build {version}")
    tags = {
        "ecs-rollback:git-sha": f"{version:04d}{SHA[4:]}",
        "ecs-rollback:commit-message": f"release {version}",
    }
    arn = world.register(SERVICE, {"app": f"{uri}@{digest}"}, tags=tags)
    world.clock.advance(timedelta(minutes=1))
    world.deploy(service, arn)
    world.clock.advance(timedelta(minutes=11))
    world.fire_timers()
    return arn


def seed(emulator: Emulator, world: World, service: ServiceId, count: int) -> None:
    """``count`` older deployment records, clones of the real ones, straight into the table."""
    from moto.backends import get_backend
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    real = world.ledger.history(service, limit=100).items
    oldest = min(deployment.started_at for deployment in real)
    table = get_backend("dynamodb")[ACCOUNT][emulator.region].tables[
        world.settings["alarm_events"].ledger_table_name
    ]
    serializer = TypeSerializer()
    with emulator_fixes.DYNAMODB_LOCK:
        for index in range(count):
            template = real[index % len(real)]
            started = oldest - timedelta(minutes=15 * (index + 1))
            shift = started - template.started_at
            clone: Deployment = replace(
                template,
                deployment_id=f"ecs-svc/{9_000_000_000_000 + index}",
                started_at=started,
                updated_at=template.updated_at + shift,
                completed_at=template.completed_at + shift if template.completed_at else None,
                good_at=template.good_at + shift if template.good_at else None,
                history=tuple(StatusChange(c.status, c.at + shift, c.reason) for c in template.history),
            )
            wire: dict[str, Any] = {
                key: serializer.serialize(value)
                for key, value in ledger_items.deployment_to_item(clone).items()
            }
            item = Item(DynamoType(wire["pk"]), DynamoType(wire["sk"]), wire)
            table.items[item.hash_key][item.range_key] = item


@dataclass(frozen=True)
class Scale:
    history: int
    seconds: float
    state_bytes: int
    state_estimate: int
    good: int
    good_truncated: bool
    deployment: Reads
    decision: Reads
    pages: list[Reads]
    outcome: str


def measure(emulator: Emulator, history: int, real: int) -> Scale:
    started = time.perf_counter()
    emulator.reset()
    world = World.direct(emulator, ManualClock(), name=f"ledger{history}")
    world.auto_publish = False  # the notifier's stream is not what is measured
    service = world.ecs.service_id(CLUSTER, SERVICE)
    uri = world.repository_uri(SERVICE)
    first = world.push_image(SERVICE, "v0", content=f"{SERVICE} build 0")
    world.ecs.create_service(CLUSTER, SERVICE, world.register(SERVICE, {"app": f"{uri}@{first}"}))
    world.cloudwatch.create_service_alarm(f"{SERVICE}-cpu", CLUSTER, SERVICE)
    world.run_ecs()
    world.clock.advance(timedelta(minutes=11))
    world.fire_timers()
    real = min(real, history)
    for version in range(1, real):
        deploy_and_bake(world, service, version)
    seed(emulator, world, service, history - real)
    forget_tracked_models()

    deployment = function_reads(world, "deployment_events")
    decision = function_reads(world, "alarm_events")
    deployment.reset()
    bad_digest = world.push_image(SERVICE, "bad", content=f"{SERVICE} bad build")
    bad = world.register(SERVICE, {"app": f"{uri}@{bad_digest}"})
    world.clock.advance(timedelta(minutes=1))
    world.deploy(service, bad)
    world.clock.advance(timedelta(minutes=2))
    decision.reset()
    answer = world.deliver(world.cloudwatch.set_state(f"{SERVICE}-cpu", "ALARM"))
    outcome = ", ".join(str(d.get("outcome")) for d in answer.get("decisions", [])) or str(
        answer.get("status")
    )

    reader_client = emulator.session().client("dynamodb", endpoint_url=emulator.endpoint)
    reader = DynamoDBLedger(reader_client, world.settings["alarm_events"].ledger_table_name)
    page_reads = meter(reader_client)
    pages = []
    cursor = None
    for _page in range(2):
        page_reads.reset()
        cursor = reader.history(service, limit=PAGE, cursor=cursor).cursor
        pages.append(replace(page_reads, calls=list(page_reads.calls)))
        if cursor is None:
            break  # the whole history fits a page

    raw = emulator.client("dynamodb").get_item(
        TableName=reader._table,
        Key={"pk": {"S": ledger_items.service_pk(service)}, "sk": {"S": ledger_items.STATE_SK}},
        ConsistentRead=True,
    )["Item"]
    state = world.ledger.load(service)
    assert state is not None
    forget_tracked_models()
    plain = ledger_items.state_to_item(state)
    return Scale(
        history,
        time.perf_counter() - started,
        item_size(raw),
        ledger_items.item_size(plain),
        len(state.good),
        state.good_truncated,
        deployment,
        decision,
        pages,
        outcome,
    )


def _reads(reads: Reads) -> str:
    return f"{len(reads.calls):3d} calls {reads.items:5d} items read {reads.bytes / 1024:6.1f} KB {reads.written:3d} written"


def table(scales: Sequence[Scale], real: int) -> str:
    lines = [
        f"The ledger at scale: one service, its newest {real} deployments through the functions, the",
        "older history seeded; items read = DynamoDB's counts (ScannedCount, items returned)",
        "",
        f"{'history':>9s}  {'STATE bytes':>11s} {'read units':>10s} {'GOOD kept':>9s}  what",
    ]
    for scale in scales:
        units = math.ceil(scale.state_bytes / READ_UNIT)
        kept = f"{scale.good}{' +older' if scale.good_truncated else ''}"
        lines.append(
            f"{scale.history:9,d}  {scale.state_bytes:11,d} {units:10d} {kept:>9s}  STATE item "
            f"(the code's own estimate {scale.state_estimate:,d} bytes; limit {ledger_items.STATE_ITEM_LIMIT_BYTES:,d})"
        )
        lines.append(f"{'':9s}  deployment recorded (2 events): {_reads(scale.deployment)}")
        lines.append(f"{'':9s}  decision (alarm -> {scale.outcome}): {_reads(scale.decision)}")
        for number, page in enumerate(scale.pages, start=1):
            lines.append(f"{'':9s}  history page {number} ({PAGE} entries): {_reads(page)}")
        lines.append(f"{'':9s}  ({scale.seconds:.0f} s on the corrected emulator, set-up included)")
    sequences = scales[-1]
    lines += [
        "",
        f"calls at {sequences.history:,d}: deployment recorded: {' -> '.join(sequences.deployment.calls)}",
        f"{'':{len(f'calls at {sequences.history:,d}: ')}}decision: {' -> '.join(sequences.decision.calls)}",
    ]
    return "\n".join(lines)


def run(*, sizes: Sequence[int] = SIZES, real: int = 12) -> str:
    """Measure and return the table (what ``python -m benchmarks`` prints)."""
    scales = []
    with Emulator() as emulator, corrected_emulator():
        for size in sizes:
            scales.append(measure(emulator, size, real))
            print(f"  ... ledger at {size:,d} history entries measured", file=sys.stderr, flush=True)
        emulator.reset()
    return table(scales, real)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default=",".join(str(size) for size in SIZES), help="history entries, comma-separated"
    )
    parser.add_argument(
        "--real", type=int, default=12, help="newest deployments made through the functions (default 12)"
    )
    args = parser.parse_args(argv)
    print(run(sizes=[int(size) for size in args.sizes.split(",")], real=args.real))


if __name__ == "__main__":
    main()
