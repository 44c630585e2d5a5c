"""``ecs-rollback timeline``: one self-contained HTML page of every service's releases over time.

The page is a single file with inline CSS, inline SVG and one small inline script (hover
tooltips; without it the SVG ``<title>`` elements give the same text): nothing is fetched from
the network. One row per service; each deployment is a mark on a shared time axis, coloured by
its ledger status, with its bake window drawn; each decision on a trigger (an alarm, a failed
deployment, a known-BAD release, an operator) is a marker under the row; each rollback is an
arrow from the release it left to the release it restored.

The ledger is read as the other commands read it: the ``by_kind`` index for the services (one
``Query`` per hundred, never a scan), the ``history`` index for each service's deployments, and
the service's ``RB#`` items for its decisions. Every string from the ledger is escaped.
"""

from __future__ import annotations

import bisect
import html
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from ecs_rollback.domain.model import (
    Deployment,
    Origin,
    Outcome,
    RollbackRecord,
    ServiceId,
    Status,
    TriggerKind,
)
from ecs_rollback.domain.state import ServiceState
from ecs_rollback.ports import Ledger
from ecs_rollback_cli.context import cli_of
from ecs_rollback_cli.errors import EXIT_USAGE, CliError
from ecs_rollback_cli.params import argument, value
from ecs_rollback_cli.views import short_digest, short_sha, when

DEFAULT_LIMIT = 50
MAX_DECISIONS = 1000  # decisions read per service at most (newest first)
PAGE = 100

# -- reading the ledger ---------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceTimeline:
    """What the page shows of one service: deployments and decisions, oldest first."""

    service: ServiceId
    deployments: list[Deployment]
    decisions: list[RollbackRecord]
    current_deployment_id: str | None = None
    truncated: bool = False  # the ledger holds older deployments than these


@dataclass(frozen=True)
class TimelineData:
    services: list[ServiceTimeline]
    now: datetime
    bake_time_seconds: int | None = None
    source: str = ""  # where it was read from (the ledger table), for the page's header
    limit: int = DEFAULT_LIMIT

    @property
    def deployment_count(self) -> int:
        return sum(len(row.deployments) for row in self.services)

    @property
    def rollback_count(self) -> int:
        return sum(1 for row in self.services for record in row.decisions if _is_rollback(record))


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def ledger_services(ledger: Ledger) -> list[ServiceState]:
    """Every service in the ledger, from the ``by_kind`` index, by cluster and name."""
    states: list[ServiceState] = []
    cursor: str | None = None
    while True:
        page = ledger.services(limit=PAGE, cursor=cursor)
        states.extend(page.items)
        cursor = page.cursor
        if not cursor:
            return sorted(states, key=lambda state: (state.service.cluster, state.service.name))


def read_service(ledger: Ledger, state: ServiceState, limit: int = DEFAULT_LIMIT) -> ServiceTimeline:
    """The newest ``limit`` deployments of a service and its decisions since the oldest of them."""
    deployments: list[Deployment] = []
    cursor: str | None = None
    while len(deployments) < limit:
        page = ledger.history(state.service, limit=min(PAGE, limit - len(deployments)), cursor=cursor)
        deployments.extend(page.items)
        cursor = page.cursor
        if not cursor:
            break
    truncated = cursor is not None
    oldest = min((d.started_at for d in deployments), default=None)
    decisions: list[RollbackRecord] = []
    cursor = None
    while len(decisions) < MAX_DECISIONS:
        rollbacks = ledger.rollbacks(state.service, limit=PAGE, cursor=cursor)
        decisions.extend(rollbacks.items)
        cursor = rollbacks.cursor
        older = oldest is not None and bool(rollbacks.items) and rollbacks.items[-1].created_at < oldest
        if not cursor or (truncated and older):
            break
    if truncated and oldest is not None:
        decisions = [record for record in decisions if record.created_at >= oldest]
    return ServiceTimeline(
        service=state.service,
        deployments=sorted(deployments, key=lambda d: (d.started_at, d.deployment_id)),
        decisions=sorted(decisions, key=lambda r: (r.triggered_at, r.created_at)),
        current_deployment_id=state.current.deployment_id if state.current else None,
        truncated=truncated,
    )


def collect(
    ledger: Ledger,
    states: Iterable[ServiceState],
    *,
    now: datetime,
    limit: int = DEFAULT_LIMIT,
    bake_time_seconds: int | None = None,
    source: str = "",
    progress: Callable[[str], None] = lambda _line: None,
) -> TimelineData:
    rows = []
    for state in states:
        row = read_service(ledger, state, limit)
        more = " (older ones in the ledger)" if row.truncated else ""
        progress(
            f"{row.service}: {_count(len(row.deployments), 'deployment')}{more}, "
            f"{_count(len(row.decisions), 'decision')}"
        )
        rows.append(row)
    return TimelineData(rows, now, bake_time_seconds, source, limit)


# -- the time axis --------------------------------------------------------------------------

MIN_DEPLOYMENT_PX = 16.0  # a deployment's mark is never narrower (its next one starts later)
MIN_DUE_PX = 10.0  # the bake left of the release baking now
_TICK_STEPS = (60, 300, 600, 900, 1800, 3600, 10800, 21600, 43200, 86400, 172800, 604800, 1209600, 2592000)
MIN_TICK_PX = 84.0


def _seconds(moment: datetime) -> float:
    return moment.timestamp()


@dataclass(frozen=True)
class TimeScale:
    """A monotone, piecewise-linear map from time to pixels: proportional to time, except that it
    is stretched where releases follow each other closely, so that each deployment's mark stays
    wide enough to see and to point at (``constraints``: minimum pixels between two moments).
    A stretched stretch reads as "more happened here"; the ticks say when."""

    knots: tuple[float, ...]
    positions: tuple[float, ...]

    @classmethod
    def fit(
        cls,
        start: float,
        end: float,
        constraints: Sequence[tuple[float, float, float]],
        width: float,
    ) -> TimeScale:
        knots = sorted({start, end, *(t for a, b, _ in constraints for t in (a, b))})
        index = {t: i for i, t in enumerate(knots)}
        ending: list[list[tuple[int, float]]] = [[] for _ in knots]
        for a, b, minimum in constraints:
            if b > a:
                ending[index[b]].append((index[a], minimum))

        def layout(per_second: float) -> list[float]:
            positions = [0.0]
            for i in range(1, len(knots)):
                x = positions[-1] + per_second * (knots[i] - knots[i - 1])
                for a, minimum in ending[i]:
                    x = max(x, positions[a] + minimum)
                positions.append(x)
            return positions

        span = max(end - start, 1.0)
        low, high = 0.0, width / span
        if layout(low)[-1] < width:
            for _ in range(48):
                middle = (low + high) / 2
                if layout(middle)[-1] <= width:
                    low = middle
                else:
                    high = middle
        positions = layout(low)
        total = positions[-1]
        if 0 < total < width:  # stretching keeps every minimum
            positions = [x * width / total for x in positions]
        return cls(tuple(knots), tuple(positions))

    @property
    def width(self) -> float:
        return self.positions[-1] if self.positions else 0.0

    def x(self, moment: datetime | float) -> float:
        t = moment if isinstance(moment, float) else _seconds(moment)
        knots, positions = self.knots, self.positions
        if t <= knots[0]:
            return positions[0]
        if t >= knots[-1]:
            return positions[-1]
        i = bisect.bisect_right(knots, t)
        t0, t1, x0, x1 = knots[i - 1], knots[i], positions[i - 1], positions[i]
        return x0 + (x1 - x0) * (t - t0) / (t1 - t0)

    def ticks(self) -> list[tuple[float, int]]:
        """(time, step) of the axis labels: round times of the coarsest step first, finer ones only
        where the axis is stretched enough to hold them."""
        start, end = self.knots[0], self.knots[-1]
        kept: list[tuple[float, float, int]] = []  # (x, time, step), sorted by x
        for step in reversed(_TICK_STEPS):
            if (end - start) / step > 4000:
                continue
            t = (start // step + 1) * step
            while t < end:
                x = self.x(t)
                i = bisect.bisect_left(kept, (x, 0.0, 0))
                near = [kept[j][0] for j in (i - 1, i) if 0 <= j < len(kept)]
                if x > MIN_TICK_PX / 2 and all(abs(x - other) >= MIN_TICK_PX for other in near):
                    kept.insert(i, (x, t, step))
                t += step
        return [(t, step) for _, t, step in kept]


# -- rendering ------------------------------------------------------------------------------

LABEL_WIDTH = 220.0
RIGHT_MARGIN = 36.0
PLOT_PADDING = 10.0
AXIS_HEIGHT = 40.0
ROW_HEIGHT = 70.0
ARC_SPACE = 24.0  # above the bar, for the rollback arrows
BAR_HEIGHT = 20.0
MARKER_SIZE = 6.0
MIN_PLOT_WIDTH = 1080.0
MAX_PLOT_WIDTH = 4800.0
PX_PER_DEPLOYMENT = 22.0

STATUS_LABEL = {
    Status.GOOD: "GOOD",
    Status.COMPLETED: "COMPLETED (baking)",
    Status.IN_PROGRESS: "IN_PROGRESS",
    Status.ROLLED_BACK: "ROLLED_BACK (BAD)",
    Status.FAILED: "FAILED (BAD)",
}
TRIGGER_LABEL = {
    TriggerKind.ALARM: "alarm",
    TriggerKind.DEPLOYMENT_FAILED: "deployment failed",
    TriggerKind.KNOWN_BAD_RELEASE: "known-BAD release",
    TriggerKind.MANUAL: "manual",
}
ROLLBACK_ORIGINS = (Origin.AUTOMATIC_ROLLBACK, Origin.MANUAL_ROLLBACK, Origin.ECS_ROLLBACK)

CSS = """
:root { color-scheme: light; }
body { font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  margin: 16px 20px 32px; color: #212529; background: #fff; }
h1 { font-size: 19px; margin: 0 0 2px; }
h2 { font-size: 15px; margin: 22px 0 6px; }
.meta { color: #495057; margin: 0 0 10px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 18px; align-items: center; margin: 0 0 10px;
  padding: 6px 10px; background: #f8f9fa; border: 1px solid #e9ecef; border-radius: 4px; }
.legend .item { display: inline-flex; align-items: center; gap: 6px; white-space: nowrap; }
.legend svg { overflow: visible; }
.chart { overflow-x: auto; border: 1px solid #dee2e6; border-radius: 4px; }
.chart > svg { display: block; }
svg.defs { position: absolute; }
svg text { font-size: 11px; fill: #212529; }
svg .row-bg { fill: #fff; }
svg .row-bg.odd { fill: #f8f9fa; }
svg .grid { stroke: #e9ecef; stroke-width: 1; }
svg .tick-label { fill: #495057; }
svg .tick-date { fill: #868e96; font-size: 10px; }
svg .service-name { font-size: 12.5px; font-weight: 600; }
svg .service-note { fill: #6c757d; font-size: 10.5px; }
svg .now-line { stroke: #1c7ed6; stroke-width: 1.2; stroke-dasharray: 4 3; }
svg .now-label { fill: #1c7ed6; font-weight: 600; }
.dep .seg { stroke: #fff; stroke-width: 1; }
.st-GOOD .seg { fill: #2f9e44; }
.st-COMPLETED .seg { fill: #f59f00; }
.st-IN_PROGRESS .seg { fill: #adb5bd; }
.st-ROLLED_BACK .seg { fill: #e03131; }
.st-FAILED .seg { fill: #7d1a1a; }
.dep.current .seg { stroke: #212529; stroke-width: 1.5; }
.dep .rev { fill: #fff; font-size: 10.5px; font-weight: 600; pointer-events: none;
  paint-order: stroke; stroke: rgba(0, 0, 0, .35); stroke-width: 2px; }
.st-COMPLETED .rev, .st-IN_PROGRESS .rev { fill: #212529; stroke: rgba(255, 255, 255, .7); }
.dep .bake { fill: url(#bake-hatch); pointer-events: none; }
.dep .bake-line { fill: #e67700; pointer-events: none; }
.dep .bake-due { fill: none; stroke: #e67700; stroke-width: 1.2; stroke-dasharray: 3 2; }
.dep .bake-due-label { fill: #e67700; font-size: 10px; }
.dep .origin-mark { fill: #fff; stroke: #212529; stroke-width: 1; pointer-events: none; }
.dep:hover .seg, .decision:hover, .rollback-arrow:hover { filter: brightness(1.15); }
.rollback-arrow { fill: none; stroke: #c92a2a; stroke-width: 2.2; }
.rollback-arrow.manual { stroke: #1864ab; }
.rollback-arrow.outside { stroke-dasharray: 5 3; }
.arrow-hit { fill: none; stroke: transparent; stroke-width: 9; }
.outside-label { fill: #c92a2a; font-size: 10px; }
.decision { stroke: #fff; stroke-width: 1; }
.decision.out-ROLLED_BACK { fill: #c92a2a; }
.decision.out-DRY_RUN { fill: #1098ad; }
.decision.out-SKIPPED { fill: #868e96; }
.decision.out-REFUSED { fill: #7048e8; }
.decision.out-FAILED { fill: #212529; }
.stem { stroke: #adb5bd; stroke-width: 1; stroke-dasharray: 2 2; }
table.decisions { border-collapse: collapse; font-size: 12.5px; }
table.decisions th, table.decisions td { text-align: left; padding: 3px 10px 3px 0; vertical-align: top;
  border-bottom: 1px solid #f1f3f5; }
table.decisions th { color: #495057; font-weight: 600; border-bottom: 1px solid #dee2e6; }
td.mono, span.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.empty { color: #6c757d; }
#tip { position: absolute; display: none; max-width: 460px; padding: 6px 9px; border-radius: 4px;
  background: #212529; color: #f8f9fa; font-size: 12px; line-height: 1.4; white-space: pre-line;
  pointer-events: none; z-index: 10; box-shadow: 0 2px 8px rgba(0, 0, 0, .25); }
"""

# Moves each SVG <title> into data-tip (and aria-label), and shows it at the pointer at once; with
# scripts off, the <title> elements give the same text as the browser's own tooltip.
SCRIPT = """
(function () {
  var tip = document.getElementById("tip");
  var titled = document.querySelectorAll("svg title");
  for (var i = 0; i < titled.length; i++) {
    var owner = titled[i].parentNode;
    owner.setAttribute("data-tip", titled[i].textContent);
    owner.setAttribute("aria-label", titled[i].textContent);
    owner.removeChild(titled[i]);
  }
  document.addEventListener("mousemove", function (event) {
    var target = event.target.closest ? event.target.closest("[data-tip]") : null;
    if (!target) { tip.style.display = "none"; return; }
    tip.textContent = target.getAttribute("data-tip");
    tip.style.display = "block";
    var x = event.pageX + 14, y = event.pageY + 14;
    if (x + tip.offsetWidth > window.scrollX + document.documentElement.clientWidth) {
      x = event.pageX - tip.offsetWidth - 14;
    }
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  });
  document.documentElement.setAttribute("data-tooltips", String(titled.length));
})();
"""


def esc(value: object) -> str:
    """Every string that reaches the page goes through here."""
    return html.escape(str(value), quote=True)


def _f(value: float) -> str:
    return f"{value:.1f}"


def _is_rollback(record: RollbackRecord) -> bool:
    return record.outcome == Outcome.ROLLED_BACK and not record.dry_run


def _ended_at(deployment: Deployment, status: Status) -> datetime | None:
    changes = [change.at for change in deployment.history if change.status == status]
    if changes:
        return changes[-1]
    return deployment.updated_at if deployment.status == status else None


def _subject(message: str | None) -> str | None:
    """A commit message's first line, whole up to 200 characters (the ledger's release references
    keep 72: ``commit_subject``)."""
    lines = message.strip().splitlines() if message else []
    return _clip(lines[0], 200) if lines else None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class _Mark:
    deployment: Deployment
    start: datetime
    end: datetime
    bake_end: datetime | None = None  # end of the bake window drawn
    due: datetime | None = None  # a COMPLETED release's earliest GOOD (completion plus the bake time)
    projected: bool = False  # the newest mark, still baking: the bake left is drawn beyond its end
    x0: float = 0.0
    x1: float = 0.0

    @property
    def center(self) -> float:
        return (self.x0 + self.x1) / 2


def _marks(row: ServiceTimeline, now: datetime, bake_time_seconds: int | None) -> list[_Mark]:
    marks = []
    deployments = row.deployments
    for i, deployment in enumerate(deployments):
        start = deployment.started_at
        if i + 1 < len(deployments):
            end = deployments[i + 1].started_at
        elif deployment.status.is_bad:
            end = _ended_at(deployment, deployment.status) or deployment.updated_at
        else:
            end = max(now, start)
        end = max(end, start)
        mark = _Mark(deployment, start, end)
        completed = deployment.completed_at
        if completed is not None:
            if deployment.status == Status.GOOD and deployment.good_at is not None:
                mark.bake_end = deployment.good_at
            elif deployment.status == Status.ROLLED_BACK:
                mark.bake_end = _ended_at(deployment, Status.ROLLED_BACK)
            elif deployment.status == Status.COMPLETED:
                if bake_time_seconds is not None:
                    mark.due = completed + timedelta(seconds=bake_time_seconds)
                mark.bake_end = min(mark.due, end) if mark.due is not None else end
                mark.projected = mark.due is not None and mark.due > end and i + 1 == len(deployments)
        marks.append(mark)
    return marks


def _deployment_tip(row: ServiceTimeline, deployment: Deployment, mark: _Mark, current: bool) -> str:
    lines = [f"{row.service}  {deployment.revision}  {STATUS_LABEL[deployment.status]}"]
    subject = _subject(deployment.commit_message)
    if deployment.git_sha or subject:
        lines.append(f"commit {short_sha(deployment.git_sha)}  {subject or '(no commit message)'}")
    if deployment.git_sha:
        lines.append(f"git SHA {deployment.git_sha}")
    lines.append(f"revision {deployment.revision}  ({deployment.task_definition_arn})")
    times = [f"started {when(deployment.started_at)}"]
    if deployment.completed_at:
        times.append(f"steady {when(deployment.completed_at)}")
    if deployment.good_at:
        times.append(f"GOOD {when(deployment.good_at)}")
    if deployment.status.is_bad:
        ended = _ended_at(deployment, deployment.status)
        times.append(f"{deployment.status.value} {when(ended)}")
    lines.append(", ".join(times))
    if deployment.status == Status.COMPLETED:
        lines.append(f"baking: GOOD due {when(mark.due)}" if mark.due else "baking (bake time unknown)")
    origin = deployment.origin.value.replace("_", " ") + (" (adopted)" if deployment.adopted else "")
    lines.append(f"trigger {origin}, by {deployment.actor}")
    for image in deployment.images:
        digest = f" @ {short_digest(image.digest)}" if image.digest else ""
        lines.append(f"{image.container}: {image.image.rsplit('/', 1)[-1]}{digest}")
    if deployment.reason:
        lines.append(_clip(deployment.reason, 160))
    if current:
        lines.append("running now")
    return "\n".join(lines)


def _decision_text(record: RollbackRecord) -> str:
    trigger = TRIGGER_LABEL.get(record.trigger, record.trigger.value)
    lines = [f"{trigger} {record.source}".strip() + f": {record.outcome.value} ({record.code})"]
    lines.append(f"triggered {when(record.triggered_at)}, decided {when(record.created_at)}")
    if record.from_deployment or record.to_release:
        frm = str(record.from_deployment.revision) if record.from_deployment else "?"
        to = str(record.to_release.revision) if record.to_release else "?"
        lines.append(f"{frm} → {to}" + (f", deployed as {_revision(record)}" if _revision(record) else ""))
    if record.result:
        lines.append(f"rollback deployment {record.result}")
    if record.message:
        lines.append(_clip(record.message, 220))
    lines.append(f"requested by {record.requested_by}" + (f": {record.reason}" if record.reason else ""))
    return "\n".join(lines)


def _revision(record: RollbackRecord) -> str:
    arn = record.deployed_task_definition_arn
    return arn.rsplit("/", 1)[-1] if arn else ""


class _Svg:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, text: str) -> None:
        self.parts.append(text)


def _target_mark(record: RollbackRecord, marks: list[_Mark]) -> _Mark | None:
    """The mark of the release a rollback restored: its newest deployment before the decision."""
    to = record.to_release
    if to is None:
        return None
    if to.deployment_id:
        found = next((m for m in marks if m.deployment.deployment_id == to.deployment_id), None)
        if found is not None:
            return found
    earlier = [m for m in marks if m.start <= record.created_at]
    for mark in reversed(earlier):
        if mark.deployment.release == to.release_id or mark.deployment.task_definition_arn in (
            to.task_definition_arn,
            to.deploy_task_definition_arn,
        ):
            return mark
    return None


def _source_mark(record: RollbackRecord, marks: list[_Mark]) -> _Mark | None:
    frm = record.from_deployment
    if frm is None:
        return None
    found = next((m for m in marks if m.deployment.deployment_id == frm.deployment_id), None)
    if found is not None:
        return found
    earlier = [m for m in marks if m.start <= record.created_at]
    return next(
        (m for m in reversed(earlier) if m.deployment.task_definition_arn == frm.task_definition_arn), None
    )


def _marker_shape(trigger: TriggerKind, cx: float, cy: float) -> str:
    r = MARKER_SIZE
    if trigger == TriggerKind.ALARM:
        return f'<polygon points="{_f(cx)},{_f(cy - r)} {_f(cx + r)},{_f(cy + r * 0.8)} {_f(cx - r)},{_f(cy + r * 0.8)}"'
    if trigger == TriggerKind.KNOWN_BAD_RELEASE:
        return f'<polygon points="{_f(cx)},{_f(cy - r)} {_f(cx + r)},{_f(cy)} {_f(cx)},{_f(cy + r)} {_f(cx - r)},{_f(cy)}"'
    if trigger == TriggerKind.DEPLOYMENT_FAILED:
        s = r * 0.8
        return f'<rect x="{_f(cx - s)}" y="{_f(cy - s)}" width="{_f(2 * s)}" height="{_f(2 * s)}"'
    return f'<circle cx="{_f(cx)}" cy="{_f(cy)}" r="{_f(r * 0.8)}"'


def _text_width(text: str, size: float = 10.5) -> float:
    return len(text) * size * 0.6 + 6


def _plot_width(data: TimelineData) -> float:
    most = max((len(row.deployments) for row in data.services), default=0)
    return max(MIN_PLOT_WIDTH, min(MAX_PLOT_WIDTH, most * PX_PER_DEPLOYMENT))


def _scale(data: TimelineData, rows: list[list[_Mark]]) -> TimeScale:
    moments: list[float] = [_seconds(data.now)]
    constraints: list[tuple[float, float, float]] = []
    for row, marks in zip(data.services, rows, strict=True):
        for mark in marks:
            start, end = _seconds(mark.start), _seconds(mark.end)
            moments += [start, end]
            constraints.append((start, end, MIN_DEPLOYMENT_PX))
            if mark.projected and mark.due is not None:
                moments.append(_seconds(mark.due))
                constraints.append((end, _seconds(mark.due), MIN_DUE_PX))
        moments += [_seconds(record.triggered_at) for record in row.decisions]
    start, end = min(moments), max(moments)
    if end - start < 600:
        start, end = start - 300, end + 300
    pad = (end - start) * 0.01
    return TimeScale.fit(start - pad, end + pad, constraints, _plot_width(data))


def _tick_label(t: float, step: int, previous_date: str | None) -> tuple[str, str | None]:
    moment = datetime.fromtimestamp(t, UTC)
    date = moment.strftime("%Y-%m-%d")
    time = "" if step >= 86400 else moment.strftime("%H:%M")
    return (time or date), (date if time and date != previous_date else None)


