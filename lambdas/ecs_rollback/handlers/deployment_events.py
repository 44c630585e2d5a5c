"""ECS Deployment State Change -> ledger record (and a rollback when a deployment failed)."""

from __future__ import annotations

from typing import Any

from ecs_rollback.events.ecs_deployment import EcsDeploymentEvent
from ecs_rollback.handlers._edge import Edge, event_handler
from ecs_rollback.ports import Dependencies
from ecs_rollback.services.deployments import handle_deployment_event
from ecs_rollback.services.notifications import record_view


def _answer(deps: Dependencies, event: EcsDeploymentEvent) -> dict[str, Any]:
    recorded = handle_deployment_event(deps, event)
    return {
        "status": recorded.action,
        "deployment_id": event.detail.deployment_id,
        "revision": str(recorded.deployment.revision) if recorded.deployment else None,
        "decision": record_view(recorded.rollback) if recorded.rollback else None,
    }


handle = event_handler(EcsDeploymentEvent, _answer)
edge = Edge()
handler = edge.lambda_handler(handle, correlation_id_path="id")
