"""The package as others install it: build the wheel, install it into a new virtual environment
with the ``cdk`` extra, and use it from a user's own CDK app that has its own ``infra`` package.

Everything runs outside this checkout: the wheel is built from a copy of the source tree (no
``build/`` left behind, nothing stale picked up), the virtual environment is new and has no
access to this repository, and the user app lives in a temporary folder. One wheel, one
environment and one synth serve every test here (module-scoped fixtures); the ``xdist_group``
keeps them on one worker under ``pytest -n 2 --dist loadgroup``. Versions come from the repo's
constraints.txt, so pip installs what the dev environment already has (from its cache).

Select with ``pytest -m packaging``; the temporary folder (about 300 MB) is removed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ecs_rollback.contract import LEDGER_INDEXES, PARTITION_KEY, SORT_KEY
from ecs_rollback_cdk.constructs.code_asset import runtime_version
from ecs_rollback_cdk.constructs.functions import PYTHON_RUNTIME

pytestmark = [
    pytest.mark.packaging,
    pytest.mark.xdist_group("packaging"),
    pytest.mark.timeout(600),  # building and installing happen in the first test's setup
]

REPO = Path(__file__).resolve().parents[2]
DISTRIBUTION = "ecs_auto_rollback"
TOP_LEVEL_PACKAGES = {"ecs_rollback", "ecs_rollback_cdk", "ecs_rollback_cli", "ecs_rollback_sandbox"}
# Names that exist only in this checkout and must not be importable once the wheel is installed.
REPO_ONLY_NAMES = ("tests", "benchmarks", "infra", "sandbox", "lambdas")
HANDLERS = {
    "ecs_rollback.handlers.bake_timer.handler",
    "ecs_rollback.handlers.deployment_events.handler",
    "ecs_rollback.handlers.alarm_events.handler",
    "ecs_rollback.handlers.manual_rollback.handler",
    "ecs_rollback.handlers.image_events.handler",
    "ecs_rollback.handlers.notifier.handler",
    "ecs_rollback.handlers.reconciler.handler",
    "ecs_rollback.handlers.release_gate.handler",
}
# Not part of the source tree a wheel is built from (build output, environments, caches).
_NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "node_modules",
    "build",
    "dist",
    "cdk.out",
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    ".sandbox",
)

# ------------------------------------------------------------------------------- the user's app

USER_INFRA = '''\
"""The user's own infrastructure package: the generic name the project must not claim."""

OWNER = "user-app"
'''

# Variant 2: the construct inside the user's own Stack.
USER_OWN_STACK = '''\
"""A stack of the user's own that composes the construct (variant 2)."""

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from ecs_rollback_cdk import EcsAutoRollback, RollbackConfig


class UserOwnStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # The user's own resource beside the construct.
        self.parameter = ssm.StringParameter(self, "UserOwnParameter", string_value="owned by the user's stack")
        config = RollbackConfig(
            scope={"services": ["prod/api"], "clusters": []},
            alarm_links=[{"alarm": "api-5xx", "cluster": "prod", "service": "api"}],
            pass_role_arns=["arn:aws:iam::123456789012:role/api-task-role"],
        )
        self.rollback = EcsAutoRollback(self, "Rollback", config=config)
'''

# Variant 1: the default stack, whose signature is stable.
USER_APP = '''\
"""The user's CDK app: ``python app.py`` with CDK_OUTDIR set."""

import json
import os
import sys

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

import ecs_rollback
import ecs_rollback_cdk
import ecs_rollback_cdk.app  # the project's own app module: it needs cdk-nag
import infra
from ecs_rollback_cdk import EcsAutoRollbackStack, RollbackConfig
from infra.own_stack import UserOwnStack

app = App()  # the output directory comes from CDK_OUTDIR

camel_case = RollbackConfig.model_validate(
    {
        "scope": {"services": ["prod/web"], "clusters": []},
        "alarmLinks": [{"alarm": "web-5xx*", "cluster": "prod", "service": "web"}],
        "bakeTimeSeconds": 300,
        "passRoleArns": ["arn:aws:iam::123456789012:role/web-task-role"],
        "stackName": "UserRollback",
    }
)
field_names = RollbackConfig.model_validate(
    {
        "scope": {"services": ["prod/web"], "clusters": []},
        "alarm_links": [{"alarm": "web-5xx*", "cluster": "prod", "service": "web"}],
        "bake_time_seconds": 300,
        "pass_role_arns": ["arn:aws:iam::123456789012:role/web-task-role"],
        "stack_name": "UserRollback",
    }
)
assert camel_case == field_names, (camel_case, field_names)

EcsAutoRollbackStack(app, "UserStack", config=camel_case)
UserOwnStack(app, "UserOwnStack")
Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()

