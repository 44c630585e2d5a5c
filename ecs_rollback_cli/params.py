"""How the commands declare their parameters, so every one reads the same in --help."""

from __future__ import annotations

from typing import Any

import typer


def value(flag: str, metavar: str, help: str, *short: str, **more: Any) -> Any:
    """An option that takes a value, shown in --help with the metavar that says what to give."""
    return typer.Option(flag, *short, metavar=metavar, help=help, **more)


def argument(metavar: str, help: str) -> Any:
    """A positional argument, shown in --help by its metavar and without a default."""
    return typer.Argument(metavar=metavar, help=help, show_default=False)
