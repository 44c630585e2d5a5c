"""Benchmark: each function's cold start in the Lambda environment, against ``python -c "import boto3"``.

    .venv/bin/python -m benchmarks.cold_start [--runs 7] [--handlers alarm_events,manual_rollback]
                                              [--pyc no|yes|both] [--before DIR] [--python PATH]
                                              [--gc on|disabled|frozen]

A cold start is a whole process: the interpreter starts, imports the handler module, and runs its
first invocation up to its first AWS call (the settings read from the environment, the clients it
needs built, the event parsed, Powertools' decorators run). The probe stops the process there: an
audit hook raises at the first DNS lookup or TCP connect, before any byte leaves the machine, so no
AWS (and no emulator) is needed. The environment is Lambda's: ``LAMBDA_TASK_ROOT`` and
``AWS_LAMBDA_FUNCTION_NAME`` set, tracing on (``POWERTOOLS_TRACE_DISABLED`` unset, a sampled
``_X_AMZN_TRACE_ID``), the function's variables as the construct writes them, fake credentials.
The package runs from a copy made by the code asset's own bundler (``constructs/code_asset.py``)
with bytecode writing off, as on Lambda's read-only task root: ``--pyc yes`` as the asset ships
it (each module's ``.pyc``, unchecked-hash, compiled by the measured interpreter, which stands in
for the runtime's), ``--pyc no`` the sources alone (the asset made where no interpreter of the
runtime's version is installed: every cold start compiles the package), ``both`` (the default)
the two.
``--before DIR`` measures another copy of the package beside this one, in the same run.

Each figure is a ratio to ``python -c "import boto3"`` in the same environment and the same run:
the two commands in turn (A B A B ...), the median of each, and the median of the pairwise ratios.
A process is timed from its start until it is ready, the moment it prints on the machine's
monotonic clock (the baseline once boto3 is imported, a handler at its first AWS call); the
'whole' column times the same runs to their exit, which adds the interpreter's teardown, a cost
a Lambda function (whose process lives on) never waits for in a cold start. Absolute times on a
shared machine are noise.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "lambdas" / "ecs_rollback"
ACCOUNT = "123456789012"
REGION = "us-east-1"
SERVICE_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/web"
BASELINE = "import boto3"
# Each measured program prints this clock (CLOCK_MONOTONIC, one clock for every process of the
# machine) when it is ready: the baseline once boto3 is imported, a handler at its first AWS call.
READY = '\nimport time; print("READY", time.monotonic_ns())'
HANDLERS = (
    "alarm_events",
    "deployment_events",
    "manual_rollback",
    "bake_timer",
    "image_events",
    "notifier",
    "reconciler",
    "release_gate",
)

# Runs in the measured process: stdlib only (what the interpreter has loaded anyway), then the
# handler. The audit hook ends the invocation at its first network step and names it on stdout.
PROBE = """
import os, sys, time
class FirstAwsCall(BaseException):
    pass
def hook(event, args):
    if event == "socket.getaddrinfo" or (event == "socket.connect" and args[0].type == 1):
        raise FirstAwsCall(f"{event} {args[0] if event == 'socket.getaddrinfo' else args[1]}")
mode = os.environ["PROBE_MODE"]
if os.environ.get("PROBE_GC") == "disabled":
    import gc; gc.disable()
module = "ecs_rollback.handlers." + os.environ["PROBE_HANDLER"]
if mode == "import":
    __import__(module)
    print("READY", time.monotonic_ns())
    print("imported", file=sys.stderr)
else:
    import json, importlib
    handler = importlib.import_module(module).handler
    if os.environ.get("PROBE_GC") == "frozen":
        import gc; gc.freeze()
    sys.addaudithook(hook)  # after the import, which makes no call: no hook on each import
    class Context:
        function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        function_version = "$LATEST"
        invoked_function_arn = os.environ["PROBE_FUNCTION_ARN"]
        memory_limit_in_mb = 512
        aws_request_id = "6f1f3c8e-0b7a-4d0e-9a57-5d2b1c3e4f60"
        log_group_name = "/aws/lambda/" + function_name
        log_stream_name = "2026/12/02/[$LATEST]0123456789abcdef"
        def get_remaining_time_in_millis(self):
            return 60000
    try:
        answer = handler(json.loads(os.environ["PROBE_EVENT"]), Context())
    except FirstAwsCall as reached:
        print("READY", time.monotonic_ns())
        print("first AWS call:", reached, file=sys.stderr)
    else:
        print("no AWS call; answered", str(answer)[:200], file=sys.stderr)
