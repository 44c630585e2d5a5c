"""The code asset ships the package compiled for the runtime's Python, or says why it does not."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Annotations, Match
from cdk_testkit import Synthesized, example_context, zip_assets

from ecs_rollback_cdk.config import RollbackConfig
from ecs_rollback_cdk.construct import EcsAutoRollback
from ecs_rollback_cdk.constructs import code_asset
from ecs_rollback_cdk.constructs.functions import PYTHON_RUNTIME

# The pyc header (PEP 552): magic, flags, then the source hash; flags 0b01 = hash-based, unchecked.
UNCHECKED_HASH = 0b01


def code_directory(synthesized: Synthesized) -> Path:
    (directory,) = synthesized.zip_assets
    return directory


# Run by the runtime's interpreter: its magic number, cache tag, and each source's hash (keyed by version).
FACTS = """
import importlib.util, json, sys
hashes = {path: importlib.util.source_hash(open(path, "rb").read()).hex() for path in sys.argv[1:]}
print(json.dumps([importlib.util.MAGIC_NUMBER.hex(), sys.implementation.cache_tag, hashes]))
"""


def interpreter_facts(interpreter: str, sources: list[Path]) -> tuple[bytes, str, dict[Path, bytes]]:
    answer = subprocess.run(
        [interpreter, "-c", FACTS, *map(str, sources)], capture_output=True, text=True, check=True
    )
    magic, tag, hashes = json.loads(answer.stdout)
    return bytes.fromhex(magic), tag, {Path(path): bytes.fromhex(value) for path, value in hashes.items()}


def test_each_module_ships_with_unchecked_bytecode_of_the_runtimes_python(synthesized: Synthesized) -> None:
    # Given the code asset of the example stack, and the interpreter the synth found for the runtime
    code = code_directory(synthesized)
    interpreter = code_asset.find_interpreter(PYTHON_RUNTIME)
    sources = sorted(code.rglob("*.py"))
    compiled = sorted(code.rglob("*.pyc"))

    if interpreter is None:
        # Then, with no interpreter of that version here, the sources alone, and a warning says so
        assert compiled == []
        Annotations.from_stack(synthesized.stack).has_warning(
            "*", Match.string_like_regexp("without bytecode")
        )
        return

    # Then every module has one .pyc of the runtime's cache tag and magic number, hash-based and
    # unchecked, whose hash is its source's (so Python loads it from a read-only task root as is)
    magic, tag, hashes = interpreter_facts(interpreter, sources)
    assert tag == f"cpython-{code_asset.runtime_version(PYTHON_RUNTIME).replace('.', '')}"
    assert len(sources) > 50
    expected = {source: source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc" for source in sources}
    assert sorted(expected.values()) == compiled
    for source, bytecode in expected.items():
        header = bytecode.read_bytes()[:16]
        assert header[:4] == magic, bytecode
        assert int.from_bytes(header[4:8], "little") == UNCHECKED_HASH, bytecode
        assert header[8:16] == hashes[source], bytecode


def test_the_asset_hash_is_the_sources_and_the_bytecodes_version_not_the_machine() -> None:
    # Given the asset made twice with bytecode and once with sources only
    compiled = [code_asset.code_asset(PYTHON_RUNTIME, interpreter=sys.executable) for _ in range(2)]
    sources_only = code_asset.code_asset(PYTHON_RUNTIME, sources_only=True)

    # Then the same sources and mode hash alike; the two modes differ; sources-only warns
    hashes = [bind_hash(asset.code) for asset in [*compiled, sources_only]]
    assert hashes[0] == hashes[1] != hashes[2]
    assert compiled[0].warning is None
    assert "python3.13" in (sources_only.warning or "")


def bind_hash(code: lambda_.Code) -> str:
    stack = Stack(App(), "HashOnly")
    config = code.bind(stack)
    assert config.s3_location is not None
    return config.s3_location.object_key


def test_without_an_interpreter_of_the_runtimes_version_the_asset_is_sources_and_the_synth_warns(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a machine with no Python of the runtime's version
    monkeypatch.setattr(code_asset, "find_interpreter", lambda runtime: None)
    app = App(outdir=str(tmp_path), context=example_context())
    stack = Stack(app, "NoBytecode")
    settings = RollbackConfig.from_context(example_context()["ecsRollback"])

    # When the construct is synthesized
    EcsAutoRollback(stack, "Rollback", config=settings)
    assembly = app.synth()

    # Then its asset holds the sources only, and the synth says how to ship bytecode
    Annotations.from_stack(stack).has_warning("*", Match.string_like_regexp("Install Python 3.13"))
    (code,) = zip_assets(Path(assembly.directory), "NoBytecode")
    assert (code / "ecs_rollback" / "handlers" / "alarm_events.py").is_file()
    assert list(code.rglob("*.pyc")) == []


def test_the_runtimes_python_runs_the_bytecode_without_reading_the_sources(
    synthesized: Synthesized, tmp_path: Path
) -> None:
    # Given a copy of the asset whose domain module's source no longer compiles, and the
    # interpreter of the runtime's version (the domain imports the standard library only)
    interpreter = code_asset.find_interpreter(PYTHON_RUNTIME)
    copy = tmp_path / "task-root"
    shutil.copytree(code_directory(synthesized), copy)
    decision = copy / "ecs_rollback" / "domain" / "decision.py"
    decision.write_text("this is not Python: the source was read\n")

    # When that interpreter imports it from a read-only task root, as Lambda does
    command = [
        interpreter or sys.executable,
        "-c",
        "import ecs_rollback.domain.decision as d; print(d.decide)",
    ]
    environment = {"PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1", "PATH": os.environ["PATH"]}
    answer = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)

    # Then with bytecode shipped it runs the module's bytecode as is; without, the source is read
    if interpreter is None:
        assert answer.returncode != 0 and "SyntaxError" in answer.stderr
    else:
        assert answer.returncode == 0, answer.stderr
        assert "function decide" in answer.stdout


def test_a_module_the_runtimes_python_cannot_compile_stops_the_synth_naming_it(tmp_path: Path) -> None:
    # Given a package with a module that does not compile
    package = tmp_path / "ecs_rollback"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "broken.py").write_text("def handler(:\n")

    # When the asset's bundler compiles it
    with pytest.raises(code_asset.CompileError) as refused:
        code_asset.bundle_package(package, tmp_path / "out", sys.executable)

    # Then the error says what failed, where and why
    assert "broken.py" in str(refused.value)
    assert "would not import there either" in str(refused.value)
