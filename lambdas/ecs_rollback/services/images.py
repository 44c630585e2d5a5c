"""ECR's own image events keep the ledger's ``images_missing`` current, so the rollback path never
asks ECR: a release whose image is gone is refused as a target with the image named."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ecs_rollback.domain.model import ImageReference, ServiceId, provisional_release_id
from ecs_rollback.events.ecr_image import EcrImageActionEvent
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies, LedgerChange
from ecs_rollback.services import retry

_PAGE = 100
_MAX_PAGES = 50  # 5,000 container deployments of one digest: beyond that, the reconciler's checks


@dataclass(frozen=True)
class MarkedMissing:
    service: ServiceId
    release_id: str
    image: str  # repository@digest


def handle_image_event(deps: Dependencies, event: EcrImageActionEvent) -> list[MarkedMissing]:
    detail = event.detail
    if detail.action_type != "DELETE" or detail.result != "SUCCESS":
        return []
    affected: dict[tuple[ServiceId, str], str] = {}
    cursor: str | None = None
    for _page in range(_MAX_PAGES):
        page = deps.ledger.deployments_of_digest(detail.image_digest, limit=_PAGE, cursor=cursor)
        for use in page.items:
            reference = ImageReference.parse(use.image)
            location = reference.ecr
            if location is None or location[0] != event.account or location[2] != detail.repository_name:
                continue  # the same digest in another repository is still there
            release_id = use.release_id or provisional_release_id(use.task_definition_arn)
            affected[(use.service, release_id)] = reference.pinned(detail.image_digest)
        cursor = page.cursor
        if cursor is None:
            break
    marked = [
        MarkedMissing(service, release_id, image)
        for (service, release_id), image in affected.items()
        if _mark_retried(deps, service, release_id, image)
    ]
    logger.info(
        "image deleted from ECR", extra={"digest": detail.image_digest, "releases_marked": len(marked)}
    )
    return marked


def _mark_retried(deps: Dependencies, service: ServiceId, release_id: str, image: str) -> bool:
    return retry.on_conflict(
        lambda: _mark(deps, service, release_id, image), what=f"the ledger state of {service}"
    )


def _mark(deps: Dependencies, service: ServiceId, release_id: str, image: str) -> bool:
    release = deps.ledger.get_release(service, release_id)
    if release is None or image in release.images_missing:
        return False
    gone = replace(release, images_missing=(*release.images_missing, image))
    state = deps.ledger.load(service)
    changed = None
    if state is not None and any(entry.release_id == release_id for entry in state.good):
        good = tuple(
            replace(entry, images_missing=gone.images_missing) if entry.release_id == release_id else entry
            for entry in state.good
        )
        changed = replace(state, good=good, version=state.version + 1)
    deps.ledger.commit(
        LedgerChange(state=changed, expected_version=state.version if state else 0, releases=[gone])
    )
    deps.telemetry.event("ReleaseImageMissing")
    return True