"""


@dataclass(frozen=True)
class Figure:
    """One command against the baseline: medians (seconds) and median pairwise ratios.

    ``ratio`` (range ``low``-``high``) is to the moment each process is ready (the baseline's
    boto3 imported, the handler at its first AWS call), from the moment it was started: what an
    invocation waits for. ``whole_ratio`` is the whole processes, start to exit: it adds the
    interpreter's teardown, which a Lambda function, whose process lives on, never pays in a
    cold start, and which is larger for a bigger heap.
    """

    label: str
    median: float
    baseline: float
    ratio: float
    low: float
    high: float
    whole_ratio: float
    reached: str


def events() -> dict[str, Any]:
    """One first event per function that takes it to an AWS call (a service in scope, prod/web)."""
    alarm = {
        "version": "0",
        "id": "7f1c2a3b-1d2e-4f5a-8b9c-0d1e2f3a4b5c",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": "2026-12-02T09:15:02Z",
        "region": REGION,
        "resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:web-cpu-high"],
        "detail": {
            "alarmName": "web-cpu-high",
            "configuration": {
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "dimensions": {"ClusterName": "prod", "ServiceName": "web"},
                                "name": "CPUUtilization",
                                "namespace": "AWS/ECS",
                            },
                            "period": 60,
                            "stat": "Average",
                        },
                        "returnData": True,
                    }
                ]
            },
            "previousState": {"reason": "ok", "timestamp": "2026-12-02T09:10:02.101+0000", "value": "OK"},
            "state": {
                "reason": "Threshold Crossed",
                "timestamp": "2026-12-02T09:15:02.224+0000",
                "value": "ALARM",
            },
        },
    }
    deployment = {
        "version": "0",
        "id": "ddca6449-b258-46c0-8653-e0e3a0000001",
        "detail-type": "ECS Deployment State Change",
        "source": "aws.ecs",
        "account": ACCOUNT,
        "time": "2026-12-02T09:00:00Z",
        "region": REGION,
        "resources": [SERVICE_ARN],
        "detail": {
            "eventType": "INFO",
            "eventName": "SERVICE_DEPLOYMENT_IN_PROGRESS",
            "deploymentId": "ecs-svc/1234567890123456789",
            "updatedAt": "2026-12-02T09:00:00Z",
            "reason": "ECS deployment ecs-svc/1234567890123456789 in progress.",
        },
    }
    image = {
        "version": "0",
        "id": "a1b2c3d4-9d8c-7b6a-5f4e-3d2c1b0a9f8e",
        "detail-type": "ECR Image Action",
        "source": "aws.ecr",
        "account": ACCOUNT,
        "time": "2026-12-02T12:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "result": "SUCCESS",
            "repository-name": "web",
            "image-digest": "sha256:" + "7f" * 32,
            "action-type": "DELETE",
        },
    }
    outbox = {
        "eventID": "1",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": {
            "Keys": {"pk": {"S": f"SVC#{SERVICE_ARN}"}, "sk": {"S": "OUT#rb-1"}},
            "NewImage": {
                "pk": {"S": f"SVC#{SERVICE_ARN}"},
                "sk": {"S": "OUT#rb-1"},
                "entity": {"S": "notification"},
                "schema_version": {"N": "2"},
                "kind": {"S": "OUTBOX"},
                "key": {"S": "rb-1"},
                "service_arn": {"S": SERVICE_ARN},
                "subject": {"S": "prod/web rolled back"},
                "message": {"S": "{}"},
                "attributes": {"M": {}},
                "created_at": {"S": "2026-12-02T09:15:03.000000Z"},
            },
            "SequenceNumber": "111",
            "SizeBytes": 300,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/ledger/stream/2026-12-02T00:00:00.000",
    }
    return {
        "alarm_events": alarm,
        "deployment_events": deployment,
        "manual_rollback": {
            "cluster": "prod",
            "service": "web",
            "reason": "5xx after deploy",
            "requested_by": f"arn:aws:iam::{ACCOUNT}:user/oncall",
        },
        "bake_timer": {
            "service_arn": SERVICE_ARN,
            "deployment_id": "ecs-svc/1234567890123456789",
            "due_at": "2026-12-02T09:10:00Z",
        },
        "image_events": image,
        "notifier": {"Records": [outbox]},
        "reconciler": {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}},
        # What ECS sends the release gate at PRE_SCALE_UP (the documented sample the tests keep).
        "release_gate": json.loads(
            (ROOT / "tests" / "events" / "ecs_lifecycle_hook_pre_scale_up.json").read_text()
        ),
    }


@functools.cache
def function_environment() -> dict[str, str]:
    """The variables the construct writes for a function (the contract's mapping) and Lambda's own."""
    if str(ROOT / "lambdas") not in sys.path:
        sys.path.insert(0, str(ROOT / "lambdas"))
    from ecs_rollback.contract import Env, from_environment, powertools_environment, to_environment

    # The required variables; the contract fills in the optional ones as a function would.
    settings = from_environment(
        {
            Env.HOME_ACCOUNT: ACCOUNT,
            Env.HOME_REGION: REGION,
            Env.LEDGER_TABLE_NAME: "ecs-rollback-ledger",
            Env.NOTIFICATION_TOPIC_ARN: f"arn:aws:sns:{REGION}:{ACCOUNT}:ecs-rollback-notifications",
            Env.SCOPE: json.dumps({"clusters": ["prod"]}),
            Env.BAKE_TIME_SECONDS: "600",
            Env.WATCH_WINDOW_SECONDS: "3600",
            Env.LOOP_GUARD_LIMIT: "3",
            Env.BAKE_TIMER_FUNCTION_ARN: f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ecs-rollback-bake-timer",
            Env.BAKE_TIMER_ROLE_ARN: f"arn:aws:iam::{ACCOUNT}:role/ecs-rollback-bake-timer",
            Env.BAKE_TIMER_DEAD_LETTER_ARN: f"arn:aws:sqs:{REGION}:{ACCOUNT}:ecs-rollback-bake-dead-letters",
            Env.SCHEDULE_GROUP_NAME: "ecs-rollback-bake",
        }
    )
    return {**to_environment(settings), **powertools_environment("INFO")}


def lambda_environment(task_root: Path, function: str) -> dict[str, str]:
    """What a Lambda function's process sees: Lambda's variables, tracing active, fake credentials."""
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    name = f"ecs-rollback-{function.replace('_', '-')}"
    return {
        **keep,
        **function_environment(),
        "LAMBDA_TASK_ROOT": str(task_root),
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "PYTHONPATH": str(task_root),
        "PROBE_HANDLER": function,
        "PROBE_FUNCTION_ARN": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
    }


def task_root(package: Path, *, with_pyc: bool, python: str) -> Path:
    """A copy of the package as the code asset ships it (its own bundler), compiled by ``python``."""
    from ecs_rollback_cdk.constructs.code_asset import bundle_package

    root = Path(tempfile.mkdtemp(prefix="ecs-rollback-task-root-"))
    bundle_package(package, root, python if with_pyc else None)
    return root


@dataclass(frozen=True)
class Variant:
    """One way of shipping one copy of the package."""

    label: str
    package: Path
    with_pyc: bool


@dataclass(frozen=True)
class Run:
    whole: float  # seconds, start to exit
    ready: float  # seconds, start to the READY stamp
    reached: str  # the last line on stderr (what the probe reached)


def _run(command: Sequence[str], environment: Mapping[str, str]) -> Run:
    started = time.monotonic_ns()
    result = subprocess.run(command, env=dict(environment), capture_output=True, text=True, check=False)  # noqa: S603
    ended = time.monotonic_ns()
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)[:120]} exited {result.returncode}: {result.stderr[-2000:]}")
    stamps = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("READY ")]
    if len(stamps) != 1:
        raise RuntimeError(f"{' '.join(command)[:120]} printed no READY stamp: {result.stderr[-2000:]}")
    reached = (result.stderr.strip().splitlines() or [""])[-1]
    return Run((ended - started) / 1e9, (int(stamps[0]) - started) / 1e9, reached)


def versus_baseline(
    label: str, command: Sequence[str], environment: Mapping[str, str], runs: int, python: str
) -> Figure:
    """``command`` and the baseline in turn (A B A B ...) after one warm-up of each."""
    baseline_command = [python, "-c", BASELINE + READY]
    _run(baseline_command, environment)
    reached = _run(command, environment).reached
    ours, theirs = [], []
    for _ in range(runs):
        theirs.append(_run(baseline_command, environment))
        ours.append(_run(command, environment))
    ratios = sorted(a.ready / b.ready for a, b in zip(ours, theirs, strict=True))
    whole = [a.whole / b.whole for a, b in zip(ours, theirs, strict=True)]
    return Figure(
        label,
        statistics.median(run.ready for run in ours),
        statistics.median(run.ready for run in theirs),
        statistics.median(ratios),
        ratios[0],
        ratios[-1],
        statistics.median(whole),
        reached,
    )


# What the libraries alone cost, none of the project's code: the floor under any handler, built
# up one library at a time (each row adds to the one before it, from "botocore + one client").
_BOTOCORE_CLIENT = "import botocore.session; botocore.session.get_session().create_client('dynamodb')"
_PYDANTIC = "from pydantic import BaseModel"
_LOGGER_METRICS = "from aws_lambda_powertools import Logger, Metrics; Logger(); Metrics()"
_TRACER = "from aws_lambda_powertools import Tracer; Tracer(patch_modules=('botocore',))"
_PARSER = "from aws_lambda_powertools.utilities.parser.models import EventBridgeModel"
REFERENCES = {
    "boto3 + one client": "import boto3; boto3.client('dynamodb')",
    "botocore + one client": _BOTOCORE_CLIENT,
    "  + pydantic": "; ".join((_BOTOCORE_CLIENT, _PYDANTIC)),
    "  + Logger, Metrics": "; ".join((_BOTOCORE_CLIENT, _PYDANTIC, _LOGGER_METRICS)),
    "  + Tracer (X-Ray)": "; ".join((_BOTOCORE_CLIENT, _PYDANTIC, _LOGGER_METRICS, _TRACER)),
    "  + parser models": "; ".join((_BOTOCORE_CLIENT, _PYDANTIC, _LOGGER_METRICS, _TRACER, _PARSER)),
}


def measure_references(runs: int, python: str) -> list[Figure]:
    """Each reference program in the Lambda environment, against the baseline."""
    environment = lambda_environment(Path(tempfile.gettempdir()), "alarm_events")
    return [
        versus_baseline(label, [python, "-c", code + READY], environment, runs, python)
        for label, code in REFERENCES.items()
    ]


def measure(
    handlers: Sequence[str], variants: Sequence[Variant], runs: int, python: str, gc: str = "on"
) -> dict[tuple[str, str], tuple[Figure, Figure]]:
    """Per (variant, handler): (import only, to the first AWS call), each against the baseline."""
    first_events = events()
    results: dict[tuple[str, str], tuple[Figure, Figure]] = {}
    for variant in variants:
        root = task_root(variant.package, with_pyc=variant.with_pyc, python=python)
        try:
            for handler in handlers:
                if not (variant.package / "handlers" / f"{handler}.py").is_file():
                    continue  # a --before package from before that function existed
                environment = lambda_environment(root, handler)
                environment["PROBE_EVENT"] = json.dumps(first_events[handler])
                environment["PYTHONDONTWRITEBYTECODE"] = "1"  # the task root is read-only
                environment["PROBE_GC"] = gc
                command = [python, "-c", PROBE]
                imported = versus_baseline(
                    "import", command, {**environment, "PROBE_MODE": "import"}, runs, python
                )
                first = versus_baseline(
                    "first call", command, {**environment, "PROBE_MODE": "first_call"}, runs, python
                )
                if not first.reached.startswith("first AWS call"):
                    raise RuntimeError(f"{handler} ({variant.label}) made no AWS call: {first.reached}")
                results[(variant.label, handler)] = (imported, first)
                print(
                    f"  ... cold start of {handler} ({variant.label}) measured", file=sys.stderr, flush=True
                )
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return results


def table(
    handlers: Sequence[str],
    variants: Sequence[Variant],
    results: Mapping[tuple[str, str], tuple[Figure, Figure]],
    references: Sequence[Figure],
    runs: int,
    python: str,
) -> str:
    version = subprocess.run(  # noqa: S603
        [python, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    width = 24
    lines = [
        f"Cold start in the Lambda environment (tracing on), Python {version}, as a ratio to",
        f'`python -c "{BASELINE}"` in the same run (median of {runs} pairwise ratios, A B A B; the range in',
        "brackets), each process from its start until it is ready (the baseline: boto3 imported).",
        "'import': the handler module imported; '1st call': its first invocation up to its first AWS",
        "call (settings, the client it needs, the event parsed); 'whole': the same two processes from",
        "start to exit (adds the interpreter's teardown, which a cold start in Lambda never waits for).",
        "Goal: 1st call <= 1.5x.",
        "",
        "function".ljust(width) + "".join(f"{variant.label:>38s}" for variant in variants),
        "".ljust(width) + "".join(f"{'import':>10s}{'1st call':>20s}{'whole':>8s}" for _ in variants),
    ]
    for handler in handlers:
        row = handler.ljust(width)
        for variant in variants:
            if (variant.label, handler) not in results:
                row += f"{'(no such function)':>38s}"
                continue
            imported, first = results[(variant.label, handler)]
            row += (
                f"{imported.ratio:9.2f}x{first.ratio:8.2f}x ({first.low:.2f}-{first.high:.2f})"
                f"{first.whole_ratio:7.2f}x"
            )
        lines.append(row)
    if references:
        lines += [
            "",
            "the libraries alone, no project code (each '+' row adds to the row above it; the last is",
            "the floor under every handler: botocore's client, pydantic, Powertools' Logger, Metrics,",
            "Tracer with botocore patched, and its EventBridgeModel):",
        ]
        lines += [
            f"{ref.label.ljust(width)}{'':10s}{ref.ratio:8.2f}x ({ref.low:.2f}-{ref.high:.2f}){ref.whole_ratio:7.2f}x"
            for ref in references
        ]
    baseline = statistics.median(first.baseline for _, first in results.values())
    lines.append(
        f"(`{BASELINE}` was ready after a median {baseline * 1000:.0f} ms here; first AWS call of each: "
    )
    lines[-1] += (
        ", ".join(sorted({first.reached.split()[-1].split(".")[0] for _, first in results.values()})) + ")"
    )
    return "\n".join(lines)


def run(
    *,
    runs: int = 7,
    handlers: Sequence[str] = HANDLERS,
    pyc: str = "both",
    before: Path | None = None,
    references: bool = True,
    python: str = sys.executable,
    gc: str = "on",
) -> str:
    """Measure and return the table (what ``python -m benchmarks`` prints).

    ``gc``: ``disabled`` turns the handler's garbage collector off before its imports, ``frozen``
    freezes what the imports made (``gc.freeze()``) before the first invocation: alternatives
    measured, not what the functions do (``on``).
    """
    modes = {"no": [False], "yes": [True], "both": [False, True]}[pyc]
    packages = [("", PACKAGE)] + ([("before, ", before)] if before else [])
    variants = [
        Variant(f"{prefix}{'as deployed (.pyc)' if with_pyc else 'sources only'}", package, with_pyc)
        for prefix, package in packages
        for with_pyc in modes
    ]
    results = measure(handlers, variants, runs, python, gc)
    figures = measure_references(runs, python) if references else []
    measured = table(handlers, variants, results, figures, runs, python)
    return measured if gc == "on" else f"(the handlers' garbage collector: {gc})\n{measured}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="alternating runs per figure (default 7)")
    parser.add_argument("--handlers", default=",".join(HANDLERS), help="comma-separated handler modules")
    parser.add_argument(
        "--pyc", choices=("no", "yes", "both"), default="both", help="ship the package without/with .pyc"
    )
    parser.add_argument("--before", type=Path, help="another copy of ecs_rollback, measured beside this one")
    parser.add_argument("--no-references", action="store_true", help="skip the libraries-only rows")
    parser.add_argument("--python", default=sys.executable, help="the interpreter to measure")
    parser.add_argument(
        "--gc",
        choices=("on", "disabled", "frozen"),
        default="on",
        help="the handlers' garbage collector: as the functions run (on), off before the imports, "
        "or gc.freeze() after them (alternatives measured)",
    )
    args = parser.parse_args(argv)
    handlers = [name for name in args.handlers.split(",") if name]
    unknown = set(handlers) - set(HANDLERS)
    if unknown:
        parser.error(f"unknown handlers {sorted(unknown)}")
    print(
        run(
            runs=args.runs,
            handlers=handlers,
            pyc=args.pyc,
            before=args.before,
            references=not args.no_references,
            python=args.python,
            gc=args.gc,
        )
    )


if __name__ == "__main__":
    main()
