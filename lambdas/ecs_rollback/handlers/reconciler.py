"""Every minute (an EventBridge schedule) -> make the ledger and ECS agree."""

from __future__ import annotations

from typing import Any

from ecs_rollback.handlers._edge import Edge
from ecs_rollback.ports import Dependencies
from ecs_rollback.services.reconciler import reconcile


def handle(event: Any, deps: Dependencies) -> dict[str, Any]:
    """The scheduled event carries nothing the pass needs; any payload runs one pass."""
    return {"status": "reconciled", **reconcile(deps).summary()}


edge = Edge()
handler = edge.lambda_handler(handle)
