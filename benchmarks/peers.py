"""Benchmark: this project's rollback paths against the peers', on one emulator, in one run.

    .venv/bin/python -m benchmarks.peers [--runs 5] [--peers-venv /tmp/peers-venv] [--no-ecs-deploy]

Every row rolls back its own service from the same story: ``web:1`` baked GOOD, ``web:2`` deployed
and COMPLETED, then it goes bad. A second story has a bad ``N-1``: ``web:2`` went bad and was rolled
back, and ``web:3`` now goes bad too.

- ``ecs-auto-rollback, alarm``: the alarm's event delivered to the alarm function (warm clients),
  the outbox's notification included.
- ``ecs-auto-rollback, manual``: the manual function invoked with ``last-good``.
- ``classic script``: ``aws ecs update-service --task-definition family:N-1`` as a script plays
  it, in boto3 calls: DescribeServices (what runs), DescribeTaskDefinition (its family and
  revision), ListTaskDefinitions (the family's ACTIVE revisions: N-1 is the one before N; the
  emulator ignores ``sort``, so the script sorts), UpdateService.
- ``classic dialog``: the interactive form of the same script, as ``docs/cli.md`` describes the
  classic dialog (cluster, service, then a revision from ``family:N-1`` down, then confirm):
  ListClusters, ListServices, DescribeServices, ListTaskDefinitions, DescribeTaskDefinition for
  each of the newest five revisions shown, UpdateService. The seed's own ``rollback_dialog`` is not
  in the repository's history (no commit holds that name), so this row is modelled, not replayed.
- ``fabfuel ecs-deploy``: ``ecs deploy CLUSTER SERVICE --task family:N-1 --timeout -1`` as a process
  (it has no ``rollback`` command; ``--rollback`` only undoes a deploy it is running, and
  ``--task`` is how its README deploys a chosen revision). ``--timeout -1`` is its fire-and-forget:
  by default it polls until ECS reaches steady state, which the emulator's ECS never reports on
  its own. It is installed for the benchmark only (``pip install ecs-deploy`` into
  ``--peers-venv``) and reaches the emulator through ``AWS_ENDPOINT_URL``; its calls are counted
  at the emulator's request path.

Columns: AWS calls up to and including UpdateService, calls in all, the wall time of the path
(median of ``--runs``), and what the service runs afterwards. The emulator is corrected as for
the ledger benchmark (``ledger_scale.corrected_emulator``: a Query reads its partition, a
transaction copies only the items it writes), so this project's DynamoDB calls cost what they
cost, not moto's whole-table copies. In-process rows (this project's
functions, the classic script and dialog) run with warm clients; ecs-deploy's time is a whole
process, its interpreter's start included. Ratios are to this project's alarm path.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import benchmarks.in_process  # noqa: F401  (sets the environment the functions load with)
from benchmarks.ledger_scale import corrected_emulator
from ecs_rollback.domain.model import ServiceId
from ecs_rollback_sandbox.clock import ManualClock
from ecs_rollback_sandbox.emulator import Emulator
from ecs_rollback_sandbox.emulator_fixes import forget_tracked_models
from ecs_rollback_sandbox.faults import classify
from ecs_rollback_sandbox.world import World

CLUSTER = "prod"
SHA = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
UPDATE = "ecs.UpdateService"
PEERS_VENV = Path(tempfile.gettempdir()) / "peers-venv"
ECS_DEPLOY = "ecs-deploy==1.17.0"


@dataclass
class Story:
    """One service ready to roll back: what it runs now, and the revision that was GOOD."""

    service: ServiceId
    revisions: list[str]  # every revision registered, oldest first
    good: str  # the GOOD revision (web:1)

    @property
    def current(self) -> str:
        return self.revisions[-1]


@dataclass
class Outcome:
    calls: list[str]
    seconds: float  # the whole path
    to_update: float  # from the trigger until UpdateService was answered
    runs_after: str
    note: str = ""


@dataclass
class Row:
    label: str
    outcomes: list[Outcome] = field(default_factory=list)

    def median(self, pick: Callable[[Outcome], float]) -> float:
        return statistics.median(pick(outcome) for outcome in self.outcomes)


@dataclass
class Timed:
    """What one path did: its calls, its wall time, and when UpdateService was answered."""

    calls: list[str]
    seconds: float
    to_update: float
    note: str = ""


class UpdateClock:
    """Marks when UpdateService is answered, from a client's own event hooks."""

    def __init__(self) -> None:
        self.started = 0.0
        self.answered: float | None = None

    def start(self) -> None:
        self.started, self.answered = time.perf_counter(), None

    def mark(self, **_: Any) -> None:
        if self.answered is None:
            self.answered = time.perf_counter() - self.started

    def timed(self, calls: list[str], note: str = "") -> Timed:
        seconds = time.perf_counter() - self.started
        return Timed(calls, seconds, self.answered if self.answered is not None else seconds, note)


