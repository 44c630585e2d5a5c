"""Fixtures for the infrastructure tests: each CDK app is synthesized once per session.

The first synth in a process starts jsii's Node runtime (about 2 s); later ones cost a fraction
of that, so every app here is built by a session-scoped, cached factory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for entry in (REPO / "lambdas", REPO / "infra", REPO / "sandbox"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import pytest  # noqa: E402
from cdk_testkit import Synthesized, example_context, synthesize  # noqa: E402


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app exactly as ``cdk.json`` configures it (environment-agnostic)."""
    return synthesize(example_context(), outdir=tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> dict:
    return synthesized.template
