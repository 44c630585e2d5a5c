"""The deploy ledger on DynamoDB. Every read the decision path needs is one key lookup; every
listing is one Query on a key whose cost does not grow with history."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ecs_rollback.adapters import ledger_items as items
from ecs_rollback.contract import (
    GIT_INDEX,
    HISTORY_INDEX,
    KIND_INDEX,
    PARTITION_KEY,
    REVISION_INDEX,
    SERVICE_GIT_INDEX,
    SORT_KEY,
)
from ecs_rollback.domain.errors import ConcurrentUpdate, DuplicateTrigger
from ecs_rollback.domain.model import Deployment, RevisionId, RollbackRecord, ServiceId, ServiceState
from ecs_rollback.ports import ImageUse, LedgerChange, Page

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_wire(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in item.items()}


def _from_wire(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


def _plain(value: Any) -> Any:
    """DynamoDB numbers arrive as Decimal; the ledger only stores integers."""
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, list):
        return [_plain(entry) for entry in value]
    if isinstance(value, dict):
        return {key: _plain(entry) for key, entry in value.items()}
    return value


def _encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def _decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, json.JSONDecodeError) as exc:
        raise ValueError("the page cursor is not one this ledger returned; start again without it") from exc
    if not isinstance(decoded, dict):
        raise ValueError("the page cursor is not one this ledger returned; start again without it")
    return decoded


class DynamoDBLedger:
    """Implements ``ports.Ledger`` with an injected low-level DynamoDB client."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # -- single-item reads --------------------------------------------------------------

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=_to_wire({PARTITION_KEY: pk, SORT_KEY: sk}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _from_wire(item) if item else None

    def load(self, service: ServiceId) -> ServiceState | None:
        item = self._get(items.service_pk(service), items.STATE_SK)
        return items.state_from_item(item) if item else None

    def get_deployment(self, service: ServiceId, deployment_id: str) -> Deployment | None:
        item = self._get(items.service_pk(service), items.deployment_sk(deployment_id))
        return items.deployment_from_item(item) if item else None

    def get_rollback(self, service: ServiceId, record_key: str) -> RollbackRecord | None:
        item = self._get(items.service_pk(service), record_key)
        return items.rollback_from_item(item) if item else None

    # -- writes -------------------------------------------------------------------------

    def commit(self, change: LedgerChange) -> None:
        operations: list[dict[str, Any]] = []
        state_index = rollback_index = None
        if change.state is not None:
            state_item = items.state_to_item(change.state)
            put: dict[str, Any] = {"TableName": self._table, "Item": _to_wire(state_item)}
            if change.expected_version == 0:
                put["ConditionExpression"] = f"attribute_not_exists({PARTITION_KEY})"
            else:
                put["ConditionExpression"] = "#version = :expected"
                put["ExpressionAttributeNames"] = {"#version": "version"}
                put["ExpressionAttributeValues"] = _to_wire({":expected": change.expected_version})
            state_index = len(operations)
            operations.append({"Put": put})
        written: dict[tuple[str, str], dict[str, Any]] = {}
        for deployment in change.deployments:
            for item in (items.deployment_to_item(deployment), *items.image_use_items(deployment)):
                written[(item[PARTITION_KEY], item[SORT_KEY])] = item
        for item in written.values():
            operations.append({"Put": {"TableName": self._table, "Item": _to_wire(item)}})
        if change.new_rollback is not None:
            rollback_index = len(operations)
            operations.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _to_wire(items.rollback_to_item(change.new_rollback)),
                        "ConditionExpression": f"attribute_not_exists({PARTITION_KEY})",
                    }
                }
            )
        for record in change.rollback_updates:
            operations.append(
                {"Put": {"TableName": self._table, "Item": _to_wire(items.rollback_to_item(record))}}
            )
        if not operations:
            return
        try:
            self._client.transact_write_items(TransactItems=operations)  # type: ignore[arg-type]
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            if rollback_index is not None and _failed(reasons, rollback_index):
                raise DuplicateTrigger(
                    f"trigger {change.new_rollback.trigger_id if change.new_rollback else ''} was already decided"
                ) from error
            if state_index is not None and _failed(reasons, state_index):
                raise ConcurrentUpdate("the service's ledger state changed since it was read") from error
            raise

    # -- queries ------------------------------------------------------------------------

    def _query(
        self, limit: int, cursor: str | None, **kwargs: Any
    ) -> tuple[list[dict[str, Any]], str | None]:
        if not 1 <= limit <= 1000:
            raise ValueError("limit must be between 1 and 1000")
        request: dict[str, Any] = {
            "TableName": self._table,
            "Limit": limit,
            "ScanIndexForward": False,
            **kwargs,
        }
        start = _decode_cursor(cursor)
        if start:
            request["ExclusiveStartKey"] = start
        response = self._client.query(**request)
        return [_from_wire(item) for item in response.get("Items", [])], _encode_cursor(
            response.get("LastEvaluatedKey")
        )

    def find_revision(self, service: ServiceId, revision: RevisionId) -> Deployment | None:
        found, _ = self._query(
            1,
            None,
            IndexName=REVISION_INDEX.name,
            KeyConditionExpression=f"{REVISION_INDEX.partition_key} = :pk AND begins_with({REVISION_INDEX.sort_key}, :prefix)",
            ExpressionAttributeValues=_to_wire(
                {
                    ":pk": items.service_pk(service),
                    ":prefix": items.revision_sort_prefix(revision.family, revision.revision),
                }
            ),
        )
        if not found:
            return None
        # The index is eventually consistent; read the record itself for its current status.
        return self.get_deployment(service, found[0]["deployment_id"])

    def find_git_sha(self, service: ServiceId, prefix: str) -> list[Deployment]:
        found, _ = self._query(
            25,
            None,
            IndexName=SERVICE_GIT_INDEX.name,
            KeyConditionExpression=f"{SERVICE_GIT_INDEX.partition_key} = :pk AND begins_with({SERVICE_GIT_INDEX.sort_key}, :prefix)",
            ExpressionAttributeValues=_to_wire({":pk": items.service_pk(service), ":prefix": prefix.lower()}),
        )
        return [items.deployment_from_item(item) for item in found]

    def history(self, service: ServiceId, limit: int = 20, cursor: str | None = None) -> Page[Deployment]:
        found, next_cursor = self._query(
            limit,
            cursor,
            IndexName=HISTORY_INDEX.name,
            KeyConditionExpression=f"{HISTORY_INDEX.partition_key} = :pk",
            ExpressionAttributeValues=_to_wire({":pk": items.service_pk(service)}),
        )
        return Page([items.deployment_from_item(item) for item in found], next_cursor)

    def rollbacks(
        self, service: ServiceId, limit: int = 20, cursor: str | None = None
    ) -> Page[RollbackRecord]:
        found, next_cursor = self._query(
            limit,
            cursor,
            KeyConditionExpression=f"{PARTITION_KEY} = :pk AND begins_with({SORT_KEY}, :prefix)",
            ExpressionAttributeValues=_to_wire(
                {":pk": items.service_pk(service), ":prefix": items.ROLLBACK_SK_PREFIX}
            ),
        )
        return Page([items.rollback_from_item(item) for item in found], next_cursor)

    def deployments_of_git_sha(
        self, git_sha: str, limit: int = 20, cursor: str | None = None
    ) -> Page[Deployment]:
        found, next_cursor = self._query(
            limit,
            cursor,
            IndexName=GIT_INDEX.name,
            KeyConditionExpression=f"{GIT_INDEX.partition_key} = :pk",
            ExpressionAttributeValues=_to_wire({":pk": items.git_pk(git_sha)}),
        )
        return Page([items.deployment_from_item(item) for item in found], next_cursor)

    def deployments_of_digest(
        self, digest: str, limit: int = 20, cursor: str | None = None
    ) -> Page[ImageUse]:
        found, next_cursor = self._query(
            limit,
            cursor,
            KeyConditionExpression=f"{PARTITION_KEY} = :pk",
            ExpressionAttributeValues=_to_wire({":pk": items.image_pk(digest)}),
        )
        return Page([items.image_use_from_item(item) for item in found], next_cursor)

    def services(self, limit: int = 100, cursor: str | None = None) -> Page[ServiceState]:
        found, next_cursor = self._query(
            limit,
            cursor,
            IndexName=KIND_INDEX.name,
            KeyConditionExpression=f"{KIND_INDEX.partition_key} = :kind",
            ExpressionAttributeValues=_to_wire({":kind": items.SERVICE_KIND}),
            ScanIndexForward=True,
        )
        return Page([items.state_from_item(item) for item in found], next_cursor)


def _failed(reasons: list[str | None], index: int) -> bool:
    return index < len(reasons) and reasons[index] == "ConditionalCheckFailed"
