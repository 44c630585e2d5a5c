#!/usr/bin/env python3
"""CDK entry point: ``python app.py`` or ``npx aws-cdk synth`` (which runs ``python3 app.py``).

Reads the ``ecsRollback`` context from cdk.json, validates it, and synthesizes the stack. A bad
value stops here with a message naming the key and the fix (exit status 2).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def _ensure_dependencies() -> None:
    """Re-run under the project's venv when ``python3`` is a bare interpreter without aws-cdk-lib."""
    try:
        import aws_cdk  # noqa: F401 - only checks that the dependency is there
    except ModuleNotFoundError:
        # The venv's python is a symlink to the base interpreter: compare prefixes, not binaries.
        if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != VENV_PYTHON.parent.parent.resolve():
            os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])  # noqa: S606 - same script, venv python
        sys.exit(
            f"error: aws-cdk-lib is not installed for {sys.executable}. "
            "Activate the project's virtual environment (. .venv/bin/activate) "
            "or install it: pip install -r requirements.txt"
        )


if __name__ == "__main__":
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    _ensure_dependencies()
    # The function code and its runtime configuration model live in lambdas/ (package ecs_rollback).
    sys.path[:0] = [str(ROOT / "infra"), str(ROOT / "lambdas")]
    from ecs_rollback_cdk.app import main

    sys.exit(main(ROOT / "cdk.json"))
