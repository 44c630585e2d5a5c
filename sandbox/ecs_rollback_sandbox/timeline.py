"""The story as people read it: one line per thing that happened, stamped with the simulated
clock, then the ledger as tables; or the same as one JSON document for scripts.

Lines are printed as they happen (the story takes seconds), so a newcomer watches the service
work rather than reading a report after the fact.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ecs_rollback.domain.model import Deployment, ImageReference, RollbackRecord, iso
from ecs_rollback_sandbox.world import Delivery


class Mode(StrEnum):
    RICH = "rich"  # printed live, for people
    JSON = "json"  # collected, printed once at the end
    QUIET = "quiet"  # collected, not printed


STYLES = {
    "you": "bold",
    "ecr": "bold",
    "ecs": "cyan",
    "cloudwatch": "magenta",
    "scheduler": "yellow",
    "eventbridge": "dim",
    "lambda": "green",
    "sns": "blue",
    "sandbox": "dim",
    "check": "bold green",
}


@dataclass(frozen=True)
class Entry:
    at: datetime
    actor: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "at": iso(self.at)}


def short_digest(digest: str | None) -> str:
    return f"{digest[:19]}…" if digest else "-"  # "sha256:" + 12 hex characters


def short_image(image: str) -> str:
    """``<account>.dkr.ecr.<region>.amazonaws.com/web:latest`` -> ``web:latest`` (or ``web@sha256:…``)."""
    reference = ImageReference.parse(image)
    name = reference.repository.rsplit("/", 1)[-1]
    if reference.digest:
        return f"{name}@{short_digest(reference.digest)}"
    return f"{name}:{reference.tag}" if reference.tag else name


class Timeline:
    """Collects entries; in rich mode prints each one as it is added."""

    def __init__(
        self, now: Callable[[], datetime], *, mode: Mode = Mode.RICH, console: Console | None = None
    ) -> None:
        self.now = now
        self.mode = mode
        self.console = console or Console(highlight=False, soft_wrap=True)
        if not self.console.is_terminal:
            self.console.width = max(self.console.width, 160)  # a pipe or a file: keep the tables whole
        self.entries: list[Entry] = []
        self.sections: dict[str, Any] = {}

    # -- adding -------------------------------------------------------------------------------

    def say(self, actor: str, text: str, **data: Any) -> Entry:
        entry = Entry(self.now(), actor, text, data)
        self.entries.append(entry)
        if self.mode is Mode.RICH:
            style = STYLES.get(actor, "")
            self.console.print(
                f"[dim]{entry.at:%H:%M:%S}[/dim]  [{style}]{actor:<10}[/{style}] {escape(text)}"
                if style
                else f"[dim]{entry.at:%H:%M:%S}[/dim]  {actor:<10} {escape(text)}"
            )
        return entry

    def heading(self, title: str) -> None:
        if self.mode is Mode.RICH:
            self.console.print()
            self.console.rule(f"[bold]{escape(title)}", align="left")

    def note(self, text: str) -> None:
        """A plain line, not part of the story (hints, paths)."""
        if self.mode is Mode.RICH:
            self.console.print(text, highlight=False)

    def observe(self, delivery: Delivery) -> None:
        """A ``World`` observer: one line per function invocation, or per dropped event."""
        if delivery.function is None:
            self.say("eventbridge", f"{describe_event(delivery.event)}: no rule matched, dropped")
            return
        self.say(
            "lambda",
            f"{delivery.function} ({delivery.via}): {describe_result(delivery.function, delivery.result)}",
            function=delivery.function,
            via=delivery.via,
            result=delivery.result,
        )

    # -- the ledger ---------------------------------------------------------------------------

    def ledger(self, history: Iterable[Deployment], rollbacks: Iterable[RollbackRecord]) -> None:
        history, rollbacks = list(history), list(rollbacks)
        self.sections["ledger"] = {
            "history": [deployment_row(d) for d in history],
            "rollbacks": [rollback_row(r) for r in rollbacks],
        }
        if self.mode is not Mode.RICH:
            return
        table = Table(title="Deployment history (newest first)", title_justify="left", show_lines=False)
        for column in (
            "revision",
            "image",
            "digest",
            "git SHA",
            "status",
            "origin",
            "started",
            "completed",
            "good",
        ):
            table.add_column(column, no_wrap=True)
        for row in self.sections["ledger"]["history"]:
            table.add_row(
                row["revision"],
                ", ".join(short_image(image) for image in row["images"]),
                ", ".join(short_digest(digest) for digest in row["digests"]),
                (row["git_sha"] or "-")[:7],
                _status_markup(row["status"]),
                row["origin"] + (" (adopted)" if row["adopted"] else ""),
                _clock(row["started_at"]),
                _clock(row["completed_at"]),
                _clock(row["good_at"]),
            )
        self.console.print()
        self.console.print(table)
        rolls = Table(title="Rollbacks", title_justify="left")
        for column in ("at", "trigger", "outcome", "from", "to", "deployed as", "pinned image", "result"):
            rolls.add_column(column, no_wrap=True)
        for row in self.sections["ledger"]["rollbacks"]:
            rolls.add_row(
                _clock(row["decided_at"]),
                f"{row['trigger']} {row['source']}".strip(),
                f"{row['outcome']} ({row['code']})",
                row["from"] or "-",
                row["to"] or "-",
                row["deployed_as"] or "-",
                ", ".join(short_image(image) for image in row["pinned_images"]) or "-",
                row["result"] or "-",
            )
        self.console.print(rolls)

    # -- output -------------------------------------------------------------------------------

    def document(self, **extra: Any) -> dict[str, Any]:
        return {"timeline": [entry.as_json() for entry in self.entries], **self.sections, **extra}

    def print_json(self, **extra: Any) -> None:
        print(json.dumps(self.document(**extra), indent=2, default=str))


# -- what each thing says -------------------------------------------------------------------------


def describe_event(event: Any) -> str:
    if not isinstance(event, Mapping):
        return f"a {type(event).__name__} event"
    raw_detail = event.get("detail")
    detail: Mapping[str, Any] = raw_detail if isinstance(raw_detail, Mapping) else {}
    kind = str(event.get("detail-type") or event.get("source") or "event")
    subject = detail.get("eventName") or detail.get("alarmName") or ""
    resources = event.get("resources")
    first = str(resources[0]) if isinstance(resources, list) and resources else ""
    where = first.split(":service/", 1)[1] if ":service/" in first else ""
    return " ".join(part for part in (kind, str(subject), where) if part)


def describe_result(function: str, result: Mapping[str, Any]) -> str:
    """One human line for a handler's answer."""
    status = str(result.get("status", ""))
    if status == "rejected":
        problems = ", ".join(f"{p['field']}: {p['problem']}" for p in result.get("problems", [])[:3])
        return f"refused a malformed event ({problems}); nothing changed"
    if function == "deployment_events":
        text = {
            "in_progress": f"recorded {result.get('revision')} IN_PROGRESS",
            "completed": f"recorded {result.get('revision')} COMPLETED; bake timer scheduled",
            "failed": f"recorded {result.get('revision')} FAILED",
            "out_of_scope": "service outside the scope; ignored",
        }.get(status, status.replace("_", " "))
        decision = result.get("decision")
        return f"{text}; {describe_decision(decision)}" if decision else text
    if function == "alarm_events":
        decisions = result.get("decisions") or []
        if not decisions:
            return "alarm linked to no service in scope; ignored"
        return "; ".join(describe_decision(d) for d in decisions)
    if function == "bake_timer":
        return f"{status}: {result.get('message', '')}".rstrip(": ")
    if "error" in result:
        return f"error {result['error']}: {result.get('message', '')}"
    if "outcome" in result:
        return describe_decision(result)
    return json.dumps(result, default=str)[:200]


