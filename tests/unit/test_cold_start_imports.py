"""Cold start: what a function pays before its first AWS call stays out of its import.

A handler module imports neither boto3 (its import pulls in s3transfer) nor, with tracing off, the
X-Ray SDK; it makes no client until one is used; with tracing on, botocore alone is patched. The
ledger's own DynamoDB wire format (which replaced boto3's serializer) writes and reads exactly what
boto3's does. ``benchmarks/cold_start.py`` has the figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import given, settings
from hypothesis import strategies as st

from ecs_rollback import composition
from ecs_rollback.adapters import ledger_dynamodb, ledger_items
from tests.unit.builders import deployment, rollback_record, state
from tests.unit.builders import settings as make_settings

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = (
    "alarm_events",
    "bake_timer",
    "deployment_events",
    "image_events",
    "manual_rollback",
    "notifier",
    "reconciler",
    "release_gate",
)


def _modules_after_import(handler: str, **environment: str) -> set[str]:
    """The modules a fresh interpreter holds once it has imported ``handler``."""
    code = (
        "import json, sys; import ecs_rollback.handlers."
        + handler
        + "; print(json.dumps(sorted(sys.modules)))"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED")
    }
    env.update({"PYTHONPATH": str(ROOT / "lambdas"), **environment})
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_handler_imports_neither_boto3_nor_the_xray_sdk_when_tracing_is_off(handler):
    modules = _modules_after_import(handler, POWERTOOLS_TRACE_DISABLED="true")

    assert "boto3" not in modules
    assert "s3transfer" not in modules
    assert "aws_xray_sdk" not in modules


def test_in_lambda_with_tracing_on_only_botocore_is_patched(tmp_path):
    code = (
        "import sys; import ecs_rollback.handlers.alarm_events as h;"
        "from aws_xray_sdk.core import patcher;"
        "print(h.edge.tracer is not None, ','.join(sorted(patcher._PATCHED_MODULES)),"
        " 'sqlite3' in sys.modules, 'boto3' in sys.modules)"
    )
    env = {key: value for key, value in os.environ.items() if key != "POWERTOOLS_TRACE_DISABLED"}
    env.update(
        {
            "PYTHONPATH": str(ROOT / "lambdas"),
            "LAMBDA_TASK_ROOT": str(tmp_path),
            "AWS_LAMBDA_FUNCTION_NAME": "ecs-rollback-alarm-events",
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=60
    )

    traced, patched, sqlite_imported, boto3_imported = result.stdout.split()
    assert traced == "True"
    assert patched == "botocore"  # X-Ray's patch: every AWS call is a subsegment
    assert sqlite_imported == "False"
    assert boto3_imported == "False"


def test_in_lambda_no_client_is_made_until_one_is_used():
    # Given the dependencies a Lambda builds (no session handed in)
    deps = composition.build(make_settings())
    lazy = deps.ledger._client  # type: ignore[attr-defined]
    assert isinstance(lazy, composition.LazyClient)
    assert lazy.__dict__["_client"] is None

    # When the ledger first uses its client, it is made, once
    assert lazy.meta.service_model.service_name == "dynamodb"
    made = lazy.__dict__["_client"]
    assert lazy.meta.region_name == "us-east-1"
    assert lazy.__dict__["_client"] is made


# -- the ledger's wire format is boto3's -------------------------------------------------------

_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**37), max_value=10**37)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**20), max_value=10**20)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
        | st.frozensets(st.text(max_size=8), min_size=1, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), _values, max_size=6))
def test_the_wire_format_is_boto3s_for_any_item(item):
    ours = ledger_dynamodb._to_wire(item)
    theirs = {key: TypeSerializer().serialize(value) for key, value in item.items()}

    assert _canonical(ours) == _canonical(theirs)
    assert ledger_dynamodb._from_wire(theirs) == {
        key: ledger_dynamodb._plain(TypeDeserializer().deserialize(value)) for key, value in theirs.items()
    }


def test_the_wire_format_is_boto3s_for_the_ledgers_own_items():
    written = [
        ledger_items.state_to_item(state(deployment(3), good=[deployment(2)])),
        ledger_items.deployment_to_item(deployment(3)),
        ledger_items.rollback_to_item(rollback_record()),
    ]
    for item in written:
        wire = ledger_dynamodb._to_wire(item)
        assert wire == {key: TypeSerializer().serialize(value) for key, value in item.items()}
        assert ledger_dynamodb._from_wire(wire) == item


def test_values_boto3_refuses_are_refused():
    for value in (1.5, {"a": 0.1}, object(), Decimal("Infinity")):
        with pytest.raises(TypeError):
            ledger_dynamodb._to_wire({"x": value})
        with pytest.raises(TypeError):
            TypeSerializer().serialize(value)


def _canonical(value: Any) -> Any:
    """Sets go over the wire as lists in no particular order: compare them sorted."""
    if isinstance(value, dict):
        return {
            key: sorted(entry) if key in ("SS", "NS", "BS") else _canonical(entry)
            for key, entry in value.items()
        }
    if isinstance(value, list):
        return [_canonical(entry) for entry in value]
    return value
