"""The EventBridge envelope as this service reads it: Powertools' model, with the account and the
region held to AWS's shapes (they become part of ledger keys and ARNs)."""

from __future__ import annotations

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import Field


class AwsEvent(EventBridgeModel):
    account: str = Field(pattern=r"^[0-9]{12}$")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$", max_length=32)
