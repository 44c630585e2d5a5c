"""``python app.py`` and the CDK CLI synthesize offline: no credentials, no Docker, no git.

These run the real entry point in a subprocess with a scrubbed environment: no AWS variables,
an empty HOME (so no ~/.aws), and a PATH that holds only ``node`` (jsii's runtime), so neither
docker nor git could be called.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from cdk_testkit import REPO

PYTHON = sys.executable


def offline_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    node = shutil.which("node")
    assert node, "jsii needs node on PATH"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "node").symlink_to(node)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    environment = {
        "PATH": str(bin_dir),
        "HOME": str(home),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "AWS_EC2_METADATA_DISABLED": "true",
        **extra,
    }
    for key in ("LANG", "LC_ALL", "TMPDIR"):
        if key in os.environ:
            environment[key] = os.environ[key]
    return environment


def run(
    command: list[str], environment: dict[str, str], *, timeout: int = 240
) -> subprocess.CompletedProcess[str]:
    """Run an entry point from the repository root with ``environment`` only."""
    return subprocess.run(
        command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_python_app_py_synthesizes_the_committed_configuration(tmp_path: Path) -> None:
    # Given no credentials, no docker, no git
    outdir = tmp_path / "cdk.out"
    environment = offline_environment(tmp_path, CDK_OUTDIR=str(outdir))

    # When the entry point runs
    result = run([PYTHON, "app.py"], environment)

    # Then it synthesizes the stack named in cdk.json, with cdk-nag passing
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((outdir / "EcsAutoRollback.template.json").read_text())
    assert "LedgerTableName" in template["Outputs"]
    assert "Traceback" not in result.stderr


def test_a_bad_context_value_fails_synth_with_the_key_and_the_fix(tmp_path: Path) -> None:
    # Given the CLI's way of passing context, with a negative bake time, an unknown key and a bad ARN
    bad = {
        "scope": {"services": ["prod/web"]},
        "bakeTimeSeconds": -60,
        "bakeTme": 5,
        "existingTopicArn": "arn:aws:sns:us-east-1:topic",
    }
    environment = offline_environment(
        tmp_path, CDK_OUTDIR=str(tmp_path / "out"), CDK_CONTEXT_JSON=json.dumps({"ecsRollback": bad})
    )

    # When the entry point runs
    result = run([PYTHON, "app.py"], environment)

    # Then it exits 2 with one clean line per problem, each naming the key and the fix
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "ecsRollback.bakeTimeSeconds: Input should be greater than or equal to 0" in result.stderr
    assert "ecsRollback.bakeTme: unknown key. Fix: did you mean 'bakeTimeSeconds'?" in result.stderr
    assert (
        "ecsRollback.existingTopicArn: 'arn:aws:sns:us-east-1:topic' is not an SNS topic ARN" in result.stderr
    )
    assert result.stderr.count("Fix:") == 3
    assert not (tmp_path / "out" / "manifest.json").exists()


def _cdk_cli() -> str | None:
    local = REPO / "node_modules" / ".bin" / "cdk"
    return str(local) if local.exists() else shutil.which("cdk")


def test_the_cdk_cli_synthesizes_offline(tmp_path: Path) -> None:
    # Given the pinned npm CLI (`make setup` runs `npm ci`), which runs `python3 app.py` from cdk.json
    cli = _cdk_cli()
    assert cli is not None, (
        "the npm CDK CLI is missing: run `make setup` (npm ci installs package.json's aws-cdk)"
    )
    environment = offline_environment(tmp_path, CDK_DISABLE_VERSION_CHECK="1")
    venv_bin = tmp_path / "venv-bin"
    venv_bin.mkdir()
    (venv_bin / "python3").symlink_to(PYTHON)
    environment["PATH"] = f"{venv_bin}:{environment['PATH']}"

    # When synthesizing through the CLI
    result = run(
        [cli, "synth", "--no-notices", "-q", "-o", str(tmp_path / "cdk.out")], environment, timeout=300
    )

    # Then the template is there
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "cdk.out" / "EcsAutoRollback.template.json").exists()