with open(os.environ["USER_APP_REPORT"], "w", encoding="utf-8") as report:
    json.dump(
        {
            "infra": infra.__file__,
            "infra_owner": infra.OWNER,
            "ecs_rollback": ecs_rollback.__file__,
            "ecs_rollback_cdk": ecs_rollback_cdk.__file__,
            "prefix": sys.prefix,
        },
        report,
    )
'''


# ------------------------------------------------------------------------------------ helpers


def _run(
    command: list[str], *, cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} exited {result.returncode}\n--- stdout\n{result.stdout[-4000:]}"
            f"\n--- stderr\n{result.stderr[-4000:]}",
            pytrace=False,
        )
    return result


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that would let a child see this checkout or its venv."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "CDK_OUTDIR"}
    }
    env.update(PYTHONNOUSERSITE="1", JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20", **extra)
    return env


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    work: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def env(self, **extra: str) -> dict[str, str]:
        return _clean_env(PATH=f"{self.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", **extra)

    def run_python(self, code: str) -> subprocess.CompletedProcess[str]:
        """Run ``code`` in the new environment from an empty folder (nothing importable beside it)."""
        empty = self.work / "empty"
        empty.mkdir(exist_ok=True)
        return _run([str(self.python), "-c", code], cwd=empty, env=self.env(), timeout=120)


@dataclass(frozen=True)
class UserApp:
    directory: Path
    cdk_out: Path
    report: dict[str, Any]

    def template(self, stack: str) -> dict[str, Any]:
        return json.loads((self.cdk_out / f"{stack}.template.json").read_text(encoding="utf-8"))

    def assets(self, stack: str) -> dict[str, Any]:
        return json.loads((self.cdk_out / f"{stack}.assets.json").read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def work() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(
        prefix="ecs-rollback-packaging-", ignore_cleanup_errors=True
    ) as directory:
        yield Path(directory)


@pytest.fixture(scope="module")
def wheel(work: Path) -> Path:
    source = work / "source"
    shutil.copytree(REPO, source, ignore=_NOT_SOURCE, symlinks=True)
    dist = work / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(dist), str(source)],
        cwd=work,
        env=_clean_env(),
        timeout=300,
    )
    (built,) = dist.glob(f"{DISTRIBUTION}-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(work: Path, wheel: Path) -> Installed:
    venv = work / "venv"
    # A new environment from the base interpreter; this venv's pip installs into it (--python),
    # which saves bootstrapping a second pip.
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=work, env=_clean_env(), timeout=120)
    requirement = f"ecs-auto-rollback[cdk] @ {wheel.as_uri()}"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--quiet",
            requirement,
            "-c",
            str(REPO / "constraints.txt"),
        ],
        cwd=work,
        env=_clean_env(),
        timeout=480,
    )
    return Installed(wheel=wheel, venv=venv, work=work)


@pytest.fixture(scope="module")
def user_app(installed: Installed) -> UserApp:
    directory = installed.work / "user-app"
    (directory / "infra").mkdir(parents=True)
    (directory / "infra" / "__init__.py").write_text(USER_INFRA, encoding="utf-8")
    (directory / "infra" / "own_stack.py").write_text(USER_OWN_STACK, encoding="utf-8")
    (directory / "app.py").write_text(USER_APP, encoding="utf-8")
    cdk_out = directory / "cdk.out"
    report = directory / "report.json"
    _run(
        [str(installed.python), "app.py"],
        cwd=directory,
        env=installed.env(CDK_OUTDIR=str(cdk_out), USER_APP_REPORT=str(report)),
        timeout=300,
    )
    return UserApp(
        directory=directory, cdk_out=cdk_out, report=json.loads(report.read_text(encoding="utf-8"))
    )


# -------------------------------------------------------------------------------------- wheel


def test_wheel_has_only_the_namespaced_packages(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (top_level_name,) = [name for name in names if name.endswith(".dist-info/top_level.txt")]
        top_level_txt = archive.read(top_level_name)
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == TOP_LEVEL_PACKAGES
    assert set(top_level_txt.decode().split()) == TOP_LEVEL_PACKAGES
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_wheel_ships_the_package_data(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "ecs_rollback/py.typed" in names
    # The Lambda package is the function code: Python modules and the typing marker, nothing else.
    stray = [
        name
        for name in names
        if name.startswith("ecs_rollback/") and not name.endswith(".py") and name != "ecs_rollback/py.typed"
    ]
    assert stray == []
    # Every module of the source tree made it in (no subpackage lost to package discovery).
    for package, source in (
        ("ecs_rollback", REPO / "lambdas" / "ecs_rollback"),
        ("ecs_rollback_cdk", REPO / "infra" / "ecs_rollback_cdk"),
        ("ecs_rollback_sandbox", REPO / "sandbox" / "ecs_rollback_sandbox"),
        ("ecs_rollback_cli", REPO / "ecs_rollback_cli"),
    ):
        expected = {f"{package}/{path.relative_to(source).as_posix()}" for path in source.rglob("*.py")}
        assert expected <= names, sorted(expected - names)


def test_wheel_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (metadata_name,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        metadata = archive.read(metadata_name).decode()
        entry_points = archive.read(metadata_name.replace("METADATA", "entry_points.txt")).decode()
    headers = metadata.split("\n\n", 1)[0].splitlines()
    assert "License-Expression: Apache-2.0" in headers
    assert "Requires-Python: >=3.11" in headers
    assert "Description-Content-Type: text/markdown" in headers
    assert {"Provides-Extra: cdk", "Provides-Extra: sandbox"} <= set(headers)
    extras = [line for line in headers if line.startswith("Requires-Dist:") and "extra ==" in line]
    for requirement in ("aws-cdk-lib", "constructs", "cdk-nag"):
        assert any(requirement in line and 'extra == "cdk"' in line for line in extras), requirement
    assert any("moto[server]" in line and 'extra == "sandbox"' in line for line in extras)
    assert "ecs-rollback = ecs_rollback_cli.main:app" in entry_points


# -------------------------------------------------------------------------------- environment


def test_console_script_runs(installed: Installed) -> None:
    result = _run(
        [str(installed.venv / "bin" / "ecs-rollback"), "--help"],
        cwd=installed.work,
        env=installed.env(),
        timeout=120,
    )
    assert "Usage" in result.stdout


def test_repository_only_names_are_not_importable(installed: Installed) -> None:
    result = installed.run_python(
        "import importlib.util, json\n"
        f"print(json.dumps({{name: importlib.util.find_spec(name) is not None for name in {REPO_ONLY_NAMES!r}}}))"
    )
    assert json.loads(result.stdout) == dict.fromkeys(REPO_ONLY_NAMES, False)
    failed = subprocess.run(
        [str(installed.python), "-c", "import tests"],
        cwd=installed.work / "empty",
        env=installed.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode != 0
    assert "No module named 'tests'" in failed.stderr


def test_cli_needs_neither_cdk_nor_the_emulator(installed: Installed) -> None:
    """The CLI works from the base install: importing it loads no CDK, jsii or moto module."""
    result = installed.run_python(
        "import sys, ecs_rollback_cli.main\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'aws_cdk', 'jsii', 'constructs', 'cdk_nag', 'moto'}))"
    )
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------- user app


def test_user_app_keeps_its_own_infra_package(user_app: UserApp, installed: Installed) -> None:
    assert Path(user_app.report["infra"]) == user_app.directory / "infra" / "__init__.py"
    assert user_app.report["infra_owner"] == "user-app"
    site = Path(user_app.report["prefix"])
    assert site == installed.venv
    for package in ("ecs_rollback", "ecs_rollback_cdk"):
        location = Path(user_app.report[package])
        assert location.is_relative_to(installed.venv), location  # the installed copy, not this checkout
        assert not location.is_relative_to(REPO), location


@pytest.mark.parametrize("stack", ["UserStack", "UserOwnStack"])
def test_user_stacks_have_the_ledger_and_the_seven_functions(user_app: UserApp, stack: str) -> None:
    resources = user_app.template(stack)["Resources"]
    (table,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert {(key["AttributeName"], key["KeyType"]) for key in table["KeySchema"]} == {
        (PARTITION_KEY, "HASH"),
        (SORT_KEY, "RANGE"),
    }
    assert {index["IndexName"] for index in table["GlobalSecondaryIndexes"]} == {
        index.name for index in LEDGER_INDEXES
    }
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    functions = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    assert {function["Handler"] for function in functions} == HANDLERS
    assert len(functions) == len(HANDLERS)


@pytest.mark.parametrize("stack", ["UserStack", "UserOwnStack"])
def test_function_code_is_the_installed_lambda_package_alone(
    user_app: UserApp, wheel: Path, stack: str
) -> None:
    """Packaged from site-packages, the code asset holds ``ecs_rollback/`` and none of its neighbours."""
    with zipfile.ZipFile(wheel) as archive:
        expected = {name for name in archive.namelist() if name.startswith("ecs_rollback/")}
    (asset,) = [
        entry["source"]["path"]
        for entry in user_app.assets(stack)["files"].values()
        if entry["source"].get("packaging") == "zip"
    ]
    root = user_app.cdk_out / asset
    shipped = {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}
    sources = {name for name in shipped if "/__pycache__/" not in name}
    assert sources == expected
    # beside them, at most each module's bytecode for the runtime (tests/infra/test_code_asset.py)
    bytecode = shipped - sources
    modules = {name for name in sources if name.endswith(".py")}
    assert bytecode in (set(), {runtime_bytecode(name) for name in modules})


def runtime_bytecode(source: str) -> str:
    """Where the asset keeps a module's bytecode for the functions' runtime (CPython's cache tag)."""
    folder, _, name = source.rpartition("/")
    tag = "cpython-" + runtime_version(PYTHON_RUNTIME).replace(".", "")
    return f"{folder}/__pycache__/{name.removesuffix('.py')}.{tag}.pyc"