def describe_decision(decision: Mapping[str, Any]) -> str:
    outcome, code = decision.get("outcome"), decision.get("code")
    source, target = decision.get("from") or {}, decision.get("to") or {}
    if outcome in ("ROLLED_BACK", "DRY_RUN") and target:
        text = f"{outcome} {source.get('revision', '?')} -> {target.get('revision')}"
        deployed = decision.get("deployed_task_definition_arn")
        if deployed and not deployed.endswith(f"/{target.get('revision')}"):
            images = ", ".join(short_image(image["image"]) for image in target.get("images", []))
            text += f", deployed as {deployed.rsplit('/', 1)[-1]} ({images})"
        return text
    return f"{outcome} ({code}): {decision.get('message', '')}"


def deployment_row(deployment: Deployment) -> dict[str, Any]:
    return {
        "revision": str(deployment.revision),
        "task_definition_arn": deployment.task_definition_arn,
        "deployment_id": deployment.deployment_id,
        "images": [image.image for image in deployment.images],
        "digests": [image.digest for image in deployment.images],
        "git_sha": deployment.git_sha,
        "commit_message": deployment.commit_message,
        "status": deployment.status.value,
        "origin": deployment.origin.value,
        "adopted": deployment.adopted,
        "actor": deployment.actor,
        "started_at": iso(deployment.started_at),
        "completed_at": iso(deployment.completed_at) if deployment.completed_at else None,
        "good_at": iso(deployment.good_at) if deployment.good_at else None,
    }


def rollback_row(record: RollbackRecord) -> dict[str, Any]:
    return {
        "rollback_id": record.rollback_id,
        "trigger": record.trigger.value,
        "source": record.source,
        "outcome": record.outcome.value,
        "code": record.code,
        "from": str(record.from_deployment.revision) if record.from_deployment else None,
        "to": str(record.to_release.revision) if record.to_release else None,
        "deployed_as": record.deployed_task_definition_arn.rsplit("/", 1)[-1]
        if record.deployed_task_definition_arn
        else None,
        "pinned_images": [image.image for image in record.pinned_images],
        "requested_by": record.requested_by,
        "decided_at": iso(record.created_at),
        "result": record.result,
    }


def _clock(stamp: str | None) -> str:
    return stamp[11:19] if stamp else "-"


def _status_markup(status: str) -> str:
    color = {"GOOD": "green", "COMPLETED": "cyan", "FAILED": "red", "ROLLED_BACK": "red"}.get(status)
    return f"[{color}]{status}[/{color}]" if color else status
