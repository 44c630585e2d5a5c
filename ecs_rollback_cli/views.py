"""How ledger records look to people (rich tables) and to scripts (plain JSON)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ecs_rollback.domain.model import Deployment, Status, iso
from ecs_rollback.domain.state import ServiceState
from ecs_rollback.services.notifications import release_view, revision_view

NONE = "-"
STATUS_STYLE = {
    Status.GOOD: "bold green",
    Status.COMPLETED: "green",
    Status.IN_PROGRESS: "yellow",
    Status.FAILED: "bold red",
    Status.ROLLED_BACK: "bold red",
}
OUTCOME_STYLE = {
    "ROLLED_BACK": "bold green",
    "DRY_RUN": "bold cyan",
    "SKIPPED": "bold yellow",
    "REFUSED": "bold red",
    "FAILED": "bold red",
}
REMINDER = (
    "Data migrations are not rolled back: check schema and data changes made since the target revision."
)


# -- small formats --------------------------------------------------------------------------


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else NONE


def span(seconds: float) -> str:
    """A duration in its largest whole unit: ``3 h``, ``7 min``, ``40 s``."""
    whole = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if whole >= size:
            return f"{whole // size} {unit}"
    return f"{whole} s"


def ago(now: datetime, moment: datetime | None) -> str:
    if moment is None:
        return NONE
    seconds = (now - moment).total_seconds()
    return "just now" if seconds < 0 else f"{span(seconds)} ago"


def good_expected_at(deployment: Deployment, bake_time_seconds: int | None) -> datetime | None:
    """When a COMPLETED release is due to become GOOD: completion plus the bake time.

    The earliest moment: the bake timer waits out any alarm still in ALARM then.
    """
    if deployment.status != Status.COMPLETED or deployment.completed_at is None or bake_time_seconds is None:
        return None
    return deployment.completed_at + timedelta(seconds=bake_time_seconds)


def bake_left(now: datetime, due: datetime) -> str:
    remaining = (due - now).total_seconds()
    return f"GOOD in {span(remaining)}" if remaining > 0 else "bake time over, GOOD at the next check"


def short_sha(sha: str | None) -> str:
    return sha[:7] if sha else NONE


def short_digest(digest: str | None) -> str:
    return digest[:15] if digest else NONE


def short_image(image: str) -> str:
    """An image reference with its digest cut to 12 hex characters, for summaries (JSON has it all)."""
    name, at, digest = image.partition("@")
    return f"{name}@{digest[:19]}…" if at and len(digest) > 19 else image


def image_tags(deployment: Deployment) -> str:
    """The tag of each container's image (``@sha256:...`` when it is pinned, not tagged)."""

    def one(image_text: str, tag: str | None, digest: str | None) -> str:
        if tag:
            return tag
        return f"@{short_digest(digest)}" if digest else image_text.rsplit("/", 1)[-1]

    parts = [
        (image.container, one(image.image, image.tag, image.reference.digest)) for image in deployment.images
    ]
    if len(parts) == 1:
        return parts[0][1]
    return ", ".join(f"{container}={tag}" for container, tag in parts) or NONE


def status_text(status: Status | str, *, spell_bad: bool = False) -> Text:
    """GOOD ✓ (a rollback target), FAILED ✗ / ROLLED_BACK ✗ (BAD: never chosen automatically); a
    release's verdict (``BAD``, ``UNKNOWN``: not judged yet) as well as a deployment's status."""
    if status == "BAD":
        return Text("BAD ✗", style="bold red")
    if status == "UNKNOWN":
        return Text("not judged yet", style="dim")
    value = Status(status)
    marker = " ✓" if value == Status.GOOD else " ✗" if value.is_bad else ""
    label = f"{value.value}{marker}" + (" (BAD)" if spell_bad and value.is_bad else "")
    return Text(label, style=STATUS_STYLE[value])


def first_line(text: str | None, limit: int = 60) -> str:
    if not text:
        return NONE
    line = text.splitlines()[0].strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


# -- JSON -----------------------------------------------------------------------------------


