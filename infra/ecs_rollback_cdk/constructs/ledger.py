"""The deploy ledger: a table with the contract's keys and indexes, or an existing one imported."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from ecs_rollback.contract import LEDGER_INDEXES, PARTITION_KEY, SORT_KEY
from ecs_rollback_cdk.config import RollbackConfig


def ledger_table(
    scope: Construct, config: RollbackConfig, existing: dynamodb.ITable | None = None
) -> dynamodb.ITable:
    """``existing``, else the table ``config`` names, else a new one."""
    if existing is not None:
        return existing
    if config.existing_table_name and config.existing_table_stream_arn:
        return import_ledger_table(
            scope,
            "ExistingLedger",
            table_name=config.existing_table_name,
            stream_arn=config.existing_table_stream_arn,
        )
    table = dynamodb.Table(
        scope,
        "Ledger",
        partition_key=_string(PARTITION_KEY),
        sort_key=_string(SORT_KEY),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        deletion_protection=True,
        removal_policy=RemovalPolicy.RETAIN,
        # AWS-managed key (aws/dynamodb): encrypted at rest with KMS and audited in CloudTrail,
        # while the ledger's readers (dashboards, CI, audits, stream consumers) need only
        # DynamoDB permissions, not a grant on a key policy this stack would own.
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    )
    for index in LEDGER_INDEXES:
        table.add_global_secondary_index(
            index_name=index.name,
            partition_key=_string(index.partition_key),
            sort_key=_string(index.sort_key),
            projection_type=dynamodb.ProjectionType.ALL,
        )
    return table


def import_ledger_table(
    scope: Construct, construct_id: str, *, table_name: str, stream_arn: str
) -> dynamodb.ITable:
    """An existing ledger table, knowing the contract's indexes (``by_release`` too).

    The functions' own statements name the table and ``table/<name>/index/*`` by its ARN; the
    index names are there for a composer's ``grant_*`` calls, which cover the indexes only when
    the table knows it has some.
    """
    return dynamodb.Table.from_table_attributes(
        scope,
        construct_id,
        table_name=table_name,
        table_stream_arn=stream_arn,
        global_indexes=[index.name for index in LEDGER_INDEXES],
    )


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)