def render(data: TimelineData, *, title: str = "Release timeline") -> str:
    """The page: one HTML string, nothing to fetch."""
    rows = [_marks(row, data.now, data.bake_time_seconds) for row in data.services]
    body = (
        _chart(data, rows)
        if data.services
        else (
            '<p class="empty">The ledger holds no service yet: deploy one, or run '
            "<code>ecs-rollback adopt CLUSTER SERVICE</code>.</p>"
        )
    )
    meta = [
        _count(len(data.services), "service"),
        f"{_count(data.deployment_count, 'deployment')} (newest {data.limit} per service)",
        _count(data.rollback_count, "rollback"),
    ]
    if data.source:
        meta.append(f"ledger {data.source}")
    meta.append(f"generated {when(data.now)} (times in UTC)")
    if data.bake_time_seconds is not None:
        meta.append(f"bake time {data.bake_time_seconds} s")
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
            f"<h1>{esc(title)}</h1>\n",
            f'<p class="meta">{esc(" · ".join(meta))}</p>\n',
            '<svg class="defs" width="0" height="0" aria-hidden="true">',
            _defs(),
            "</svg>\n",
            _legend(),
            body,
            _decision_table(data),
            '<div id="tip" role="tooltip"></div>\n',
            f"<script>{SCRIPT}</script>\n</body>\n</html>\n",
        ]
    )


def _legend() -> str:
    def swatch(status: Status) -> str:
        return (
            f'<span class="item"><svg width="22" height="12" class="dep st-{status.value}">'
            f'<rect class="seg" x="0" y="0" width="22" height="12"/></svg>{esc(STATUS_LABEL[status])}</span>'
        )

    def marker(trigger: TriggerKind) -> str:
        shape = _marker_shape(trigger, 8, 7)
        return (
            f'<span class="item"><svg width="16" height="14">{shape} class="decision out-ROLLED_BACK"/></svg>'
            f"{esc(TRIGGER_LABEL[trigger])}</span>"
        )

    items = [swatch(status) for status in (Status.GOOD, Status.COMPLETED, Status.IN_PROGRESS)]
    items += [swatch(status) for status in (Status.ROLLED_BACK, Status.FAILED)]
    items.append(
        '<span class="item"><svg width="30" height="12" class="dep st-GOOD"><rect class="seg" width="30" height="12"/>'
        '<rect class="bake" x="8" width="22" height="12"/><rect class="bake-line" x="8" y="9" width="22" height="3"/>'
        "</svg>bake window</span>"
    )
    items.append(
        '<span class="item"><svg width="34" height="14"><path class="rollback-arrow" d="M30,12 C30,1 6,1 6,12" '
        'marker-end="url(#arrowhead)"/></svg>rollback: from the release left to the release restored</span>'
    )
    items.append(
        '<span class="item"><svg width="34" height="14"><path class="rollback-arrow manual" '
        'd="M30,12 C30,1 6,1 6,12" marker-end="url(#arrowhead-manual)"/></svg>manual rollback</span>'
    )
    items += [marker(trigger) for trigger in TriggerKind]
    items.append(
        '<span class="item">decision colour: <b style="color:#c92a2a">rolled back</b> · '
        '<b style="color:#1098ad">dry run</b> · <b style="color:#868e96">skipped</b> · '
        '<b style="color:#7048e8">refused</b> · <b style="color:#212529">failed</b></span>'
    )
    items.append(
        '<span class="item">outlined: running now · ↺ a rollback\'s deployment · the time axis is '
        "stretched where releases follow closely</span>"
    )
    return f'<div class="legend">{"".join(items)}</div>\n'