def deployment_json(deployment: Deployment | None) -> dict[str, Any] | None:
    view = revision_view(deployment)
    if view is None or deployment is None:
        return None
    view["images"] = [
        {"container": image.container, "image": image.image, "tag": image.tag, "digest": image.digest}
        for image in deployment.images
    ]
    view.update(
        {
            "trigger": deployment.origin.value,
            "actor": deployment.actor,
            "adopted": deployment.adopted,
            "rollback_id": deployment.rollback_id,
            "source_task_definition_arn": deployment.source_task_definition_arn,
            "reason": deployment.reason,
            "started_at": iso(deployment.started_at),
            "completed_at": iso(deployment.completed_at) if deployment.completed_at else None,
            "good_at": iso(deployment.good_at) if deployment.good_at else None,
            "updated_at": iso(deployment.updated_at),
            "status_changes": [
                {"status": change.status.value, "at": iso(change.at), "reason": change.reason}
                for change in deployment.history
            ],
        }
    )
    return view


def bake_json(
    deployment: Deployment | None, bake_time_seconds: int | None, now: datetime
) -> dict[str, Any] | None:
    due = good_expected_at(deployment, bake_time_seconds) if deployment else None
    if due is None:
        return None
    return {
        "bake_time_seconds": bake_time_seconds,
        "good_expected_at": iso(due),
        "remaining_seconds": max(0, int((due - now).total_seconds())),
    }


def state_json(state: ServiceState, now: datetime, bake_time_seconds: int | None = None) -> dict[str, Any]:
    running = state.current.release if state.current else None
    in_flight = state.in_flight
    current = deployment_json(state.current)
    if current is not None:
        current["bake"] = bake_json(state.current, bake_time_seconds, now)
    return {
        "service": str(state.service),
        "service_arn": state.service.arn,
        "account": state.service.account,
        "region": state.service.region,
        "cluster": state.service.cluster,
        "name": state.service.name,
        "version": state.version,
        "current": current,
        "last_good": release_view(state.newest_good_except(running)),
        "good": [str(entry.revision) for entry in state.good],
        "rollback_in_flight": None
        if in_flight is None
        else {
            "rollback_id": in_flight.rollback_id,
            "active": in_flight.active(now),
            "automatic": in_flight.automatic,
            "from_task_definition_arn": in_flight.from_task_definition_arn,
            "source_task_definition_arn": in_flight.source_task_definition_arn,
            "target_task_definition_arn": in_flight.target_task_definition_arn,
            "started_at": iso(in_flight.started_at),
            "expires_at": iso(in_flight.expires_at),
        },
        "halted": None
        if state.halted is None
        else {
            "reason": state.halted.reason,
            "at": iso(state.halted.at),
            "rollback_id": state.halted.rollback_id,
        },
        "updated_at": iso(state.updated_at) if state.updated_at else None,
    }


# -- tables ---------------------------------------------------------------------------------


def status_table(
    states: Iterable[ServiceState], now: datetime, bake_time_seconds: int | None = None
) -> Table:
    table = Table(
        title="Services in the ledger", title_justify="left", header_style="bold", box=box.SIMPLE_HEAD
    )
    for column in ("SERVICE", "CURRENT", "STATUS", "IMAGE TAG", "GIT SHA", "LAST GOOD", "IN FLIGHT / NOTES"):
        table.add_column(column, overflow="fold")
    states = list(states)
    # A central installation's ledger holds several accounts and regions: say whose each service is.
    several = len({(state.service.account, state.service.region) for state in states}) > 1
    for state in states:
        current = state.current
        last_good = state.newest_good_except(current.release if current else None)
        notes = Text()
        if state.in_flight is not None and state.in_flight.active(now):
            kind = "automatic" if state.in_flight.automatic else "manual"
            target = state.in_flight.source_task_definition_arn.rsplit("/", 1)[-1]
            notes.append(
                f"{kind} rollback to {target} (started {ago(now, state.in_flight.started_at)})", "bold yellow"
            )
        if state.halted is not None:
            notes.append(
                ("\n" if notes else "") + f"automation halted: {first_line(state.halted.reason)}", "red"
            )
        status = status_text(current.status) if current else Text(NONE)
        due = good_expected_at(current, bake_time_seconds) if current else None
        if due is not None:
            status.append(f"\n{bake_left(now, due)}", style="dim")
        table.add_row(
            f"{state.service}\n{state.service.account} {state.service.region}"
            if several
            else str(state.service),
            str(current.revision) if current else NONE,
            status,
            image_tags(current) if current else NONE,
            short_sha(current.git_sha) if current else NONE,
            f"{last_good.revision} ({short_sha(last_good.git_sha)}, {ago(now, last_good.good_at or last_good.deployed_at or now)})"
            if last_good
            else Text("none recorded", style="yellow"),
            notes or NONE,
        )
    return table


def image_lines(deployment: Deployment) -> Text:
    """One line per container: its tag and the digest that ran (``pinned`` when named by digest)."""
    text = Text()
    for number, image in enumerate(deployment.images):
        if number:
            text.append("\n")
        if len(deployment.images) > 1:
            text.append(f"{image.container}: ")
        text.append(image.tag or "pinned")
        text.append(f"\n{short_digest(image.digest)}", style="dim")
    return text or Text(NONE)


def history_table(
    title: str, deployments: Iterable[Deployment], now: datetime, current_id: str | None
) -> Table:
    table = Table(
        title=title,
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        caption="● running now   ✓ GOOD: a rollback target   ✗ BAD: never chosen automatically",
        caption_justify="left",
    )
    table.add_column("REVISION", no_wrap=True)
    table.add_column("STATUS", no_wrap=True)
    table.add_column("IMAGE")
    table.add_column("GIT SHA", no_wrap=True)
    table.add_column("COMMIT", min_width=12)
    table.add_column("STARTED (UTC)", no_wrap=True)
    table.add_column("UPDATED")
    table.add_column("TRIGGER")
    table.add_column("ACTOR")
    for deployment in deployments:
        current = deployment.deployment_id == current_id
        trigger = deployment.origin.value.replace("_", " ")
        if deployment.adopted and deployment.origin.value != "adopted":
            trigger += " (adopted)"
        table.add_row(
            Text(("● " if current else "  ") + str(deployment.revision), style="bold" if current else ""),
            status_text(deployment.status),
            image_lines(deployment),
            short_sha(deployment.git_sha),
            first_line(deployment.commit_message, 72),
            deployment.started_at.strftime("%Y-%m-%d %H:%M"),
            ago(now, deployment.updated_at),
            trigger,
            deployment.actor,
        )
    return table


# -- the rollback function's answer ---------------------------------------------------------


def revision_lines(
    view: Mapping[str, Any], *, indent: str = "", spell_bad: bool = False, registry: bool = True
) -> Text:
    """A revision as the function's answer gives it: revision, status, commit, then each image
    (without its registry host when ``registry`` is false, for narrow table cells)."""
    text = Text(f"{view.get('revision')}  ")
    text.append_text(status_text(str(view.get("status") or "IN_PROGRESS"), spell_bad=spell_bad))
    text.append(f"  git {short_sha(view.get('git_sha'))}")
    if view.get("commit_message"):
        text.append(f' "{first_line(view["commit_message"])}"', style="italic")
    for image in view.get("images") or []:
        shown = str(image.get("image"))
        named = short_image(shown) if registry else short_image(shown).rsplit("/", 1)[-1]
        text.append(f"\n{indent}{image.get('container')}: {named}")
        digest = image.get("digest")
        if digest and "@" not in shown:
            text.append(f"  ({short_digest(digest)})", style="dim")
    return text


def _revision_lines(label: str, view: Mapping[str, Any]) -> Text:
    text = Text(f"{label:<5}", style="bold")
    text.append_text(revision_lines(view, indent="      "))
    return text


def answer_renderable(answer: Mapping[str, Any]) -> RenderableType:
    """The manual function's answer as a short summary: outcome, from -> to, message, reminder."""
    if "error" in answer:
        return Text(f"error ({answer['error']}): {answer.get('message')}", style="bold red")
    outcome = str(answer.get("outcome", "?"))
    parts: list[RenderableType] = [Text(str(answer.get("message", "")))]
    for label in ("from", "to"):
        if answer.get(label):
            parts.append(_revision_lines(label, answer[label]))
    deployed = answer.get("deployed_task_definition_arn")
    if deployed and answer.get("to") and deployed != answer["to"].get("task_definition_arn"):
        parts.append(
            Text(
                f"deployed {deployed.rsplit('/', 1)[-1]} (a copy with images pinned to their digests)",
                style="dim",
            )
        )
    parts.append(
        Text(
            f"rollback id {answer.get('rollback_id')}  requested by {answer.get('requested_by')}", style="dim"
        )
    )
    if answer.get("reminder"):
        parts.append(Text(f"! {REMINDER}", style="bold yellow"))
    return Panel(
        Group(*parts),
        title=Text(f"{outcome}  {answer.get('service', '')}", style=OUTCOME_STYLE.get(outcome, "bold")),
        title_align="left",
        expand=False,
    )
