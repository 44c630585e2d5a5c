"""The deploy ledger on DynamoDB. Every read the decision path needs is one key lookup; every
listing is one Query on a key whose cost does not grow with history."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Mapping, Set
from datetime import datetime
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from ecs_rollback import contract
from ecs_rollback.adapters import ledger_items as items
from ecs_rollback.domain.errors import ConcurrentUpdate, DuplicateTrigger
from ecs_rollback.domain.model import (
    Deployment,
    Release,
    ReleaseRef,
    RevisionId,
    RollbackRecord,
    ServiceId,
    iso,
)
from ecs_rollback.domain.state import ServiceState
from ecs_rollback.ports import ImageUse, LedgerChange, OutboxEntry, Page

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

T = TypeVar("T")

# boto3's DynamoDB number context: 38 digits, and no silent rounding.
_NUMBERS = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])


def _to_wire(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _serialize(value) for key, value in item.items()}


def _from_wire(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain(_deserialize(value)) for key, value in item.items()}


def _serialize(value: Any) -> dict[str, Any]:
    """boto3's ``TypeSerializer``, type for type and in its order, without importing boto3 (whose
    import pulls in s3transfer, a cold-start cost for a function that never touches S3)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if _is_number(value):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (bytes, bytearray)):
        return {"B": value}
    if isinstance(value, Set):
        if all(_is_number(entry) for entry in value):
            return {"NS": [_number(entry) for entry in value]}
        if all(isinstance(entry, str) for entry in value):
            return {"SS": list(value)}
        if all(isinstance(entry, (bytes, bytearray)) for entry in value):
            return {"BS": list(value)}
    if isinstance(value, Mapping):
        return {"M": {key: _serialize(entry) for key, entry in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [_serialize(entry) for entry in value]}
    raise TypeError(f'Unsupported type "{type(value)}" for value "{value}"')


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def _number(value: int | Decimal) -> str:
    number = str(_NUMBERS.create_decimal(value))
    if number in ("Infinity", "NaN"):
        raise TypeError("Infinity and NaN not supported")
    return number


def _deserialize(value: dict[str, Any]) -> Any:
    """boto3's ``TypeDeserializer`` (binary values as ``bytes``: the ledger stores none)."""
    if not value:
        raise TypeError("Value must be a nonempty dictionary whose key is a valid dynamodb type.")
    kind, raw = next(iter(value.items()))
    if kind in ("S", "BOOL", "B"):
        return raw
    if kind == "N":
        return _NUMBERS.create_decimal(raw)
    if kind == "NULL":
        return None
    if kind == "M":
        return {key: _deserialize(entry) for key, entry in raw.items()}
    if kind == "L":
        return [_deserialize(entry) for entry in raw]
    if kind in ("SS", "BS"):
        return set(raw)
    if kind == "NS":
        return {_NUMBERS.create_decimal(entry) for entry in raw}
    raise TypeError(f"Dynamodb type {kind} is not supported")


def _plain(value: Any) -> Any:
    """DynamoDB numbers arrive as Decimal; the ledger only stores integers."""
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, list):
        return [_plain(entry) for entry in value]
    if isinstance(value, set):  # string sets (the alarm names) read as sorted lists
        return sorted(_plain(entry) for entry in value)
    if isinstance(value, dict):
        return {key: _plain(entry) for key, entry in value.items()}
    return value


def _key(pk: str, sk: str) -> dict[str, Any]:
    """An item's primary key, on the wire."""
    return _to_wire({contract.PARTITION_KEY: pk, contract.SORT_KEY: sk})


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


def _deployment_id(item: dict[str, Any]) -> str:
    return str(item["deployment_id"])


def _good_ref(item: dict[str, Any]) -> ReleaseRef:
    return items.release_from_item(item).ref()


def _written_by(reason: Any, token: str) -> bool:
    """The item that failed a condition was written by the commit whose token is ``token``."""
    old = reason.get("Item") or {}
    return bool(old.get(items.WRITE_TOKEN, {}).get("S") == token)


