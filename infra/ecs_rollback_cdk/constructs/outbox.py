"""The outbox's delivery: the ledger's stream into the Notifier, filtered to new outbox entries.

A decision and its notification are written in one ledger transaction; the stream carries the
entry here. The mapping filters on the stream's own fields (``INSERT`` of an item whose sort key
starts ``OUT#``), so the Notifier is not invoked for the rest of the ledger's writes. A record
that fails is retried alone (``ReportBatchItemFailures``, halving the batch on error), then its
position lands in the Notifier's stream failure queue; the Reconciler publishes what is still
unsent a minute later, so a lost stream record delays a notice and never loses it.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from ecs_rollback.adapters.ledger_items import OUTBOX_SK_PREFIX
from ecs_rollback.contract import SORT_KEY
from ecs_rollback_cdk.constructs.monitoring import Monitoring

BATCH_SIZE = 10
STREAM_RETRY_ATTEMPTS = 3
STREAM_MAX_RECORD_AGE = Duration.hours(1)


def outbox_delivery(
    scope: Construct, monitoring: Monitoring, table: dynamodb.ITable, notifier: lambda_.Function
) -> sources.DynamoEventSource:
    if not table.table_stream_arn:
        raise ValueError(
            "The ledger table has no stream ARN, and the Notifier publishes rollback decisions from it. "
            "Import the table with its stream (existingTableStreamArn, or import_ledger_table(..., "
            "stream_arn=...)) and enable NEW_AND_OLD_IMAGES on it."
        )
    failures = monitoring.dead_letter_queue(
        scope,
        "NotifierStreamFailures",
        "ledger stream positions whose outbox entries the Notifier could not publish after retries",
    )
    source = sources.DynamoEventSource(
        table,
        starting_position=lambda_.StartingPosition.TRIM_HORIZON,
        batch_size=BATCH_SIZE,
        bisect_batch_on_error=True,
        report_batch_item_failures=True,
        retry_attempts=STREAM_RETRY_ATTEMPTS,
        max_record_age=STREAM_MAX_RECORD_AGE,
        on_failure=sources.SqsDlq(failures),
        filters=[
            lambda_.FilterCriteria.filter(
                {
                    "eventName": lambda_.FilterRule.is_equal("INSERT"),
                    "dynamodb": {
                        "NewImage": {SORT_KEY: {"S": lambda_.FilterRule.begins_with(OUTBOX_SK_PREFIX)}}
                    },
                }
            )
        ],
    )
    notifier.add_event_source(source)
    return source
