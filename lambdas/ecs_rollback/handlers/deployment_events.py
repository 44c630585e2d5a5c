"""ECS Deployment State Change -> ledger record (and a rollback when a deployment failed);
CodeDeploy Deployment State-change Notification -> the end of a rollback carried out through
CodeDeploy (ECS sends no deployment events for a CODE_DEPLOY-controlled service)."""

from __future__ import annotations

from typing import Any

from ecs_rollback.events.codedeploy_deployment import CODEDEPLOY_DETAIL_TYPE, CodeDeployDeploymentEvent
from ecs_rollback.events.ecs_deployment import EcsDeploymentEvent
from ecs_rollback.handlers._edge import Edge, event_handler
from ecs_rollback.ports import Dependencies
from ecs_rollback.services.codedeploy_events import handle_codedeploy_event
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


def _answer_codedeploy(deps: Dependencies, event: CodeDeployDeploymentEvent) -> dict[str, Any]:
    followed = handle_codedeploy_event(deps, event)
    return {
        "status": followed.action,
        "codedeploy_deployment_id": event.detail.deployment_id,
        "state": event.detail.state,
        "decision": record_view(followed.rollback) if followed.rollback else None,
    }


_handle_ecs = event_handler(EcsDeploymentEvent, _answer)
_handle_codedeploy = event_handler(CodeDeployDeploymentEvent, _answer_codedeploy)


def handle(event: Any, deps: Dependencies) -> dict[str, Any]:
    """By detail-type: CodeDeploy's deployment events, or (anything else) ECS's."""
    if isinstance(event, dict) and event.get("detail-type") == CODEDEPLOY_DETAIL_TYPE:
        return _handle_codedeploy(event, deps)
    return _handle_ecs(event, deps)


edge = Edge()
handler = edge.lambda_handler(handle, correlation_id_path="id")