class DynamoDBLedger:
    """Implements ``ports.Ledger`` with an injected low-level DynamoDB client."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # -- single-item reads --------------------------------------------------------------

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=_key(pk, sk),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _from_wire(item) if item else None

    def load(self, service: ServiceId) -> ServiceState | None:
        item = self._get(items.service_pk(service), items.STATE_SK)
        return items.state_from_item(item) if item else None

    def load_with_revision(
        self, service: ServiceId, revision: RevisionId
    ) -> tuple[ServiceState | None, ReleaseRef | None]:
        pk = items.service_pk(service)
        found = self._batch_get([(pk, items.STATE_SK), (pk, items.revision_sk(revision))])
        state_item = found.get((pk, items.STATE_SK))
        revision_item = found.get((pk, items.revision_sk(revision)))
        state = items.state_from_item(state_item) if state_item else None
        if revision_item is not None:
            return state, items.ref_from_item(revision_item)
        # Written by version 1 (no revision items): the deployment record says what it ran.
        deployment = self.find_revision(service, revision)
        return state, items.ref_of_deployment(deployment) if deployment else None

    def _batch_get(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        request: dict[str, Any] = {
            self._table: {
                "Keys": [_key(pk, sk) for pk, sk in keys],
                "ConsistentRead": True,
            }
        }
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for _attempt in range(5):  # unprocessed keys are retried (DynamoDB returns them under load)
            response = self._client.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(self._table, []):
                item = _from_wire(raw)
                found[(item[contract.PARTITION_KEY], item[contract.SORT_KEY])] = item
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
        raise ConcurrentUpdate("DynamoDB left keys unprocessed; the request will be retried")

    def get_deployment(self, service: ServiceId, deployment_id: str) -> Deployment | None:
        item = self._get(items.service_pk(service), items.deployment_sk(deployment_id))
        return items.deployment_from_item(item) if item else None

    def get_release(self, service: ServiceId, release_id: str) -> Release | None:
        item = self._get(items.service_pk(service), items.release_sk(release_id))
        return items.release_from_item(item) if item else None

    def get_rollback(self, service: ServiceId, record_key: str) -> RollbackRecord | None:
        item = self._get(items.service_pk(service), record_key)
        return items.rollback_from_item(item) if item else None

    def linked_alarms(self, service: ServiceId) -> tuple[str, ...]:
        pk = items.service_pk(service)
        found = self._batch_get([(pk, items.ALARMS_SK), (pk, items.STATE_SK)])
        return items.alarms_from_items(found.get((pk, items.ALARMS_SK)), found.get((pk, items.STATE_SK)))

    # -- writes -------------------------------------------------------------------------

    def commit(self, change: LedgerChange) -> None:
        """One transaction, idempotent under the SDK's own retries.

        Every item carries the commit's token (also the transaction's ``ClientRequestToken``, which
        makes DynamoDB answer a retried request with its first result). Where a retry is cancelled
        anyway (a condition failed), the items that failed it are read back
        (``ReturnValuesOnConditionCheckFailure``): when each carries this commit's token, the first
        attempt committed and only its answer was lost, so the commit succeeded; never somebody
        else's write.
        """
        writes = items.change_writes(change)
        token = uuid.uuid4().hex
        operations = [self._operation(write, token) for write in writes]
        if not operations:
            return
        try:
            self._client.transact_write_items(
                TransactItems=operations,  # type: ignore[arg-type]
                ClientRequestToken=token,
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons", [])
            failed = [
                (writes[index], reason)
                for index, reason in enumerate(reasons)
                if reason.get("Code") == "ConditionalCheckFailed"
            ]
            if failed and all(_written_by(reason, token) for _, reason in failed):
                return  # our own first attempt committed; its answer was lost
            conditions = {write.condition for write, _ in failed}
            if "new" in conditions:
                raise DuplicateTrigger(
                    f"trigger {change.new_rollback.trigger_id if change.new_rollback else ''} was already decided"
                ) from error
            if "version" in conditions:
                raise ConcurrentUpdate("the service's ledger state changed since it was read") from error
            if any(reason.get("Code") == "TransactionConflict" for reason in reasons):
                raise ConcurrentUpdate("another transaction wrote the same items; retrying") from error
            raise

    def _operation(self, write: items.ItemWrite, token: str) -> dict[str, Any]:
        if write.condition == "add_alarm":
            return {
                "Update": {
                    "TableName": self._table,
                    "Key": _key(write.item[contract.PARTITION_KEY], write.item[contract.SORT_KEY]),
                    "UpdateExpression": "SET #entity = :entity, #version = :schema, #service = :service, "
                    "#token = :token ADD #alarms :alarm",
                    "ExpressionAttributeNames": {
                        "#entity": "entity",
                        "#version": "schema_version",
                        "#service": "service_arn",
                        "#alarms": "alarms",
                        "#token": items.WRITE_TOKEN,
                    },
                    "ExpressionAttributeValues": {
                        ":entity": {"S": write.item["entity"]},
                        ":schema": {"N": str(write.item["schema_version"])},
                        ":service": {"S": write.item["service_arn"]},
                        ":alarm": {"SS": [str(write.alarm)]},
                        ":token": {"S": token},
                    },
                }
            }
        put: dict[str, Any] = {
            "TableName": self._table,
            "Item": _to_wire({**write.item, items.WRITE_TOKEN: token}),
        }
        if write.condition == "new" or (write.condition == "version" and write.expected_version == 0):
            put["ConditionExpression"] = f"attribute_not_exists({contract.PARTITION_KEY})"
        elif write.condition == "version":
            put["ConditionExpression"] = "#version = :expected"
            put["ExpressionAttributeNames"] = {"#version": "version"}
            put["ExpressionAttributeValues"] = _to_wire({":expected": write.expected_version})
        if "ConditionExpression" in put:
            put["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return {"Put": put}

    # -- queries ------------------------------------------------------------------------

    def _query(
        self,
        read: Callable[[dict[str, Any]], T],
        pk: str,
        limit: int,
        cursor: str | None,
        *,
        prefix: str | None = None,
        keys: tuple[str, str] = (contract.PARTITION_KEY, contract.SORT_KEY),
        **kwargs: Any,
    ) -> Page[T]:
        """One page of the partition ``pk``, newest first, each item read by ``read``; with ``prefix``,
        only the items whose sort key begins with it. ``keys``: the partition and sort key queried."""
        if not 1 <= limit <= 1000:
            raise ValueError("limit must be between 1 and 1000")
        partition_key, sort_key = keys
        condition, values = f"{partition_key} = :pk", {":pk": pk}
        if prefix is not None:
            condition += f" AND begins_with({sort_key}, :prefix)"
            values[":prefix"] = prefix
        request: dict[str, Any] = {
            "TableName": self._table,
            "Limit": limit,
            "ScanIndexForward": False,
            **kwargs,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": _to_wire(values),
        }
        start = _decode_cursor(cursor)
        if start:
            request["ExclusiveStartKey"] = start
        response = self._client.query(**request)
        found = [read(_from_wire(item)) for item in response.get("Items", [])]
        return Page(found, _encode_cursor(response.get("LastEvaluatedKey")))

    def _on_index(
        self,
        index: contract.LedgerIndex,
        read: Callable[[dict[str, Any]], T],
        pk: str,
        limit: int,
        cursor: str | None,
        **kwargs: Any,
    ) -> Page[T]:
        """``_query`` on one of the ledger's indexes, by its own key attributes."""
        keys = (index.partition_key, index.sort_key)
        return self._query(read, pk, limit, cursor, keys=keys, IndexName=index.name, **kwargs)

    def _deployments(
        self, index: contract.LedgerIndex, pk: str, limit: int, cursor: str | None, prefix: str | None = None
    ) -> Page[Deployment]:
        """The deployment records ``index`` lists under ``pk``, newest first."""
        return self._on_index(index, items.deployment_from_item, pk, limit, cursor, prefix=prefix)

    def find_revision(self, service: ServiceId, revision: RevisionId) -> Deployment | None:
        prefix = items.revision_sort_prefix(revision.family, revision.revision)
        found = self._on_index(
            contract.REVISION_INDEX, _deployment_id, items.service_pk(service), 1, None, prefix=prefix
        ).items
        if not found:
            return None
        # The index is eventually consistent; read the record itself for its current status.
        return self.get_deployment(service, found[0])

    def find_git_sha(self, service: ServiceId, prefix: str) -> list[Deployment]:
        pk = items.service_pk(service)
        return self._deployments(contract.SERVICE_GIT_INDEX, pk, 25, None, prefix.lower()).items

    def history(self, service: ServiceId, limit: int = 20, cursor: str | None = None) -> Page[Deployment]:
        return self._deployments(contract.HISTORY_INDEX, items.service_pk(service), limit, cursor)

    def rollbacks(
        self, service: ServiceId, limit: int = 20, cursor: str | None = None
    ) -> Page[RollbackRecord]:
        pk = items.service_pk(service)
        return self._query(items.rollback_from_item, pk, limit, cursor, prefix=items.ROLLBACK_SK_PREFIX)

    def deployments_of_git_sha(
        self, git_sha: str, limit: int = 20, cursor: str | None = None
    ) -> Page[Deployment]:
        return self._deployments(contract.GIT_INDEX, items.git_pk(git_sha), limit, cursor)

    def deployments_of_digest(
        self, digest: str, limit: int = 20, cursor: str | None = None
    ) -> Page[ImageUse]:
        return self._query(items.image_use_from_item, items.image_pk(digest), limit, cursor)

    def good_releases(self, service: ServiceId, limit: int = 20) -> list[ReleaseRef]:
        return self._on_index(contract.RELEASE_INDEX, _good_ref, items.good_pk(service), limit, None).items

    def deployments_of_release(
        self, release_id: str, limit: int = 20, cursor: str | None = None
    ) -> Page[Deployment]:
        return self._deployments(contract.RELEASE_INDEX, items.release_pk(release_id), limit, cursor)

    def services(self, limit: int = 100, cursor: str | None = None) -> Page[ServiceState]:
        return self._of_kind(items.state_from_item, items.SERVICE_KIND, limit, cursor)

    def _of_kind(
        self, read: Callable[[dict[str, Any]], T], kind: str, limit: int, cursor: str | None
    ) -> Page[T]:
        """The items ``by_kind`` lists under ``kind``, oldest first."""
        return self._on_index(contract.KIND_INDEX, read, kind, limit, cursor, ScanIndexForward=True)

    # -- the outbox ---------------------------------------------------------------------

    def unsent(self, limit: int = 100) -> list[OutboxEntry]:
        return self._of_kind(items.outbox_from_item, items.OUTBOX_KIND, limit, None).items

    def claim(self, entry: OutboxEntry, now: datetime, until: datetime) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(items.service_pk(entry.service), items.outbox_sk(entry.key)),
                ConditionExpression="attribute_exists(#kind) AND (attribute_not_exists(#claimed) OR #claimed < :now)",
                UpdateExpression="SET #claimed = :until",
                ExpressionAttributeNames={
                    "#kind": contract.KIND_INDEX.partition_key,
                    "#claimed": "claimed_until",
                },
                ExpressionAttributeValues=_to_wire({":now": iso(now), ":until": iso(until)}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def mark_sent(self, entry: OutboxEntry, now: datetime) -> None:
        """Idempotent: a retried call sets the same attribute and removes what is already gone."""
        self._client.update_item(
            TableName=self._table,
            Key=_key(items.service_pk(entry.service), items.outbox_sk(entry.key)),
            UpdateExpression="SET #sent = :sent REMOVE #kind, #claimed",
            ExpressionAttributeNames={
                "#sent": "sent_at",
                "#kind": contract.KIND_INDEX.partition_key,
                "#claimed": "claimed_until",
            },
            ExpressionAttributeValues=_to_wire({":sent": iso(now)}),
        )