def until_update(calls: Sequence[str]) -> int:
    return calls.index(UPDATE) + 1 if UPDATE in calls else len(calls)


def make_story(world: World, name: str, *, bad_previous: bool) -> Story:
    """``web:1`` baked GOOD; ``web:2`` COMPLETED (and, with ``bad_previous``, rolled back on an alarm,
    then ``web:3`` COMPLETED). Images named by digest, so no pinned copy is registered."""
    uri = world.repository_uri(name)
    count = 3 if bad_previous else 2
    revisions = []
    for version in range(1, count + 1):
        digest = world.push_image(name, f"v{version}", content=f"{name} build {version}")
        tags = {"ecs-rollback:git-sha": SHA} if version == 1 else None
        revisions.append(world.register(name, {"app": f"{uri}@{digest}"}, tags=tags))
    service = world.ecs.create_service(CLUSTER, name, revisions[0])
    world.cloudwatch.create_service_alarm(f"{name}-cpu", CLUSTER, name)
    world.run_ecs()
    world.clock.advance(timedelta(minutes=11))
    world.fire_timers()  # web:1 GOOD
    world.clock.advance(timedelta(minutes=1))
    world.deploy(service, revisions[1])
    if bad_previous:
        world.clock.advance(timedelta(minutes=2))
        world.deliver(_alarm(world, name))  # web:2 goes bad: rolled back to web:1
        world.run_ecs()
        world.cloudwatch.set_state(f"{name}-cpu", "OK")
        world.clock.advance(timedelta(minutes=5))
        world.deploy(service, revisions[2])
    world.clock.advance(timedelta(minutes=2))
    world.notifications()  # the set-up's, drained
    return Story(service, revisions, revisions[0])


def _alarm(world: World, name: str) -> dict[str, Any]:
    world.cloudwatch.set_state(f"{name}-cpu", "OK")
    return world.cloudwatch.set_state(f"{name}-cpu", "ALARM")


def _ours(world: World, function: str, trigger: Callable[[], Any], clock: UpdateClock) -> Timed:
    deps = world.deps(function)  # a warm function: its clients made before the trigger
    world.deps("notifier")
    client = getattr(deps.ecs, "_client")  # noqa: B009 (the adapter's client, for its event hooks)
    if not getattr(client, "_benchmark_clock", False):
        client.meta.events.register("after-call.ecs.UpdateService", clock.mark)
        client._benchmark_clock = True
    world.calls.clear()
    clock.start()
    trigger()
    return clock.timed(list(world.calls))


def alarm_path(world: World, story: Story, clock: UpdateClock) -> Timed:
    event = _alarm(world, story.service.name)
    return _ours(world, "alarm_events", lambda: world.deliver(event), clock)


def manual_path(world: World, story: Story, clock: UpdateClock) -> Timed:
    request = {"cluster": CLUSTER, "service": story.service.name, "reason": "benchmark"}
    return _ours(world, "manual_rollback", lambda: world.manual(**request), clock)


class Recorder:
    """A boto3 ECS client for the scripts, with every call it makes recorded (warm: made once)."""

    def __init__(self, emulator: Emulator, clock: UpdateClock) -> None:
        self.calls: list[str] = []
        session = emulator.session()
        session.events.register("before-call.*.*", self._record)
        session.events.register("after-call.ecs.UpdateService", clock.mark)
        self.ecs: Any = session.client("ecs", endpoint_url=emulator.endpoint)

    def _record(self, event_name: str, **_: Any) -> None:
        _phase, service, operation = event_name.split(".", 2)
        self.calls.append(f"{service}.{operation}")


def _family_revisions(ecs: Any, family: str) -> list[str]:
    arns: list[str] = []
    token = None
    while True:
        page = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE", sort="DESC", **token or {})
        arns += page["taskDefinitionArns"]
        if not page.get("nextToken"):
            break
        token = {"nextToken": page["nextToken"]}
    return sorted(arns, key=lambda arn: int(arn.rsplit(":", 1)[1]), reverse=True)


def classic_script(recorder: Recorder, story: Story, clock: UpdateClock) -> Timed:
    """What runs, its family and revision, the ACTIVE revisions, then the one before it."""
    ecs, cluster, name = recorder.ecs, story.service.cluster, story.service.name
    recorder.calls.clear()
    clock.start()
    current = ecs.describe_services(cluster=cluster, services=[name])["services"][0]["taskDefinition"]
    definition = ecs.describe_task_definition(taskDefinition=current)["taskDefinition"]
    family, revision = definition["family"], definition["revision"]
    older = [arn for arn in _family_revisions(ecs, family) if int(arn.rsplit(":", 1)[1]) < revision]
    ecs.update_service(cluster=cluster, service=name, taskDefinition=older[0])
    return clock.timed(list(recorder.calls))


