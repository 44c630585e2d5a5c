"""What people read: the notification for each decision and the manual function's answer."""

from __future__ import annotations

from typing import Any

from ecs_rollback.domain.model import ContainerImage, Deployment, Outcome, RollbackRecord, iso
from ecs_rollback.ports import Notification

_VERBS = {
    Outcome.ROLLED_BACK: "rolled back",
    Outcome.DRY_RUN: "dry run: would roll back",
    Outcome.SKIPPED: "no rollback",
    Outcome.REFUSED: "refused",
    Outcome.FAILED: "rollback FAILED",
}


def revision_view(
    deployment: Deployment | None, images: tuple[ContainerImage, ...] = ()
) -> dict[str, Any] | None:
    if deployment is None:
        return None
    return {
        "revision": str(deployment.revision),
        "task_definition_arn": deployment.task_definition_arn,
        "deployment_id": deployment.deployment_id,
        "status": deployment.status.value,
        "git_sha": deployment.git_sha,
        "commit_message": deployment.commit_message,
        "images": [
            {"container": image.container, "image": image.image, "digest": image.digest}
            for image in (images or deployment.images)
        ],
    }


def record_view(record: RollbackRecord) -> dict[str, Any]:
    """The decision as one JSON object: the notification body and the manual response share it."""
    return {
        "outcome": record.outcome.value,
        "code": record.code,
        "message": record.message,
        "service": str(record.service),
        "service_arn": record.service.arn,
        "rollback_id": record.rollback_id,
        "trigger": record.trigger.value,
        "trigger_id": record.trigger_id,
        "source": record.source,
        "reason": record.reason,
        "requested_by": record.requested_by,
        "dry_run": record.dry_run,
        "from": revision_view(record.from_deployment),
        "to": revision_view(record.to_deployment, record.pinned_images),
        "deployed_task_definition_arn": record.deployed_task_definition_arn,
        "triggered_at": iso(record.triggered_at),
        "decided_at": iso(record.created_at),
        "update_service_at": iso(record.update_service_at) if record.update_service_at else None,
        "commits": _commits(record),
        "reminder": "data migrations are not rolled back" if record.outcome == Outcome.ROLLED_BACK else None,
    }


def _commits(record: RollbackRecord) -> list[str]:
    commits = []
    for deployment in (record.from_deployment, record.to_deployment):
        if deployment is not None and deployment.git_sha:
            message = f" {deployment.commit_message}" if deployment.commit_message else ""
            commits.append(f"{deployment.revision}: {deployment.git_sha[:12]}{message}")
    return commits


def notification_for(record: RollbackRecord) -> Notification:
    verb = _VERBS[record.outcome]
    if (
        record.from_deployment
        and record.to_deployment
        and record.outcome in (Outcome.ROLLED_BACK, Outcome.DRY_RUN)
    ):
        what = f"{record.from_deployment.revision} -> {record.to_deployment.revision}"
    else:
        what = record.code.replace("_", " ")
    return Notification(subject=f"[ecs-rollback] {record.service}: {verb} ({what})", body=record_view(record))


def rollback_result_notification(record: RollbackRecord) -> Notification:
    """When the rollback's own deployment finishes."""
    body = record_view(record)
    body["result"] = record.result
    body["result_at"] = iso(record.result_at) if record.result_at else None
    return Notification(
        subject=f"[ecs-rollback] {record.service}: rollback deployment {record.result}", body=body
    )
