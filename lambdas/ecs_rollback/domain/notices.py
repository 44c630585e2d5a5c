"""What a notification may carry: SNS's limits, applied once, before a message is stored.

SNS takes at most 256 KB per message (body and attributes together) and a subject of under 100
printable ASCII characters on one line. A record can carry input of any size (an alarm dimension
of 300 KB, a long reason), so every message is bounded when it is written to the outbox: strings
are cut first, and a body that still does not fit is replaced by its headline fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class NoticeKind(StrEnum):
    """What a notification tells of; the configuration names the kinds that are sent."""

    ROLLED_BACK = "ROLLED_BACK"
    DRY_RUN = "DRY_RUN"
    REFUSED = "REFUSED"
    FAILED = "FAILED"
    HALTED = "HALTED"  # automatic rollbacks stopped for the service until a person acts
    NO_KNOWN_GOOD = "NO_KNOWN_GOOD"  # no GOOD release other than the one running to go back to
    OUTSIDE_WATCH_WINDOW = "OUTSIDE_WATCH_WINDOW"  # an alarm on a GOOD release past the window: notify only
    SKIPPED = "SKIPPED"  # every other decision that leaves ECS alone (duplicates, stale events, ...)
    ROLLBACK_RESULT = "ROLLBACK_RESULT"  # the rollback's own deployment completed or failed
    KNOWN_BAD_RELEASE = "KNOWN_BAD_RELEASE"  # ECS started deploying a release recorded BAD


SUBJECT_LIMIT = 100
MESSAGE_LIMIT_BYTES = 200_000  # under SNS's 262,144 with room for the attributes and the envelope
STRING_LIMIT = 4_000
ATTRIBUTE_LIMIT = 256
_HEADLINE = ("outcome", "code", "service", "service_arn", "rollback_id", "trigger", "trigger_id", "dry_run")


def subject_line(text: str) -> str:
    ascii_only = text.encode("ascii", "replace").decode()
    single_line = re.sub(r"[\x00-\x1f\x7f]+", " ", ascii_only)
    return single_line[: SUBJECT_LIMIT - 1]


def bounded_message(body: Mapping[str, Any]) -> str:
    """``body`` as JSON of at most ``MESSAGE_LIMIT_BYTES``; ``truncated`` says when it was cut."""
    message = _dumps(body)
    if len(message.encode()) <= MESSAGE_LIMIT_BYTES:
        return message
    cut = _cut(body, STRING_LIMIT)
    cut["truncated"] = True
    message = _dumps(cut)
    if len(message.encode()) <= MESSAGE_LIMIT_BYTES:
        return message
    headline: dict[str, Any] = {key: _cut(body.get(key), 300) for key in _HEADLINE if key in body}
    headline["message"] = _cut(body.get("message", ""), 1_000)
    headline["truncated"] = True
    return _dumps(headline)


def attribute_value(value: object) -> str:
    """A message attribute value: a printable string, bounded (subscription filters match on it)."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", str(value))
    return text[:ATTRIBUTE_LIMIT] or "-"


def _cut(value: Any, limit: int, depth: int = 0) -> Any:
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + "...[cut]"
    if depth > 20:
        return "[nested too deep]"
    if isinstance(value, Mapping):
        return {str(key)[:200]: _cut(item, limit, depth + 1) for key, item in list(value.items())[:200]}
    if isinstance(value, (list, tuple)):
        return [_cut(item, limit, depth + 1) for item in value[:200]]
    return value


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


# Amazon Q Developer in chat applications (AWS Chatbot) custom notifications: version 1.0, source
# "custom", Markdown as the chat client renders it. Sizes are kept well under the service's limits.
CHAT_TITLE_LIMIT = 250
CHAT_DESCRIPTION_LIMIT = 4_000
CHAT_CONTEXT_LIMIT = 256
_CHAT_PREFIX = "[ecs-rollback] "


def chat_message(key: str, subject: str, message: str, attributes: Mapping[str, str]) -> str:
    """One stored notification (its bounded JSON ``message``) as a custom notification for Slack
    and Teams channels: the headline, from and to, the commits and what to run next."""
    try:
        body = json.loads(message)
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    cluster, service = attributes.get("cluster", "-"), attributes.get("service", "-")
    lines = [_text(body.get("message")) or subject]
    for label, side in (("From", body.get("from")), ("To", body.get("to"))):
        if isinstance(side, dict) and side.get("revision"):
            sha = f" `{str(side['git_sha'])[:12]}`" if side.get("git_sha") else ""
            lines.append(f"*{label}:* {_text(side['revision'])}{sha} ({_text(side.get('status'))})")
    commits = body.get("commits")
    if isinstance(commits, list) and commits:
        lines.append("*Commits:* " + "; ".join(_text(commit) for commit in commits[:4]))
    if body.get("reminder"):
        lines.append(f"_{_text(body['reminder'])}_")
    context = {
        name: str(value)[:CHAT_CONTEXT_LIMIT]
        for name, value in {
            "outcome": body.get("outcome") or attributes.get("outcome"),
            "notice": attributes.get("notice"),
            "rollback_id": body.get("rollback_id"),
            "cluster": cluster,
            "service": service,
        }.items()
        if value
    }
    notice = {
        "version": "1.0",
        "source": "custom",
        "id": key[:CHAT_CONTEXT_LIMIT],
        "content": {
            "textType": "client-markdown",
            "title": subject.removeprefix(_CHAT_PREFIX)[:CHAT_TITLE_LIMIT],
            "description": "\n".join(lines)[:CHAT_DESCRIPTION_LIMIT],
            "nextSteps": [
                f"`ecs-rollback history {cluster} {service}`",
                f"`ecs-rollback status` or `ecs-rollback rollback {cluster} {service} --dry-run`",
            ],
            "keywords": [word for word in (context.get("outcome"), cluster, service) if word][:5],
        },
        "metadata": {
            # One thread per rollback: its decision and its deployment's result go together.
            "threadId": str(body.get("rollback_id") or key)[:CHAT_CONTEXT_LIMIT],
            "summary": subject[:CHAT_TITLE_LIMIT],
            "eventType": context.get("notice", "ecs-rollback"),
            "relatedResources": [str(body["service_arn"])[:CHAT_CONTEXT_LIMIT]]
            if body.get("service_arn")
            else [],
            "additionalContext": context,
        },
    }
    return json.dumps(notice, sort_keys=True)


def _text(value: object) -> str:
    return "" if value is None else str(value)[:STRING_LIMIT]