def classic_dialog(recorder: Recorder, story: Story, clock: UpdateClock) -> Timed:
    """The dialog: pick a cluster and a service, see the newest revisions, take N-1, confirm."""
    ecs, cluster, name = recorder.ecs, story.service.cluster, story.service.name
    recorder.calls.clear()
    clock.start()
    clusters = ecs.list_clusters()["clusterArns"]
    chosen = next(arn for arn in clusters if arn.endswith(f"/{cluster}"))
    services = ecs.list_services(cluster=chosen)["serviceArns"]
    service_arn = next(arn for arn in services if arn.endswith(f"/{name}"))
    current = ecs.describe_services(cluster=chosen, services=[service_arn])["services"][0]["taskDefinition"]
    family = current.rsplit("/", 1)[1].rsplit(":", 1)[0]
    shown = _family_revisions(ecs, family)[:5]
    for arn in shown:  # image, registration time: what the operator picks from
        ecs.describe_task_definition(taskDefinition=arn)
    previous = shown[shown.index(current) + 1]  # the default: N-1
    ecs.update_service(cluster=chosen, service=service_arn, taskDefinition=previous)
    return clock.timed(list(recorder.calls))


class RequestLog:
    """Every request the emulator answers, with when it answered: the peers' calls, counted where
    AWS would see them (a WSGI wrapper around moto's application, as ``faults.attach`` does)."""

    def __init__(self, emulator: Emulator) -> None:
        self._server: Any = getattr(emulator._server, "_server", None)
        self.requests: list[tuple[float, str]] = []

    def __enter__(self) -> RequestLog:
        app = self._server.app

        def logged(environ: dict[str, Any], start_response: Any) -> Any:
            request = classify(environ)
            answer = app(environ, start_response)
            self.requests.append((time.perf_counter(), f"{request.service}.{request.operation}"))
            return answer

        self._app, self._server.app = app, logged
        return self

    def __exit__(self, *_: object) -> None:
        self._server.app = self._app


def ecs_deploy(emulator: Emulator, venv: Path, story: Story) -> Timed:
    """``ecs deploy CLUSTER SERVICE --task family:N-1 --timeout -1`` as a process."""
    family, revision = story.current.rsplit("/", 1)[1].rsplit(":", 1)
    command = [
        str(venv / "bin" / "ecs"),
        "deploy",
        story.service.cluster,
        story.service.name,
        "--task",
        f"{family}:{int(revision) - 1}",
        "--timeout",
        "-1",
    ]
    environment = {**os.environ, **emulator.environment}
    with RequestLog(emulator) as log:
        started = time.perf_counter()
        result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)  # noqa: S603
        seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(
            f"ecs-deploy failed ({result.returncode}): {result.stdout[-500:]} {result.stderr[-500:]}"
        )
    calls = [call for _, call in log.requests]
    to_update = next((at - started for at, call in log.requests if call == UPDATE), seconds)
    return Timed(calls, seconds, to_update, "registers a copy of N-1, then deregisters N-1")


def install_ecs_deploy(venv: Path) -> str | None:
    """ecs-deploy in its own virtual environment (made if missing); None, or why it cannot run."""
    executable = venv / "bin" / "ecs"
    if not executable.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)  # noqa: S603
            subprocess.run(  # noqa: S603
                [str(venv / "bin" / "pip"), "install", "--quiet", ECS_DEPLOY],
                check=True,
                capture_output=True,
                timeout=300,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            return f"pip install {ECS_DEPLOY} into {venv} failed: {error}"
    return None


def runs_after(world: World, story: Story) -> str:
    """What the service runs now, and whether it is the GOOD revision's image."""
    arn = world.service_task_definition(story.service)
    ecs = world.emulator.client("ecs")

    def image(task_definition: str) -> str:
        return str(
            ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"][
                "containerDefinitions"
            ][0]["image"]
        )

    revision = arn.rsplit(":", 1)[1]
    return f"revision {revision}, {'the GOOD image' if image(arn) == image(story.good) else 'not the GOOD image'}"


