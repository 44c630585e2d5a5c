"""The emulator's DynamoDB isolates concurrent requests as DynamoDB does (``emulator_fixes``).

moto restores a copy of the table when a transaction is cancelled; unserialised, that erases
writes other requests committed meanwhile, and every exactly-once test would pass by chance.
"""

from __future__ import annotations

import threading
from typing import Any

from ecs_rollback_sandbox.emulator import Emulator

INCREMENTS = 100
FILLER = 60  # items in the table, so each cancelled transaction's copy takes a while
TRANSACTION_PUTS = 30  # and so does its work before the condition that cancels it


def _key(name: str) -> dict[str, Any]:
    return {"pk": {"S": name}, "sk": {"S": name}}


def test_a_cancelled_transaction_never_erases_a_write_committed_meanwhile(aws: Emulator) -> None:
    # Given a table holding a counter at 0 and filler items
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(
        TableName="isolation",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    dynamodb.put_item(TableName="isolation", Item={**_key("counter"), "n": {"N": "0"}})
    for number in range(FILLER):
        dynamodb.put_item(TableName="isolation", Item={**_key(f"filler-{number}"), "n": {"N": "0"}})
    counted = threading.Event()
    cancelled: list[int] = []

    def cancel_transactions() -> None:
        """Transactions that never touch the counter, each cancelled by its last condition."""
        while not counted.is_set():
            puts: list[Any] = [
                {"Put": {"TableName": "isolation", "Item": {**_key(f"filler-{number}"), "n": {"N": "1"}}}}
                for number in range(TRANSACTION_PUTS)
            ]
            check = {
                "ConditionCheck": {
                    "TableName": "isolation",
                    "Key": _key("missing"),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            }
            try:
                dynamodb.transact_write_items(TransactItems=[*puts, check])
            except dynamodb.exceptions.TransactionCanceledException:
                cancelled.append(1)

    canceller = threading.Thread(target=cancel_transactions, name="cancelled-transactions")
    canceller.start()

    # When another thread increments the counter, each put conditional on the value it wrote last
    lost_at: int | None = None
    try:
        for number in range(INCREMENTS):
            try:
                dynamodb.put_item(
                    TableName="isolation",
                    Item={**_key("counter"), "n": {"N": str(number + 1)}},
                    ConditionExpression="n = :previous",
                    ExpressionAttributeValues={":previous": {"N": str(number)}},
                )
            except dynamodb.exceptions.ConditionalCheckFailedException:
                lost_at = number
                break
    finally:
        counted.set()
        canceller.join(timeout=60)

    # Then no committed increment was erased, while transactions were being cancelled throughout
    counter = dynamodb.get_item(TableName="isolation", Key=_key("counter"), ConsistentRead=True)["Item"]
    assert lost_at is None, f"increment {lost_at} was erased by a cancelled transaction"
    assert counter["n"] == {"N": str(INCREMENTS)}
    assert len(cancelled) > 0
    # And the cancelled transactions left nothing behind either
    filler = dynamodb.get_item(TableName="isolation", Key=_key("filler-0"), ConsistentRead=True)["Item"]
    assert filler["n"] == {"N": "0"}
