"""``ecs-rollback timeline``: the page is written from the emulator's ledger, then loaded in a real
headless Chromium (Debian's ``chromium``), whose rendered DOM and screenshot are checked.

Chromium is a test requirement, not an option: without it these tests fail and say how to install
it (``.ci/run`` and ``make browser`` install it). Each browser test keeps its screenshot in its
pytest tmp dir (``timeline.png``, ``timeline-10x50.png``) and prints its path (``pytest -rP``).
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ecs_rollback.domain.gitsha import COMMIT_MESSAGE_TAG, GIT_SHA_TAG
from ecs_rollback.domain.model import (
    Deployment,
    Origin,
    Outcome,
    ReleaseRef,
    RevisionId,
    RollbackRecord,
    ServiceId,
    Status,
    TriggerKind,
)
from ecs_rollback_cli.timeline import MIN_DEPLOYMENT_PX, ServiceTimeline, TimelineData, render
from tests.cli.conftest import Fleet

SHA_BAD = "badbad1" + "0" * 33
SHA_BAKING = "c0ffee1" + "1" * 33
# What a commit subject may hold, and the page must show as text, never as markup.
HOSTILE = 'Speed up <script>alert("x")</script> & <img src="https://evil.example/x.png"> checkout'
BAKING_SUBJECT = "Cache search results"
STATUS_RGB = {
    "GOOD": "rgb(47, 158, 68)",
    "COMPLETED": "rgb(245, 159, 0)",
    "IN_PROGRESS": "rgb(173, 181, 189)",
    "ROLLED_BACK": "rgb(224, 49, 49)",
    "FAILED": "rgb(125, 26, 26)",
}
INSTALL_HINT = (
    "the timeline tests need a headless Chromium and found neither `chromium` nor `chromium-browser` on "
    "PATH. Install Debian's: `sudo apt-get install -y --no-install-recommends chromium` (or `make browser`); "
    "CI installs it in .ci/run"
)

# Appended to a copy of the page: what the browser computed (colours, boxes, the arrow's ends) is
# written into attributes, so the dumped DOM carries the rendering, not only the markup.
PROBE = """<script>
(function () {
  function box(element) {
    var r = element.getBoundingClientRect();
    return [r.left, r.right, r.top, r.bottom].join(",");
  }
  document.querySelectorAll("g.dep").forEach(function (group) {
    var seg = group.querySelector("rect.seg");
    group.setAttribute("data-probe-fill", getComputedStyle(seg).fill);
    group.setAttribute("data-probe-box", box(seg));
  });
  document.querySelectorAll(".decision").forEach(function (marker) {
    marker.setAttribute("data-probe-fill", getComputedStyle(marker).fill);
  });
  document.querySelectorAll("path.rollback-arrow").forEach(function (path) {
    var matrix = path.getScreenCTM(), length = path.getTotalLength();
    var a = path.getPointAtLength(0).matrixTransform(matrix);
    var b = path.getPointAtLength(length).matrixTransform(matrix);
    path.setAttribute("data-probe-ends", [a.x, a.y, b.x, b.y].join(","));
    path.setAttribute("data-probe-stroke", getComputedStyle(path).stroke);
    path.setAttribute("data-probe-visible", String(length > 0 && getComputedStyle(path).display !== "none"));
  });
  document.documentElement.setAttribute("data-probed", "done");
})();
</script>"""


# -- the browser ----------------------------------------------------------------------------


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(INSTALL_HINT, pytrace=False)


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium on a local file: its own profile, no sandbox (CI runs as root), and every
    host name unresolvable, so the page could not fetch anything even if it tried."""
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"chromium failed ({result.returncode}):\n{result.stderr[-3000:]}"
    return result


def rendered_dom(page: Path, tmp_path: Path) -> Dom:
    """The page's DOM after Chromium loaded it and ran its script (and the probe)."""
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "\n</body>"))
    result = run_chromium(tmp_path, "--dump-dom", probed.as_uri())
    dom = Dom.parse(result.stdout)
    assert dom.root.get("data-probed") == "done", result.stdout[:500]
    return dom


