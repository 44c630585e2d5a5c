"""What a command needs from its surroundings besides AWS: prompts, time, the git checkout.

Everything here is injectable (``CliRunner.invoke(app, args, obj=Runtime(...))``), so tests drive
the real prompts with scripted keystrokes and move time without sleeping.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import questionary
from questionary import Choice

from ecs_rollback_cli.errors import EXIT_CANCELLED, EXIT_USAGE, CliError


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Prompter:
    """questionary prompts on the terminal, or on the given prompt_toolkit input and output."""

    def __init__(self, *, input: Any = None, output: Any = None) -> None:
        self._io = {key: value for key, value in (("input", input), ("output", output)) if value is not None}

    def _ask(self, question: questionary.Question) -> Any:
        try:
            answer = question.unsafe_ask()
        except (KeyboardInterrupt, EOFError) as error:
            raise CliError("cancelled; nothing was changed", EXIT_CANCELLED) from error
        return answer

    def select(self, message: str, choices: Sequence[Choice], default: Any = None) -> Any:
        default_choice = next((c for c in choices if default is not None and c.value == default), None)
        return self._ask(
            questionary.select(message, choices=list(choices), default=default_choice, **self._io)
        )

    def checkbox(self, message: str, choices: Sequence[Choice], *, at_least_one: str) -> list[Any]:
        return list(
            self._ask(
                questionary.checkbox(
                    message,
                    choices=list(choices),
                    validate=lambda picked: bool(picked) or at_least_one,
                    **self._io,
                )
            )
        )

    def confirm(self, message: str, *, default: bool = False) -> bool:
        return bool(self._ask(questionary.confirm(message, default=default, **self._io)))

    def text(self, message: str, *, required: str) -> str:
        answer = self._ask(
            questionary.text(message, validate=lambda value: bool(value.strip()) or required, **self._io)
        )
        return str(answer).strip()


@dataclass
class Runtime:
    """Injected surroundings; the defaults are the real terminal, clock and working directory."""

    prompter: Prompter | None = None
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = _utc_now
    cwd: Path | None = None

    @property
    def can_prompt(self) -> bool:
        return self.prompter is not None or (sys.stdin.isatty() and sys.stdout.isatty())

    def prompts(self, why: str) -> Prompter:
        """The prompter, or a usage error saying which flag replaces the question."""
        if self.prompter is not None:
            return self.prompter
        if not self.can_prompt:
            raise CliError(f"no terminal to ask on: {why}", EXIT_USAGE)
        self.prompter = Prompter()
        return self.prompter
