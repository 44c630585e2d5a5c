"""The ledger's stream -> the outbox entries it inserted -> SNS.

A batch handler: a record that fails is reported alone (``ReportBatchItemFailures``), retried by
the event source mapping, then sent to the failure queue; the reconciler publishes what is left.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from ecs_rollback.adapters import ledger_items
from ecs_rollback.handlers._edge import Edge
from ecs_rollback.ports import Dependencies
from ecs_rollback.services import outbox


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [_plain(item) for item in value]
    return int(value) if type(value).__name__ == "Decimal" else value


def handle(event: Any, deps: Dependencies) -> dict[str, Any]:
    def record_handler(record: DynamoDBRecord) -> bool:
        image = record.dynamodb.new_image if record.dynamodb else None
        if not image or not str(image.get("sk", "")).startswith(ledger_items.OUTBOX_SK_PREFIX):
            return False  # the stream carries every item; only new outbox entries are published here
        entry = ledger_items.outbox_from_item(_plain(dict(image)))
        return outbox.deliver(deps, entry)

    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor))


edge = Edge()
handler = edge.lambda_handler(handle)
