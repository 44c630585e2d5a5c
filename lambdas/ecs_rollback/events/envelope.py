"""The EventBridge envelope as this service reads it: Powertools' model, with the account and the
region held to AWS's shapes (they become part of ledger keys and ARNs), and text that can be
written anywhere (no lone UTF-16 surrogates, which JSON can carry and UTF-8 cannot)."""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import ConfigDict, Field, model_validator

_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_DEPTH = 32


class AwsEvent(EventBridgeModel):
    # Every event model is built on its first validation, not at import: a function builds only
    # the one it receives (and this base, never validated itself, never).
    model_config = ConfigDict(defer_build=True)

    id: str = Field(min_length=1, max_length=128)
    account: str = Field(pattern=r"^[0-9]{12}$")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$", max_length=32)

    @model_validator(mode="before")
    @classmethod
    def _encodable(cls, raw: Any) -> Any:
        """An event whose text holds a lone surrogate (``"\\ud800"`` in JSON) is refused whole: it
        cannot become a log line, a ledger item or an AWS call's parameter."""
        where = _lone_surrogate(raw, "", 0)
        if where is not None:
            raise ValueError(
                f"{(where or 'the event')[:200]} holds a lone UTF-16 surrogate, which is not text"
            )
        return raw


def _lone_surrogate(value: Any, path: str, depth: int) -> str | None:
    if isinstance(value, str):
        return path if _SURROGATE.search(value) else None
    if depth > _MAX_DEPTH:
        return None  # the models' own limits refuse what is nested this deep
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _SURROGATE.search(key):
                return path or "a key"
            found = _lone_surrogate(item, inner, depth + 1)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _lone_surrogate(item, f"{path}[{index}]", depth + 1)
            if found is not None:
                return found
    return None
