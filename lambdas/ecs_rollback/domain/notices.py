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
from typing import Any

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
