"""Where moto answers differently from AWS in a way the service's own code depends on, and the
harness corrects the emulator (in this process) rather than the code.

- ``DescribeAlarms`` with ``AlarmNames`` (or a prefix) *and* ``StateValue``: AWS applies both
  filters; moto 5.2 applies the first and ignores ``StateValue``, so an alarm back in OK still
  looks "in ALARM" to the bake timer and a revision is never promoted to GOOD.
- DynamoDB isolation: moto's ``TransactWriteItems`` deep-copies every table it names, and when a
  condition fails it puts the copies back, so under the threaded server a cancelled transaction
  erases whatever another request committed to those tables meanwhile (a lock, a ledger record).
  DynamoDB isolates each request (transactions are serializable with every other write), so the
  harness runs the emulator's DynamoDB requests one at a time: one re-entrant lock around
  ``DynamoHandler.call_action``, which runs once the request is parsed and spans the backend
  call and the serialization of its answer (so reads see no half-done transaction either).
- ``UpdateService`` to an INACTIVE task definition: ECS refuses it ("you can't update an existing
  service to reference an INACTIVE task definition revision", DeregisterTaskDefinition's
  reference); moto deploys it. The harness refuses it with ECS's ``ClientException``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

_APPLIED = "_ecs_rollback_sandbox_fix"

# Every DynamoDB request the emulator in this process answers holds this lock.
DYNAMODB_LOCK = threading.RLock()


def apply() -> None:
    """Idempotent; the emulator's backends are process-wide, so are the fixes."""
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler
    from moto.ecs.models import EC2ContainerServiceBackend

    replace_method(CloudWatchResponse, "describe_alarms", _filter_alarms_by_state)
    replace_method(DynamoHandler, "call_action", _one_request_at_a_time)
    replace_method(DynamoDBBackend, "transact_write_items", _cancelled_transactions_leave_no_trace)
    replace_method(EC2ContainerServiceBackend, "update_service", _refuse_inactive_task_definitions)


def replace_method(owner: type, name: str, fix: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """``owner.name`` becomes ``fix(original)``, once however often it is called."""
    original = getattr(owner, name)
    if getattr(original, _APPLIED, False):
        return
    fixed = functools.wraps(original)(fix(original))
    setattr(fixed, _APPLIED, True)
    setattr(owner, name, fixed)


def _filter_alarms_by_state(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    from moto.core.responses import ActionResult

    def describe_alarms(self: Any) -> Any:
        response = original(self)
        state = self._get_param("StateValue")
        if not state or not isinstance(response, ActionResult) or not isinstance(response.result, dict):
            return response
        return ActionResult(
            {
                key: [alarm for alarm in alarms if alarm.state_value == state]
                for key, alarms in response.result.items()
            }
        )

    return describe_alarms


def _one_request_at_a_time(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def call_action(self: Any) -> Any:
        with DYNAMODB_LOCK:
            return original(self)

    return call_action


def _cancelled_transactions_leave_no_trace(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto applies a transaction's writes one by one and, when one fails, puts a deep copy of each
    table back: the writes before the failure stay in the stream (DynamoDB emits nothing for a
    cancelled transaction), and the stream's readers keep following the old table's shard, which
    nothing writes to again. Keep the table object, take the restored items, and cut the stream
    back to where it was."""

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        names = {op.get("TableName") for item in transact_items for op in item.values()}
        tables = {name: self.tables[name] for name in names if name in self.tables}
        streamed = {
            name: len(table.stream_shard.items) if table.stream_shard is not None else 0
            for name, table in tables.items()
        }
        try:
            return original(self, transact_items)
        except Exception:
            for name, table in tables.items():
                restored = self.tables.get(name)
                if restored is not None and restored is not table:
                    table.items = restored.items
                    self.tables[name] = table
                if table.stream_shard is not None:
                    del table.stream_shard.items[streamed[name] :]
            raise

    return transact_write_items


def _refuse_inactive_task_definitions(original: Callable[..., Any]) -> Callable[..., Any]:
    from moto.ecs.exceptions import EcsClientException

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        requested = service_properties.get("task_definition")
        if requested:
            definition = self.describe_task_definition(requested)
            if getattr(definition, "status", "ACTIVE") != "ACTIVE":
                raise EcsClientException("TaskDefinition is inactive")
        return original(self, service_properties)

    return update_service


# -- for long runs (benchmarks): what moto keeps or copies that no answer depends on -----------


def forget_tracked_models() -> None:
    """moto keeps every model object it ever made for its dashboard, the deep copy of the whole table
    (and its stream) that each ``TransactWriteItems`` takes included: a run of thousands of
    transactions keeps thousands of copies (gigabytes) unless they are let go. The emulator's
    state (its backends) is untouched: only the dashboard's list is cleared."""
    from moto.core.model_instances import model_data

    for model in model_data["dynamodb"].values():
        model.instances_tracked = []  # type: ignore[attr-defined]


def leave_the_stream_out_of_transaction_backups() -> None:
    """moto backs up every table a ``TransactWriteItems`` names with ``copy.deepcopy``, the table's
    stream (every record since the table was made) included, and in a long run that copy is most
    of the time: the harness answers DynamoDB requests one at a time, so every other request waits
    on it. The backup is read back only when the transaction is cancelled, and then the harness
    keeps the live table and cuts its stream back itself (``_cancelled_transactions_leave_no_trace``):
    the copy of the stream is never used. Copy the table without it (the copy shares the live
    stream); nothing any request answers changes."""
    import copy as _copy
    import types

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if memo is None and isinstance(value, Table) and value.stream_shard is not None:
            memo = {id(value.stream_shard): value.stream_shard}
        return _copy.deepcopy(value, memo)

    models.copy = types.SimpleNamespace(deepcopy=deepcopy, copy=_copy.copy)  # type: ignore[attr-defined,assignment]
