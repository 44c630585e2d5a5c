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
from ecs_rollback.domain.errors import ConcurrentUpdate, DuplicateTrigger
from ecs_rollback.domain.model import Deployment, RevisionId, RollbackRecord, ServiceId, ServiceState
from ecs_rollback.ports import ImageUse, LedgerChange, Page

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

HISTORY_INDEX = "history"
REVISION_INDEX = "by_service_revision"
SERVICE_GIT_INDEX = "by_service_git_sha"
GIT_INDEX = "by_git_sha"
KIND_INDEX = "by_kind"

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
            Key=_to_wire({"pk": pk, "sk": sk}),
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
                put["ConditionExpression"] = "attribute_not_exists(pk)"
            else:
                put["ConditionExpression"] = "#version = :expected"
                put["ExpressionAttributeNames"] = {"#version": "version"}
                put["ExpressionAttributeValues"] = _to_wire({":expected": change.expected_version})
            state_index = len(operations)
            operations.append({"Put": put})
        written: dict[tuple[str, str], dict[str, Any]] = {}
        for deployment in change.deployments:
            for item in (items.deployment_to_item(deployment), *items.image_use_items(deployment)):
                written[(item["pk"], item["sk"])] = item
        for item in written.values():
            operations.append({"Put": {"TableName": self._table, "Item": _to_wire(item)}})
        if change.new_rollback is not None:
            rollback_index = len(operations)
            operations.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _to_wire(items.rollback_to_item(change.new_rollback)),
                        "ConditionExpression": "attribute_not_exists(pk)",
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
            IndexName=REVISION_INDEX,
            KeyConditionExpression="pk = :pk AND begins_with(rev_sort, :prefix)",
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
            IndexName=SERVICE_GIT_INDEX,
            KeyConditionExpression="pk = :pk AND begins_with(git_sort, :prefix)",
            ExpressionAttributeValues=_to_wire({":pk": items.service_pk(service), ":prefix": prefix.lower()}),
        )
        return [items.deployment_from_item(item) for item in found]

    def history(self, service: ServiceId, limit: int = 20, cursor: str | None = None) -> Page[Deployment]:
        found, next_cursor = self._query(
            limit,
            cursor,
            IndexName=HISTORY_INDEX,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=_to_wire({":pk": items.service_pk(service)}),
        )
        return Page([items.deployment_from_item(item) for item in found], next_cursor)

    def rollbacks(
        self, service: ServiceId, limit: int = 20, cursor: str | None = None
    ) -> Page[RollbackRecord]:
        found, next_cursor = self._query(
            limit,
            cursor,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=_to_wire({":pk": items.service_pk(service), ":prefix": "RB#"}),
        )
        return Page([items.rollback_from_item(item) for item in found], next_cursor)

    def deployments_of_git_sha(
        self, git_sha: str, limit: int = 20, cursor: str | None = None
    ) -> Page[Deployment]:
        found, next_cursor = self._query(
            limit,
            cursor,
            IndexName=GIT_INDEX,
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=_to_wire({":pk": f"GIT#{git_sha.lower()}"}),
        )
        return Page([items.deployment_from_item(item) for item in found], next_cursor)

    def deployments_of_digest(
        self, digest: str, limit: int = 20, cursor: str | None = None
    ) -> Page[ImageUse]:
        found, next_cursor = self._query(
            limit,
            cursor,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=_to_wire({":pk": items.image_pk(digest)}),
        )
        return Page([items.image_use_from_item(item) for item in found], next_cursor)

    def services(self, limit: int = 100, cursor: str | None = None) -> Page[ServiceState]:
        found, next_cursor = self._query(
            limit,
            cursor,
            IndexName=KIND_INDEX,
            KeyConditionExpression="kind = :kind",
            ExpressionAttributeValues=_to_wire({":kind": items.SERVICE_KIND}),
            ScanIndexForward=True,
        )
        return Page([items.state_from_item(item) for item in found], next_cursor)


def _failed(reasons: list[str | None], index: int) -> bool:
    return index < len(reasons) and reasons[index] == "ConditionalCheckFailed"


def table_definition(table_name: str) -> dict[str, Any]:
    """CreateTable input for the ledger: the single description of its keys and indexes.

    The CDK construct declares the same table; ``tests/infra`` checks the two agree.
    """
    indexes = {
        HISTORY_INDEX: ("pk", "hist_sort"),
        REVISION_INDEX: ("pk", "rev_sort"),
        SERVICE_GIT_INDEX: ("pk", "git_sort"),
        GIT_INDEX: ("gsi1pk", "gsi1sk"),
        KIND_INDEX: ("kind", "pk"),
    }
    attributes = sorted({"pk", "sk"} | {name for pair in indexes.values() for name in pair})
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"} for name in attributes],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": name,
                "KeySchema": [
                    {"AttributeName": partition, "KeyType": "HASH"},
                    {"AttributeName": sort, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for name, (partition, sort) in indexes.items()
        ],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }
