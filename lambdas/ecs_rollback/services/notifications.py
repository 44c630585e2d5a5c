"""What people read: the notification for each decision and the manual function's answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ecs_rollback.config import Settings
from ecs_rollback.domain.model import (
    ContainerImage,
    Deployment,
    Outcome,
    Release,
    ReleaseRef,
    RollbackRecord,
    ServiceId,
    iso,
)
from ecs_rollback.domain.notices import NoticeKind, attribute_value, bounded_message, subject_line
from ecs_rollback.ports import Notification, OutboxEntry

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
        "release_id": deployment.release,
        "status": deployment.status.value,
        "git_sha": deployment.git_sha,
        "commit_message": deployment.commit_message,
        "images": _images(images or deployment.images),
    }


def release_view(ref: ReleaseRef | None, images: tuple[ContainerImage, ...] = ()) -> dict[str, Any] | None:
    """A target release as the answer shows it: the revision it is known by and what is deployed."""
    if ref is None:
        return None
    return {
        "revision": str(ref.revision),
        "task_definition_arn": ref.task_definition_arn,
        "deployed_task_definition_arn": ref.deploy_task_definition_arn,
        "deployment_id": ref.deployment_id,
        "release_id": ref.release_id,
        "status": ref.verdict.value if ref.verdict else "UNKNOWN",
        "git_sha": ref.git_sha,
        "commit_message": ref.commit_subject,
        "images": _images(images),
        "images_by_tag": not ref.digests_recorded,
    }


def _images(images: tuple[ContainerImage, ...]) -> list[dict[str, Any]]:
    return [{"container": image.container, "image": image.image, "digest": image.digest} for image in images]


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
        "to": release_view(record.to_release, record.pinned_images),
        "requested_by_verified": record.requested_by_verified,
        "deployed_task_definition_arn": record.deployed_task_definition_arn,
        "triggered_at": iso(record.triggered_at),
        "decided_at": iso(record.created_at),
        "update_service_at": iso(record.update_service_at) if record.update_service_at else None,
        "commits": _commits(record),
        "reminder": "data migrations are not rolled back" if record.outcome == Outcome.ROLLED_BACK else None,
        **(
            {"group": record.group, "group_rollback_id": record.group_rollback_id}
            if record.group_rollback_id
            else {}
        ),
    }


def _commits(record: RollbackRecord) -> list[str]:
    commits = []
    left = record.from_deployment
    if left is not None and left.git_sha:
        message = f" {left.commit_message}" if left.commit_message else ""
        commits.append(f"{left.revision}: {left.git_sha[:12]}{message}")
    target = record.to_release
    if target is not None and target.git_sha:
        subject = f" {target.commit_subject}" if target.commit_subject else ""
        commits.append(f"{target.revision}: {target.git_sha[:12]}{subject}")
    return commits


def notification_for(record: RollbackRecord, kind: NoticeKind | None = None) -> Notification:
    """The decision's notification; ``kind`` is the decision's own (its outcome's when not given)."""
    verb = _VERBS[record.outcome]
    if (
        record.from_deployment
        and record.to_release
        and record.outcome in (Outcome.ROLLED_BACK, Outcome.DRY_RUN)
    ):
        what = f"{record.from_deployment.revision} -> {record.to_release.revision}"
    else:
        what = record.code.replace("_", " ")
    return Notification(
        subject=f"[ecs-rollback] {record.service}: {verb} ({what})",
        body=record_view(record),
        kind=kind or NoticeKind(record.outcome.value),
        key=record.rollback_id,
    )


def rollback_result_notification(record: RollbackRecord) -> Notification:
    """When the rollback's own deployment finishes."""
    body = record_view(record)
    body["result"] = record.result
    body["result_at"] = iso(record.result_at) if record.result_at else None
    return Notification(
        subject=f"[ecs-rollback] {record.service}: rollback deployment {record.result}",
        body=body,
        kind=NoticeKind.ROLLBACK_RESULT,
        key=f"{record.rollback_id}#result",
    )


def known_bad_notification(deployment: Deployment, release: Release, rolls_back: bool) -> Notification:
    """ECS started deploying a release the ledger records BAD."""
    body = {
        "outcome": "KNOWN_BAD_RELEASE",
        "service": str(deployment.service),
        "service_arn": deployment.service.arn,
        "deployment": revision_view(deployment),
        "release_id": release.release_id,
        "marked_bad_at": iso(release.bad_at) if release.bad_at else None,
        "marked_bad_because": release.verdict_reason,
        "rolling_back": rolls_back,
        "message": f"{deployment.revision} runs a release recorded BAD"
        + (f" since {iso(release.bad_at)}" if release.bad_at else "")
        + f" ({release.verdict_reason or 'no reason recorded'})"
        + (
            "; rolling it back to the newest GOOD release"
            if rolls_back
            else "; not rolled back (configuration)"
        ),
    }
    return Notification(
        subject=f"[ecs-rollback] {deployment.service}: deploying a known-BAD release ({deployment.revision})",
        body=body,
        kind=NoticeKind.KNOWN_BAD_RELEASE,
        key=f"known-bad#{deployment.deployment_id}",
    )


def outbox_entries(
    settings: Settings, service: ServiceId, now: datetime, *notifications: Notification
) -> list[OutboxEntry]:
    """The notifications of the kinds the configuration sends (``notify_on``), as the outbox
    stores them and SNS takes them: bounded subject and body, and the attributes subscription
    filter policies match on."""
    return [
        OutboxEntry(
            service=service,
            key=notification.key,
            subject=subject_line(notification.subject),
            message=bounded_message(notification.body),
            attributes={
                "outcome": attribute_value(notification.body.get("outcome", "")),
                "notice": notification.kind.value,
                "cluster": attribute_value(service.cluster),
                "service": attribute_value(service.name),
            },
            created_at=now,
        )
        for notification in notifications
        if notification.kind in settings.notify_on
    ]