def _defs() -> str:
    return (
        "<defs>"
        '<pattern id="bake-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="2.5" height="6" fill="#fff3bf" fill-opacity="0.8"/></pattern>'
        '<marker id="arrowhead" viewBox="0 0 10 10" refX="8.5" refY="5" markerWidth="4" markerHeight="4" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#c92a2a"/></marker>'
        '<marker id="arrowhead-manual" viewBox="0 0 10 10" refX="8.5" refY="5" markerWidth="4" '
        'markerHeight="4" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1864ab"/></marker>'
        "</defs>"
    )


def _chart(data: TimelineData, rows: list[list[_Mark]]) -> str:
    scale = _scale(data, rows)
    left = LABEL_WIDTH + PLOT_PADDING
    width = left + scale.width + RIGHT_MARGIN
    height = AXIS_HEIGHT + ROW_HEIGHT * len(data.services) + 8

    def x_of(moment: datetime | float) -> float:
        return left + scale.x(moment)

    svg = _Svg()
    svg.add(
        f'<svg class="timeline" width="{_f(width)}" height="{_f(height)}" viewBox="0 0 {_f(width)} {_f(height)}" '
        f'role="img" aria-label="releases of {len(data.services)} services over time">'
    )
    for i, _row in enumerate(data.services):
        y = AXIS_HEIGHT + i * ROW_HEIGHT
        odd = " odd" if i % 2 else ""
        svg.add(
            f'<rect class="row-bg{odd}" x="0" y="{_f(y)}" width="{_f(width)}" height="{_f(ROW_HEIGHT)}"/>'
        )
    previous_date: str | None = None
    for t, step in scale.ticks():
        x = x_of(t)
        label, date = _tick_label(t, step, previous_date)
        previous_date = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")
        svg.add(
            f'<line class="grid" x1="{_f(x)}" y1="{_f(AXIS_HEIGHT - 6)}" x2="{_f(x)}" y2="{_f(height)}"/>'
        )
        svg.add(
            f'<text class="tick-label" x="{_f(x)}" y="{_f(AXIS_HEIGHT - 10)}" text-anchor="middle">{esc(label)}</text>'
        )
        if date:
            svg.add(
                f'<text class="tick-date" x="{_f(x)}" y="{_f(AXIS_HEIGHT - 24)}" text-anchor="middle">{esc(date)}</text>'
            )
    for i, (row, marks) in enumerate(zip(data.services, rows, strict=True)):
        _row_svg(svg, row, marks, AXIS_HEIGHT + i * ROW_HEIGHT, x_of)
    now_x = x_of(data.now)
    svg.add(
        f'<line class="now-line" x1="{_f(now_x)}" y1="{_f(AXIS_HEIGHT - 4)}" x2="{_f(now_x)}" y2="{_f(height)}">'
    )
    svg.add(f"<title>now: {esc(when(data.now))}</title></line>")
    svg.add(f'<text class="now-label" x="{_f(now_x + 3)}" y="{_f(AXIS_HEIGHT - 1)}">now</text>')
    svg.add("</svg>")
    return f'<div class="chart">{"".join(svg.parts)}</div>\n'


def _row_svg(
    svg: _Svg, row: ServiceTimeline, marks: list[_Mark], top: float, x_of: Callable[[datetime], float]
) -> None:
    service = esc(row.service)
    bar = top + ARC_SPACE + 4
    current = next((m for m in marks if m.deployment.deployment_id == row.current_deployment_id), None)
    svg.add(f'<g class="service" data-service="{service}" data-service-arn="{esc(row.service.arn)}">')
    svg.add(
        f'<text class="service-name" x="12" y="{_f(bar + 6)}">{esc(_clip(str(row.service), 30))}'
        f"<title>{service}\n{esc(row.service.arn)}</title></text>"
    )
    if current is not None:
        note = f"now {current.deployment.revision} {current.deployment.status.value}"
    elif marks:
        note = f"last {marks[-1].deployment.revision} {marks[-1].deployment.status.value}"
    else:
        note = "no deployment recorded"
    more = f" · {len(marks)} newest" if row.truncated else ""
    svg.add(f'<text class="service-note" x="12" y="{_f(bar + 20)}">{esc(_clip(note, 36) + more)}</text>')
    for mark in marks:
        _mark_svg(svg, row, mark, bar, x_of, mark is current)
    for record in row.decisions:
        _decision_svg(svg, row, record, marks, bar, x_of)
    svg.add("</g>")