def measure(emulator: Emulator, runs: int, venv: Path | None) -> tuple[dict[str, list[Row]], str | None]:
    """Every path, ``runs`` times on each story; a fresh service per run."""
    world = World.direct(emulator, ManualClock(), name="peers")
    clock = UpdateClock()
    recorder = Recorder(emulator, clock)
    skipped = install_ecs_deploy(venv) if venv is not None else "not asked for (--no-ecs-deploy)"
    paths: list[tuple[str, Callable[[Story], Timed]]] = [
        ("ecs-auto-rollback, alarm (automatic)", lambda story: alarm_path(world, story, clock)),
        ("ecs-auto-rollback, manual last-good", lambda story: manual_path(world, story, clock)),
        ("classic script, update-service N-1", lambda story: classic_script(recorder, story, clock)),
        ("classic dialog (modelled), N-1", lambda story: classic_dialog(recorder, story, clock)),
    ]
    if venv is not None and skipped is None:
        paths.append(("fabfuel ecs-deploy --task N-1", lambda story: ecs_deploy(emulator, venv, story)))
    tables: dict[str, list[Row]] = {}
    for story_label, bad_previous in (("N-1 is the GOOD web:1", False), ("N-1 is BAD (web:3 runs)", True)):
        rows = []
        for index, (label, path) in enumerate(paths):
            row = Row(label)
            for run in range(runs):
                story = make_story(world, f"p{int(bad_previous)}{index}r{run}", bad_previous=bad_previous)
                forget_tracked_models()  # moto keeps every object it made (memory only)
                timed = path(story)
                row.outcomes.append(
                    Outcome(timed.calls, timed.seconds, timed.to_update, runs_after(world, story), timed.note)
                )
            rows.append(row)
            print(f"  ... {label} measured ({story_label})", file=sys.stderr, flush=True)
        tables[story_label] = rows
    return tables, skipped


def table(tables: dict[str, list[Row]], runs: int, skipped: str | None) -> str:
    lines = [
        f"Rollback paths on one emulator, in one run: medians of {runs} runs, a fresh service each;",
        "(x) = ratio to this project's alarm path. ms: wall time on the emulator, from the trigger to",
        "UpdateService answered, and of the whole path (this project's: the decision, the record and",
        "the notification; ecs-deploy's: a whole process, its interpreter's start included).",
    ]
    for story_label, rows in tables.items():
        base = rows[0]
        base_update = base.median(lambda o: until_update(o.calls))
        base_all = base.median(lambda o: len(o.calls))
        base_to_update = base.median(lambda o: o.to_update)
        base_time = base.median(lambda o: o.seconds)
        lines += [
            "",
            f"story: {story_label}",
            f"{'path':38s} {'calls to UpdateService':>22s} {'calls in all':>13s} "
            f"{'ms to UpdateService':>20s} {'ms in all':>15s}  the service runs afterwards",
        ]
        for row in rows:
            to_update = row.median(lambda o: until_update(o.calls))
            in_all = row.median(lambda o: len(o.calls))
            ms_update = row.median(lambda o: o.to_update)
            seconds = row.median(lambda o: o.seconds)
            last = row.outcomes[-1]
            note = f"; {last.note}" if last.note else ""
            lines.append(
                f"{row.label:38s} {to_update:12.0f} ({to_update / base_update:4.2f}x) "
                f"{in_all:5.0f} ({in_all / base_all:4.2f}x) "
                f"{ms_update * 1000:11.0f} ({ms_update / base_to_update:5.2f}x) "
                f"{seconds * 1000:6.0f} ({seconds / base_time:5.2f}x)  {last.runs_after}{note}"
            )
        lines.append("sequences (last run):")
        for row in rows:
            calls = row.outcomes[-1].calls
            lines.append(f"  {row.label}: {' -> '.join(calls[: until_update(calls)])}")
            if len(calls) > until_update(calls):
                lines.append(f"  {'':{len(row.label)}}  then {' -> '.join(calls[until_update(calls) :])}")
    if skipped:
        lines.append(f"fabfuel ecs-deploy not measured: {skipped}")
    return "\n".join(lines)


def run(*, runs: int = 5, venv: Path | None = PEERS_VENV) -> str:
    """Measure and return the tables (what ``python -m benchmarks`` prints)."""
    with Emulator() as emulator, corrected_emulator():
        tables, skipped = measure(emulator, runs, venv)
    return table(tables, runs, skipped)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per path and story (default 5)")
    parser.add_argument(
        "--peers-venv",
        type=Path,
        default=PEERS_VENV,
        help=f"where {ECS_DEPLOY} is installed (made if missing)",
    )
    parser.add_argument("--no-ecs-deploy", action="store_true", help="leave fabfuel ecs-deploy out")
    args = parser.parse_args(argv)
    print(run(runs=args.runs, venv=None if args.no_ecs_deploy else args.peers_venv))


if __name__ == "__main__":
    main()
