"""ECS Deployment State Change -> ledger record (and a rollback when a deployment failed)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from ecs_rollback.composition import from_environment
from ecs_rollback.events.ecs_deployment import EcsDeploymentEvent
from ecs_rollback.handlers._edge import Edge, rejected
from ecs_rollback.ports import Dependencies
from ecs_rollback.services.deployments import handle_deployment_event
from ecs_rollback.services.notifications import record_view

edge = Edge()


def handle(event: dict[str, Any], deps: Dependencies) -> dict[str, Any]:
    try:
        parsed = EcsDeploymentEvent.model_validate(event)
    except ValidationError as exc:
        return rejected(exc, deps.telemetry, event)
    recorded = handle_deployment_event(deps, parsed)
    return {
        "status": recorded.action,
        "deployment_id": parsed.detail.deployment_id,
        "revision": str(recorded.deployment.revision) if recorded.deployment else None,
        "decision": record_view(recorded.rollback) if recorded.rollback else None,
    }


def _handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, from_environment(edge.telemetry))


handler = edge.entry(_handler, correlation_id_path="id")