def _mark_svg(
    svg: _Svg, row: ServiceTimeline, mark: _Mark, bar: float, x_of: Callable[[datetime], float], current: bool
) -> None:
    deployment = mark.deployment
    mark.x0, mark.x1 = x_of(mark.start), x_of(mark.end)
    x0, x1 = mark.x0, max(mark.x1, mark.x0 + 2)
    classes = f"dep st-{deployment.status.value}" + (" current" if current else "")
    if deployment.origin in ROLLBACK_ORIGINS:
        classes += " rollback-deployment"
    attributes = {
        "data-service": str(row.service),
        "data-revision": str(deployment.revision),
        "data-status": deployment.status.value,
        "data-deployment-id": deployment.deployment_id,
        "data-origin": deployment.origin.value,
        "data-git-sha": deployment.git_sha or "",
        "data-started-at": when(deployment.started_at),
    }
    if current:
        attributes["data-current"] = "true"
    attrs = " ".join(f'{name}="{esc(value)}"' for name, value in attributes.items())
    tip = _deployment_tip(row, deployment, mark, current)
    svg.add(f'<g class="{classes}" {attrs}>')
    svg.add(f"<title>{esc(tip)}</title>")
    svg.add(
        f'<rect class="seg" x="{_f(x0)}" y="{_f(bar)}" width="{_f(x1 - x0)}" height="{_f(BAR_HEIGHT)}" rx="2"/>'
    )
    completed = deployment.completed_at
    if completed is not None and mark.bake_end is not None and mark.bake_end > completed:
        b0, b1 = x_of(completed), min(x_of(mark.bake_end), x1)
        if b1 > b0:
            svg.add(
                f'<rect class="bake" x="{_f(b0)}" y="{_f(bar)}" width="{_f(b1 - b0)}" height="{_f(BAR_HEIGHT)}"/>'
            )
            svg.add(
                f'<rect class="bake-line" x="{_f(b0)}" y="{_f(bar + BAR_HEIGHT - 3)}" width="{_f(b1 - b0)}" height="3"/>'
            )
    if mark.projected and mark.due is not None:
        d1 = x_of(mark.due)
        svg.add(
            f'<rect class="bake-due" x="{_f(x1)}" y="{_f(bar + 1)}" width="{_f(max(d1 - x1, 1))}" '
            f'height="{_f(BAR_HEIGHT - 2)}"/>'
        )
        due_label = f"GOOD due {mark.due:%H:%M}"
        if d1 - x1 > _text_width(due_label, 10):
            svg.add(
                f'<text class="bake-due-label" x="{_f(x1 + 4)}" y="{_f(bar - 3)}">{esc(due_label)}</text>'
            )
    rolled = "↺ " if deployment.origin in ROLLBACK_ORIGINS else ""
    label = next(
        (
            text
            for text in (f"{rolled}{deployment.revision}", f"{rolled}{deployment.revision.revision}")
            if x1 - x0 >= _text_width(text)
        ),
        None,
    )
    if label is not None:
        svg.add(f'<text class="rev" x="{_f(x0 + 4)}" y="{_f(bar + 14)}">{esc(label)}</text>')
    elif rolled:
        svg.add(f'<circle class="origin-mark" cx="{_f(x0 + 4)}" cy="{_f(bar + 5)}" r="2"/>')
    svg.add("</g>")


def _decision_svg(
    svg: _Svg,
    row: ServiceTimeline,
    record: RollbackRecord,
    marks: list[_Mark],
    bar: float,
    x_of: Callable[[datetime], float],
) -> None:
    service = esc(row.service)
    text = esc(_decision_text(record))
    cx = x_of(record.triggered_at)
    cy = bar + BAR_HEIGHT + 12
    attributes = (
        f'data-service="{service}" data-trigger="{esc(record.trigger.value)}" '
        f'data-outcome="{esc(record.outcome.value)}" data-code="{esc(record.code)}" '
        f'data-source="{esc(record.source)}" data-rollback-id="{esc(record.rollback_id)}"'
    )
    svg.add(
        f'<line class="stem" x1="{_f(cx)}" y1="{_f(bar + BAR_HEIGHT)}" x2="{_f(cx)}" y2="{_f(cy - MARKER_SIZE)}"/>'
    )
    shape = _marker_shape(record.trigger, cx, cy)
    svg.add(
        f'{shape} class="decision trig-{esc(record.trigger.value)} out-{esc(record.outcome.value)}" {attributes}>'
        f"<title>{text}</title></{shape.split()[0][1:]}>"
    )
    if not _is_rollback(record):
        return
    source, target = _source_mark(record, marks), _target_mark(record, marks)
    if source is None or record.to_release is None:
        return
    x_from = source.center
    outside = target is None
    x_to = (x_of(marks[0].start) - 2) if target is None else target.center
    if target is not None and abs(x_from - x_to) < 1:
        return
    y = bar - 1
    lift = min(ARC_SPACE - 2, 8 + abs(x_from - x_to) * 0.3)
    path = f"M{_f(x_from)},{_f(y)} C{_f(x_from)},{_f(y - lift)} {_f(x_to)},{_f(y - lift)} {_f(x_to)},{_f(y)}"
    manual = " manual" if record.trigger == TriggerKind.MANUAL else ""
    classes = f"rollback-arrow trig-{esc(record.trigger.value)}{manual}" + (" outside" if outside else "")
    marker = "arrowhead-manual" if manual else "arrowhead"
    to_subject = record.to_release.commit_subject or "(no commit message)"
    tip = (
        f"rollback {record.from_deployment.revision if record.from_deployment else '?'} → "
        f"{record.to_release.revision} ({TRIGGER_LABEL.get(record.trigger, record.trigger.value)} "
        f"{record.source})".replace(" )", ")")
        + f"\nrestored {record.to_release.revision}: {short_sha(record.to_release.git_sha)} {to_subject}"
        + (f"\ndeployed as {_revision(record)}" if _revision(record) else "")
        + (f", result {record.result}" if record.result else "")
        + ("\n(the restored release is older than the deployments shown)" if outside else "")
    )
    data = (
        f'data-service="{service}" '
        f'data-from-revision="{esc(record.from_deployment.revision if record.from_deployment else "")}" '
        f'data-to-revision="{esc(record.to_release.revision)}" '
        f'data-deployed-revision="{esc(_revision(record))}" data-trigger="{esc(record.trigger.value)}" '
        f'data-result="{esc(record.result or "")}" data-rollback-id="{esc(record.rollback_id)}"'
    )
    svg.add(f'<g class="rollback" {data}><title>{esc(tip)}</title>')
    svg.add(f'<path class="arrow-hit" d="{path}"/>')
    svg.add(f'<path class="{classes}" d="{path}" marker-end="url(#{marker})" {data}/>')
    if outside:
        label = f"{record.to_release.revision} (earlier)"
        svg.add(f'<text class="outside-label" x="{_f(x_to + 3)}" y="{_f(y - lift + 2)}">{esc(label)}</text>')
    svg.add("</g>")


