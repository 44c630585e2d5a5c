"""The git commit a deploy names: only asked when the tag is not given, or to enrich one that is."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ecs_rollback.domain.gitsha import sha_from_tag

_HEX = re.compile(r"^[0-9a-f]{7,40}$")


@dataclass(frozen=True)
class Commit:
    sha: str | None  # full SHA when git knows it; the hex tag itself otherwise
    message: str | None


def _git(cwd: Path | None, *args: str) -> str | None:
    executable = shutil.which("git")
    if executable is None:
        return None
    try:
        result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            [executable, *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def head(cwd: Path | None) -> tuple[str, str] | None:
    """(short SHA, full SHA) of HEAD, or None outside a git checkout or without git."""
    full = _git(cwd, "rev-parse", "--verify", "--quiet", "HEAD")
    short = _git(cwd, "rev-parse", "--short", "HEAD")
    return (short, full) if full and short else None


def commit_for_tag(cwd: Path | None, tag: str) -> Commit:
    """The commit an image tag names: resolved by git when it knows it, else read from the tag."""
    sha = sha_from_tag(tag)
    if sha is None:
        return Commit(None, None)
    full = _git(cwd, "rev-parse", "--verify", "--quiet", f"{sha}^{{commit}}")
    if full and _HEX.match(full) and full.startswith(sha):
        return Commit(full, _git(cwd, "log", "-1", "--format=%B", full))
    return Commit(sha, None)
