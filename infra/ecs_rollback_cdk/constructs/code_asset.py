"""The functions' code asset: the ``ecs_rollback`` package, compiled for the runtime's Python.

Lambda's task root is read-only, so a package shipped as sources alone is compiled again on every
cold start (0.1-0.4x of ``import boto3``, docs/performance.md). The asset therefore ships
each module's ``.pyc`` beside it, compiled by an interpreter of the runtime's own version with
``unchecked-hash`` invalidation: a zip does not keep the sources' modification times, and the
sources and their bytecode are written together here, so Python may load the bytecode without
checking it. Where no interpreter of that version is installed the asset holds the sources alone,
which run the same, and the construct says so in a synth warning.

Bundling is local (no Docker): a copy and, when it can, ``python3.X -m compileall``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, BundlingOutput, FileSystem, ILocalBundling
from aws_cdk import aws_lambda as lambda_

import ecs_rollback

PACKAGE_DIR = Path(ecs_rollback.__file__).resolve().parent
# What never goes into the asset from the source tree (bytecode is made fresh for the runtime).
EXCLUDED = ("__pycache__", "*.pyc", ".mypy_cache")
NO_BYTECODE_WARNING = (
    "The code asset holds the sources of ecs_rollback without bytecode: no {interpreter} was found "
    "on PATH or in pyenv to compile it for the {runtime} runtime, so each cold start compiles the package first "
    "(docs/performance.md). Install Python {version} and synthesize again to ship it compiled."
)


def runtime_version(runtime: lambda_.Runtime) -> str:
    """``python3.13`` -> ``3.13``."""
    return runtime.name.removeprefix("python")


def find_interpreter(runtime: lambda_.Runtime) -> str | None:
    """A Python of exactly the runtime's version: this one, ``python3.X`` on PATH (a pyenv shim of a
    version not installed fails and is passed over), or one of pyenv's."""
    return _interpreter(runtime_version(runtime))


@functools.cache
def _interpreter(version: str) -> str | None:
    """This Python, ``python3.X`` on PATH, or pyenv's, whichever first runs as that version."""
    candidates = [sys.executable, shutil.which(f"python{version}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates += sorted(str(path) for path in pyenv_root.glob(f"versions/{version}.*/bin/python{version}"))
    return next((path for path in candidates if path and _runs_as(path, version)), None)


def _runs_as(path: str, version: str) -> bool:
    try:
        answer = subprocess.run(  # noqa: S603 - a fixed argument list, no shell
            [path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return answer.returncode == 0 and answer.stdout.strip() == version


@jsii.implements(ILocalBundling)
class _CopyAndCompile:
    """CDK calls this before Docker; it always bundles, so Docker is never needed."""

    def __init__(self, package_dir: Path, interpreter: str | None) -> None:
        self.package_dir = package_dir
        self.interpreter = interpreter

    def try_bundle(self, output_dir: str, options: Any = None, **_: Any) -> bool:
        bundle_package(self.package_dir, Path(output_dir), self.interpreter)
        return True


def bundle_package(package_dir: Path, output_dir: Path, interpreter: str | None) -> Path:
    """What the asset holds: the package's sources and, with ``interpreter``, their bytecode."""
    target = output_dir / package_dir.name
    shutil.copytree(package_dir, target, ignore=shutil.ignore_patterns(*EXCLUDED))
    if interpreter is not None:
        compiled = subprocess.run(  # noqa: S603 - a fixed argument list, no shell
            [interpreter, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(target)],
            check=False,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if compiled.returncode != 0:
            raise CompileError(
                f"{interpreter} could not compile the {package_dir.name} package for the functions' "
                f"runtime, so the functions would not import there either: "
                f"{(compiled.stdout + compiled.stderr).strip()[-2000:]}"
            )
    return target


class CompileError(RuntimeError):
    """The runtime's Python refused the package's sources (synth stops and says which)."""


@dataclass(frozen=True)
class CodeAsset:
    """The asset, and whether it carries bytecode (the construct warns when it does not)."""

    code: lambda_.Code
    runtime: lambda_.Runtime
    interpreter: str | None

    @property
    def warning(self) -> str | None:
        if self.interpreter is not None:
            return None
        version = runtime_version(self.runtime)
        return NO_BYTECODE_WARNING.format(
            interpreter=f"python{version}", runtime=self.runtime.name, version=version
        )


def code_asset(
    runtime: lambda_.Runtime, *, interpreter: str | None = None, sources_only: bool = False
) -> CodeAsset:
    """The package as the functions run it, compiled by ``interpreter`` (else one found for
    ``runtime``), or the sources alone with ``sources_only``.

    The asset's hash is the sources' fingerprint and the bytecode's runtime, so the same sources
    give the same asset on every machine that compiles them alike.
    """
    chosen = None if sources_only else (interpreter or find_interpreter(runtime))
    fingerprint = FileSystem.fingerprint(str(PACKAGE_DIR), exclude=list(EXCLUDED))
    mode = f"bytecode:{runtime.name}" if chosen else "sources"
    code = lambda_.Code.from_asset(
        str(PACKAGE_DIR),
        exclude=list(EXCLUDED),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=hashlib.sha256(f"{fingerprint}:{mode}".encode()).hexdigest(),
        bundling=BundlingOptions(
            image=runtime.bundling_image,
            local=_CopyAndCompile(PACKAGE_DIR, chosen),
            output_type=BundlingOutput.NOT_ARCHIVED,
        ),
    )
    return CodeAsset(code, runtime, chosen)