def _decision_table(data: TimelineData) -> str:
    records = sorted(
        ((row, record) for row in data.services for record in row.decisions),
        key=lambda pair: pair[1].created_at,
        reverse=True,
    )
    if not records:
        return '<h2>Decisions</h2>\n<p class="empty">No rollback decision in these deployments.</p>\n'
    head = "".join(
        f"<th>{esc(name)}</th>"
        for name in (
            "decided (UTC)",
            "service",
            "trigger",
            "outcome",
            "from → to",
            "deployed as",
            "result",
            "why",
        )
    )
    lines = []
    for row, record in records:
        trigger = f"{TRIGGER_LABEL.get(record.trigger, record.trigger.value)} {record.source}".strip()
        frm = str(record.from_deployment.revision) if record.from_deployment else "-"
        to = str(record.to_release.revision) if record.to_release else "-"
        cells = (
            f'<td class="mono">{esc(when(record.created_at))}</td>',
            f"<td>{esc(row.service)}</td>",
            f"<td>{esc(trigger)}</td>",
            f"<td>{esc(record.outcome.value)} ({esc(record.code)})</td>",
            f'<td class="mono">{esc(frm)} → {esc(to)}</td>',
            f'<td class="mono">{esc(_revision(record) or "-")}</td>',
            f"<td>{esc(record.result or '-')}</td>",
            f"<td>{esc(_clip(record.message or record.reason, 140))}</td>",
        )
        lines.append(f'<tr data-rollback-id="{esc(record.rollback_id)}">{"".join(cells)}</tr>')
    return (
        f"<h2>Decisions ({len(records)}), newest first</h2>\n"
        f'<table class="decisions"><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}</tbody></table>\n'
    )


# -- writing the file -----------------------------------------------------------------------


def write_page(page: str, target: Path) -> Path:
    """Write the page; the error names the flag and says why."""
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as error:
        raise CliError(f"--html: cannot write {target}: {error.strerror or error}") from error
    return target.resolve()


def _check_target(target: Path) -> None:
    """Fail before reading the ledger when the file cannot be written where it is asked."""
    if target.is_dir():
        raise CliError(
            f"--html: {target} is a directory; name the file to write, e.g. {target / 'timeline.html'}",
            EXIT_USAGE,
        )
    parent = target.parent if str(target.parent) else Path()
    if not parent.is_dir():
        raise CliError(f"--html: cannot write {target}: the directory {parent} does not exist")


# -- the command ----------------------------------------------------------------------------


def timeline_command(
    ctx: typer.Context,
    cluster: Annotated[
        str | None,
        argument(
            "CLUSTER",
            "ECS cluster name (or ARN); leave out CLUSTER and SERVICE for every service in the ledger, "
            "give CLUSTER alone for every service of that cluster.",
        ),
    ] = None,
    service: Annotated[str | None, argument("SERVICE", "ECS service name; leave out for all.")] = None,
    html_file: Annotated[
        Path | None,
        value(
            "--html",
            "FILE",
            "The HTML file to write (required; overwritten). One self-contained page: no network, "
            "no CDN. '-' writes the page to stdout.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int, value("--limit", "N", "Newest deployments shown per service.", "-n", min=1, max=1000)
    ] = DEFAULT_LIMIT,
    title: Annotated[
        str, value("--title", "TEXT", "The page's heading and browser title.")
    ] = "Release timeline",
) -> None:
    """Write an HTML page of each service's releases over time: deployments, bake, GOOD/BAD, alarms, rollbacks.

    One row per service on a shared time axis: each deployment coloured by its ledger status (GOOD
    green, ROLLED_BACK red, FAILED dark red, COMPLETED amber with its bake window, IN_PROGRESS
    grey), each decision on an alarm, a failed deployment or a request as a marker, each rollback
    as an arrow from the release left to the release restored; the commit, git SHA and revision on
    hover. Prints the path written; progress goes to stderr.
    """
    cli = cli_of(ctx)
    if html_file is None:
        raise CliError(
            "--html FILE is required: the file to write the page to (e.g. --html timeline.html; "
            "--html - writes it to stdout)",
            EXIT_USAGE,
        )
    to_stdout = str(html_file) == "-"
    if not to_stdout:
        _check_target(html_file)
    if cluster is not None and service is not None:
        states = [cli.ledger_state(cluster, service)]
    else:
        states = ledger_services(cli.aws.ledger)
        if cluster is not None:
            wanted = cli.aws.service_id(cluster, "-").cluster
            states = [state for state in states if state.service.cluster == wanted]
            if not states:
                raise CliError(
                    f"the ledger (table {cli.aws.table_name}) holds no service of cluster {wanted}"
                )
    cli.err.print(
        f"reading {_count(len(states), 'service')} from the ledger {cli.aws.table_name}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )

    def progress(line: str) -> None:
        cli.err.print(line, markup=False, highlight=False, soft_wrap=True)

    data = collect(
        cli.aws.ledger,
        states,
        now=cli.runtime.now(),
        limit=limit,
        source=cli.aws.table_name,
        progress=progress,
    )
    if any(d.status == Status.COMPLETED for row in data.services for d in row.deployments):
        bake = cli.aws.bake_time
        if bake.seconds is None:
            progress(f"warning: bake windows drawn up to now: {bake.problem}")
        else:
            data = TimelineData(data.services, data.now, bake.seconds, data.source, data.limit)
    page = render(data, title=title)
    if to_stdout:
        typer.echo(page, nl=False)
        return
    written = write_page(page, html_file)
    progress(
        f"{_count(data.deployment_count, 'deployment')} and {_count(data.rollback_count, 'rollback')} "
        f"of {_count(len(data.services), 'service')}"
    )
    typer.echo(str(written))
