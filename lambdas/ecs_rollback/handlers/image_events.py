"""ECR Image Action (DELETE) -> the releases that ran the image are marked as no longer restorable."""

from __future__ import annotations

from typing import Any

from ecs_rollback.events.ecr_image import EcrImageActionEvent
from ecs_rollback.handlers._edge import Edge, event_handler
from ecs_rollback.ports import Dependencies
from ecs_rollback.services.images import handle_image_event


def _answer(deps: Dependencies, event: EcrImageActionEvent) -> dict[str, Any]:
    marked = handle_image_event(deps, event)
    return {
        "status": "marked" if marked else "ignored",
        "releases": [
            {"service": str(entry.service), "release_id": entry.release_id, "image": entry.image}
            for entry in marked
        ],
    }


handle = event_handler(EcrImageActionEvent, _answer)
edge = Edge()
handler = edge.lambda_handler(handle, correlation_id_path="id")