def screenshot(page: Path, tmp_path: Path, name: str = "timeline.png", size: str = "1400,900") -> Path:
    shot = tmp_path / name
    run_chromium(tmp_path, f"--screenshot={shot}", f"--window-size={size}", page.as_uri())
    return shot


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# -- reading the DOM ------------------------------------------------------------------------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""

    def get(self, name: str, default: str = "") -> str:
        return self.attrs.get(name, default)

    @property
    def classes(self) -> set[str]:
        return set(self.get("class").split())

    def numbers(self, name: str) -> list[float]:
        return [float(part) for part in self.get(name).split(",")]


class Dom(HTMLParser):
    """Every element of a document, in order, with its attributes (and the text of titles)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []

    @classmethod
    def parse(cls, text: str) -> Dom:
        dom = cls()
        dom.feed(text)
        dom.close()
        return dom

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.elements.append(element)
        if tag in ("title", "script", "style", "td"):
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1].tag == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1].text += data

    @property
    def root(self) -> Element:
        return next(e for e in self.elements if e.tag == "html")

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Element]:
        wanted = {name.replace("_", "-"): value for name, value in attrs.items()}
        return [
            e
            for e in self.elements
            if (tag is None or e.tag == tag)
            and (cls is None or cls in e.classes)
            and all(e.get(name) == value for name, value in wanted.items())
        ]

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Element:
        found = self.find(tag, cls, **attrs)
        assert len(found) == 1, f"expected one {tag}.{cls} {attrs}, found {len(found)}"
        return found[0]


# -- the story ------------------------------------------------------------------------------


@dataclass
class Story:
    fleet: Fleet
    web_good: str  # revision the alarm's rollback restored
    web_bad: str  # revision the alarm rolled back
    web_baking: str
    api_failed: str
    api_restored: str
    worker_in_progress: str


def _revision(arn: str) -> str:
    return str(RevisionId.from_arn(arn))


def tell_the_story(make_fleet: Callable[..., Fleet]) -> Story:
    """prod/web: web:1 and web:2 GOOD; a bad release the alarm rolls back to web:2 (its rollback
    deployment bakes to GOOD); then a release still baking. prod/api: GOOD releases, then one whose
    deployment FAILED and was rolled back. staging/worker: a deployment still IN_PROGRESS."""
    fleet = make_fleet(bake_time_seconds=600)
    world = fleet.world
    world.cloudwatch.create_service_alarm("web-cpu", "prod", "web")

    world.clock.advance(timedelta(minutes=20))
    world.push_image("web", SHA_BAD[:7], content="bad")
    bad = world.register(
        "web",
        {"app": f"{fleet.repo}:{SHA_BAD[:7]}"},
        tags={GIT_SHA_TAG: SHA_BAD, COMMIT_MESSAGE_TAG: HOSTILE},
    )
    world.deploy(fleet.web, bad)
    world.clock.advance(timedelta(minutes=3))
    world.deliver(world.cloudwatch.set_state("web-cpu", "ALARM"))
    world.clock.advance(timedelta(minutes=2))
    world.run_ecs()
    world.deliver(world.cloudwatch.set_state("web-cpu", "OK"))
    world.clock.advance(timedelta(minutes=11))
    world.fire_timers()

    api, _ = fleet.add_service("prod", "api", versions=3)
    world.clock.advance(timedelta(minutes=11))
    world.fire_timers()
    world.push_image("api", "f00f00f", content="api-broken")
    broken = world.register(
        "api",
        {"app": f"{world.repository_uri('api')}:f00f00f"},
        tags={GIT_SHA_TAG: "f00f00f" + "2" * 33, COMMIT_MESSAGE_TAG: "Switch the API to the new pool"},
    )
    world.clock.advance(timedelta(minutes=4))
    world.deploy(api, broken, complete=False)
    world.clock.advance(timedelta(minutes=2))
    world.deliver(world.ecs.fail(api))
    world.clock.advance(timedelta(minutes=1))
    world.run_ecs()

    worker, _ = fleet.add_service("staging", "worker", versions=1)
    world.clock.advance(timedelta(minutes=11))
    world.fire_timers()
    world.push_image("worker", "a1a1a1a", content="worker-2")
    starting = world.register("worker", {"app": f"{world.repository_uri('worker')}:a1a1a1a"})
    world.deploy(worker, starting, complete=False)

    world.clock.advance(timedelta(minutes=5))
    world.push_image("web", SHA_BAKING[:7], content="v4")
    baking = world.register(
        "web",
        {"app": f"{fleet.repo}:{SHA_BAKING[:7]}"},
        tags={GIT_SHA_TAG: SHA_BAKING, COMMIT_MESSAGE_TAG: BAKING_SUBJECT},
    )
    world.deploy(fleet.web, baking)
    world.clock.advance(timedelta(minutes=3))

    (web_rollback,) = [r for r in world.ledger.rollbacks(fleet.web).items if r.outcome.value == "ROLLED_BACK"]
    (api_rollback,) = [r for r in world.ledger.rollbacks(api).items if r.outcome.value == "ROLLED_BACK"]
    assert web_rollback.trigger.value == "alarm" and api_rollback.trigger.value == "deployment_failed"
    assert web_rollback.to_release is not None and api_rollback.to_release is not None
    assert _revision(bad) != _revision(web_rollback.to_release.task_definition_arn)
    return Story(
        fleet,
        web_good=str(web_rollback.to_release.revision),
        web_bad=_revision(bad),
        web_baking=_revision(baking),
        api_failed=_revision(broken),
        api_restored=str(api_rollback.to_release.revision),
        worker_in_progress=_revision(starting),
    )


def _mark(dom: Dom, service: str, revision: str) -> Element:
    return dom.one("g", "dep", data_service=service, data_revision=revision)


def _inside(x: float, box: list[float]) -> bool:
    left, right, _top, _bottom = box
    return left - 0.5 <= x <= right + 0.5


# -- the tests ------------------------------------------------------------------------------


@pytest.mark.emulator
def test_the_page_renders_releases_rollback_arrows_and_status_colours_in_chromium(
    make_fleet: Callable[..., Fleet], tmp_path: Path
) -> None:
    # Given a ledger with GOOD releases, a release an alarm rolled back, a FAILED deployment
    # rolled back, one still baking and one in progress
    story = tell_the_story(make_fleet)
    page = tmp_path / "timeline.html"

    # When the page is written
    result = story.fleet.run("timeline", "--html", str(page))

    # Then the command printed the path only, its progress on stderr
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{page.resolve()}\n"
    assert "reading 3 services from the ledger ledger" in result.stderr
    assert "prod/web: 5 deployments, 1 decision\n" in result.stderr

    # And the file is self-contained: nothing to fetch, the hostile commit subject only as text
    text = page.read_text()
    static = Dom.parse(text)
    for element in static.elements:
        for name in ("src", "href", "xlink:href", "action", "srcset", "poster"):
            assert not element.get(name).lower().startswith(("http:", "https:", "//")), element
    assert [e.tag for e in static.elements if e.tag in ("link", "img", "iframe", "object", "embed")] == []
    assert all(not script.get("src") for script in static.find("script"))
    assert all(ref.startswith("#") for ref in re.findall(r"url\(\s*['\"]?([^)'\"]*)", text))
    assert "@import" not in text and "<script>alert" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert any(HOSTILE in title.text for title in static.find("title"))  # hover text without scripts

    # When Chromium loads it
    dom = rendered_dom(page, tmp_path)
    shot = screenshot(page, tmp_path)

    # Then the alarm's rollback is one arrow from the bad release to the release it restored,
    # drawn from the middle of one mark to the other
    (arrow,) = dom.find("path", "rollback-arrow", data_service="prod/web")
    assert (arrow.get("data-from-revision"), arrow.get("data-to-revision")) == (story.web_bad, story.web_good)
    assert arrow.get("data-trigger") == "alarm" and arrow.get("data-result") == "COMPLETED"
    assert arrow.get("marker-end") == "url(#arrowhead)" and arrow.get("data-probe-visible") == "true"
    assert arrow.get("data-probe-stroke") == "rgb(201, 42, 42)"
    x_from, _, x_to, _ = arrow.numbers("data-probe-ends")
    assert _inside(x_from, _mark(dom, "prod/web", story.web_bad).numbers("data-probe-box"))
    assert _inside(x_to, _mark(dom, "prod/web", story.web_good).numbers("data-probe-box"))
    assert x_to < x_from  # back in time
    # And the failed deployment's rollback is an arrow too
    (api_arrow,) = dom.find("path", "rollback-arrow", data_service="prod/api")
    assert (api_arrow.get("data-from-revision"), api_arrow.get("data-to-revision")) == (
        story.api_failed,
        story.api_restored,
    )
    assert api_arrow.get("data-trigger") == "deployment_failed"

    # And each mark has its status's class and colour, as the browser computed it
    expected = {
        ("prod/web", story.web_good): "GOOD",
        ("prod/web", story.web_bad): "ROLLED_BACK",
        ("prod/web", story.web_baking): "COMPLETED",
        ("prod/api", story.api_failed): "FAILED",
        ("staging/worker", story.worker_in_progress): "IN_PROGRESS",
    }
    for (service, revision), status in expected.items():
        mark = _mark(dom, service, revision)
        assert mark.get("data-status") == status and f"st-{status}" in mark.classes, (service, revision)
        assert mark.get("data-probe-fill") == STATUS_RGB[status], (service, revision, status)
    for mark in dom.find("g", "dep"):
        assert mark.get("data-probe-fill") == STATUS_RGB[mark.get("data-status")], mark
    assert _mark(dom, "prod/web", story.web_baking).get("data-current") == "true"

    # And the release still baking shows its bake window, and the bake left drawn beyond now
    rects = [e for e in dom.elements if e.tag == "rect"]
    baking_at = dom.elements.index(_mark(dom, "prod/web", story.web_baking))
    following = {cls for e in dom.elements[baking_at + 1 : baking_at + 6] for cls in e.classes}
    assert {"bake", "bake-line", "bake-due"} <= following
    assert len([r for r in rects if "bake" in r.classes]) >= 5  # every release that baked

    # And the alarm that triggered the decision is a red marker naming the alarm
    (alarm,) = dom.find(cls="decision", data_service="prod/web", data_trigger="alarm")
    assert alarm.tag == "polygon" and alarm.get("data-source") == "web-cpu"
    assert alarm.get("data-outcome") == "ROLLED_BACK" and alarm.get("data-probe-fill") == "rgb(201, 42, 42)"

    # And hovering shows the commit subject, the git SHA and the revision (the page's own script
    # moved every <title> into data-tip)
    assert int(dom.root.get("data-tooltips")) > 10 and dom.find("title") == [dom.find("title")[0]]
    bad_tip = _mark(dom, "prod/web", story.web_bad).get("data-tip")
    assert HOSTILE in bad_tip and SHA_BAD in bad_tip and story.web_bad in bad_tip
    baking_tip = _mark(dom, "prod/web", story.web_baking).get("data-tip")
    assert BAKING_SUBJECT in baking_tip and "baking: GOOD due" in baking_tip
    assert "web-cpu" in alarm.get("data-tip") and f"{story.web_bad} → {story.web_good}" in alarm.get(
        "data-tip"
    )
    # And nothing in the ledger became markup: the page's script and the probe are the only scripts
    assert len(dom.find("script")) == 2 and dom.find("img") == []

    # And the screenshot is kept in the test's tmp dir (shown with pytest -rP)
    print(f"screenshot: {shot}")
    assert shot.exists() and shot.stat().st_size > 10_000, shot
    assert png_size(shot) == (1400, 900)


@pytest.mark.emulator
def test_one_service_only_and_the_page_on_stdout(fleet: Fleet, tmp_path: Path) -> None:
    # Given two services in the ledger
    fleet.add_service("staging", "worker")
    # When the page of one is asked, on stdout
    result = fleet.run("timeline", "prod", "web", "--html", "-")
    # Then stdout is the page alone, with that service's row only
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("<!DOCTYPE html>") and result.stdout.rstrip().endswith("</html>")
    dom = Dom.parse(result.stdout)
    assert {e.get("data-service") for e in dom.find("g", "service")} == {"prod/web"}
    assert [m.get("data-revision") for m in dom.find("g", "dep")] == ["web:1", "web:2"]
    assert "reading 1 service from the ledger ledger" in result.stderr
    # When CLUSTER alone is given
    staging = fleet.run("timeline", "staging", "--html", str(tmp_path / "staging.html"))
    # Then the page has that cluster's services
    assert staging.exit_code == 0, staging.output
    page = Dom.parse((tmp_path / "staging.html").read_text())
    assert {e.get("data-service") for e in page.find("g", "service")} == {"staging/worker"}


@pytest.mark.emulator
def test_errors_name_the_flag_and_write_nothing(fleet: Fleet, tmp_path: Path) -> None:
    cases = [
        (("timeline",), 2, "error: --html FILE is required"),
        (("timeline", "--html", str(tmp_path)), 2, f"error: --html: {tmp_path} is a directory"),
        (
            ("timeline", "--html", str(tmp_path / "missing" / "t.html")),
            1,
            f"error: --html: cannot write {tmp_path / 'missing' / 't.html'}: the directory",
        ),
        (
            ("timeline", "prod", "ghost", "--html", str(tmp_path / "g.html")),
            1,
            "error: prod/ghost is not in the ledger",
        ),
        (
            ("timeline", "nowhere", "--html", str(tmp_path / "n.html")),
            1,
            "error: the ledger (table ledger) holds no service of cluster nowhere",
        ),
    ]
    for args, code, message in cases:
        # When
        result = fleet.run(*args)
        # Then one line, the exit code, no traceback
        assert result.exit_code == code, (args, result.output)
        assert result.stderr.startswith(message), (args, result.stderr)
        assert "Traceback" not in result.output
    # And a file that cannot be written is an error naming the flag too
    locked = tmp_path / "locked"
    locked.mkdir()
    target = locked / "t.html"
    target.write_text("old")
    target.chmod(0o400)
    locked.chmod(0o500)
    try:
        result = fleet.run("timeline", "--html", str(target))
    finally:
        locked.chmod(0o700)
        target.chmod(0o600)
    if result.exit_code == 0:  # root writes through any permission
        assert target.read_text().startswith("<!DOCTYPE html>")
    else:
        assert result.exit_code == 1 and result.stderr.startswith(f"error: --html: cannot write {target}: ")
    assert list(tmp_path.glob("*.html")) == []
    # And every option is described
    help_text = fleet.run("timeline", "--help")
    assert help_text.exit_code == 0
    for flag in ("--html", "--limit", "--title", "CLUSTER", "SERVICE"):
        assert flag in help_text.stdout
    assert "timeline" in fleet.run("--help").stdout


def _fleet_of(services: int, deployments: int) -> TimelineData:
    """10 services x 50 deployments over three weeks: every seventh release is BAD, an alarm rolls
    it back minutes later (to the release before it); quiet nights and weekends in between."""
    start = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    rows = []
    for s in range(services):
        service = ServiceId("aws", "eu-west-1", "123456789012", "prod", f"service-{s:02d}")
        at = start + timedelta(minutes=7 * s)
        items: list[Deployment] = []
        decisions = []
        for d in range(1, deployments + 1):
            at += timedelta(minutes=4) if d % 7 == 0 else timedelta(hours=9 + (d * 5 + s) % 17)
            status = Status.ROLLED_BACK if d % 7 == 6 else Status.GOOD
            arn = f"arn:aws:ecs:eu-west-1:123456789012:task-definition/service-{s:02d}:{d}"
            items.append(
                Deployment(
                    service=service,
                    deployment_id=f"ecs-svc/{s:02d}{d:04d}",
                    task_definition_arn=arn,
                    status=status if d < deployments else Status.COMPLETED,
                    started_at=at,
                    updated_at=at + timedelta(minutes=3),
                    completed_at=at + timedelta(minutes=2),
                    good_at=at + timedelta(minutes=12) if status == Status.GOOD else None,
                    git_sha=f"{s:02d}{d:05d}" + "a" * 33,
                    commit_message=f"Change {d} of service {s}",
                    origin=Origin.AUTOMATIC_ROLLBACK if d % 7 == 0 else Origin.DEPLOY,
                )
            )
            if d % 7 == 0:
                bad, good = items[-2], items[-3]
                decisions.append(
                    RollbackRecord(
                        rollback_id=f"rb-{s}-{d}",
                        service=service,
                        trigger=TriggerKind.ALARM,
                        trigger_id=f"event-{s}-{d}",
                        triggered_at=at - timedelta(seconds=30),
                        created_at=at - timedelta(seconds=20),
                        outcome=Outcome.ROLLED_BACK,
                        code="rollback",
                        message=f"rolling back from {bad.revision} to {good.revision}",
                        requested_by="ecs-rollback",
                        reason="alarm",
                        source=f"service-{s:02d}-5xx",
                        from_deployment=bad.summary(),
                        to_release=ReleaseRef(
                            good.release, good.task_definition_arn, arn, deployment_id=good.deployment_id
                        ),
                        deployed_task_definition_arn=arn,
                        result="COMPLETED",
                    )
                )
        rows.append(ServiceTimeline(service, items, decisions, items[-1].deployment_id))
    now = max(row.deployments[-1].started_at for row in rows) + timedelta(minutes=5)
    return TimelineData(rows, now, 600, "ledger", deployments)


def test_ten_services_by_fifty_deployments_stay_readable(tmp_path: Path) -> None:
    # Given a fleet's three weeks: 500 deployments, 70 of them rolled back minutes after they started
    data = _fleet_of(10, 50)
    # When the page is rendered
    started = time.perf_counter()
    text = render(data)
    seconds = time.perf_counter() - started
    page = tmp_path / "fleet.html"
    page.write_text(text)
    # Then it is quick and small, in a chart that fits a wide screen, with dated ticks
    assert seconds < 2, seconds
    assert len(text) < 2_000_000
    dom = Dom.parse(text)
    chart = dom.one("svg", "timeline")
    assert float(chart.get("width")) <= 2400 and float(chart.get("height")) <= 800
    assert len(dom.find("text", "tick-label")) >= 10
    # And, as Chromium draws it, every deployment's mark is wide enough to see and to point at (the
    # ones minutes apart too), and every rollback's arrow runs from the bad mark to the restored one
    rendered = rendered_dom(page, tmp_path)
    marks = {(m.get("data-service"), m.get("data-revision")): m for m in rendered.find("g", "dep")}
    assert len(marks) == 500
    assert min(
        right - left for left, right, _, _ in (m.numbers("data-probe-box") for m in marks.values())
    ) >= (
        MIN_DEPLOYMENT_PX - 1.5  # less the white border between marks
    )
    arrows = [a for a in rendered.find("path", "rollback-arrow") if a.get("data-service")]  # not the legend's
    assert len(arrows) == 70
    for arrow in arrows:
        service = arrow.get("data-service")
        x_from, _, x_to, _ = arrow.numbers("data-probe-ends")
        assert _inside(x_from, marks[service, arrow.get("data-from-revision")].numbers("data-probe-box"))
        assert _inside(x_to, marks[service, arrow.get("data-to-revision")].numbers("data-probe-box"))
        assert x_to < x_from
    # And a screenshot of the whole chart is kept
    shot = screenshot(page, tmp_path, "timeline-10x50.png", "2400,1000")
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 20_000 and png_size(shot) == (2400, 1000)


@pytest.mark.emulator
def test_the_sandbox_writes_the_page_of_its_ledger(
    fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the sandbox's world after its story (here: prod/web's two GOOD releases), run from a directory
    from ecs_rollback_sandbox.__main__ import TIMELINE_PAGE, _write_timeline

    monkeypatch.chdir(tmp_path)
    # When the sandbox writes its page
    written = _write_timeline(fleet.world, "ledger")
    # Then it is .sandbox/timeline.html there, the page the command writes
    assert written == (tmp_path / TIMELINE_PAGE).resolve()
    dom = Dom.parse(written.read_text())
    assert [m.get("data-revision") for m in dom.find("g", "dep", data_service="prod/web")] == [
        "web:1",
        "web:2",
    ]
    assert "· ledger ledger ·" in written.read_text()  # the table it was read from
    # And a directory it cannot write costs the page, not the story
    monkeypatch.chdir(tmp_path / ".sandbox")
    (tmp_path / ".sandbox" / ".sandbox").write_text("a file where the directory would be")
    assert _write_timeline(fleet.world, "ledger") is None
