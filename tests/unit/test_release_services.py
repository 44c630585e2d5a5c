"""Releases on the service side, over in-memory fakes: made GOOD with their pinned copy, marked when
ECR deletes their image."""

from __future__ import annotations

from ecs_rollback.domain.model import ContainerImage, Status, Verdict
from ecs_rollback.events.bake_timer import BakeTimerPayload
from ecs_rollback.events.ecr_image import EcrImageActionEvent
from ecs_rollback.ports import LedgerChange
from ecs_rollback.services.images import handle_image_event
from ecs_rollback.services.promotion import promote_if_quiet
from tests.fakes import Fakes
from tests.unit.builders import (
    ECR_REPO,
    NOW,
    SERVICE,
    deployment,
    digest,
    load_event,
    minutes,
    release,
    state,
    task_definition,
)


def completed_on_a_tag(fakes: Fakes, *, pinned: bool = False) -> str:
    """web:3 COMPLETED eleven minutes ago, naming ``repo:latest`` (or its digest); its release unjudged."""
    image = f"{ECR_REPO}@{digest(3)}" if pinned else f"{ECR_REPO}:latest"
    arn = fakes.ecs.add_task_definition(task_definition(("app", image), revision=3))
    completed = deployment(
        3,
        Status.COMPLETED,
        started_at=NOW - minutes(15),
        completed_at=NOW - minutes(11),
        images=(ContainerImage("app", image, digest(3), "ecs-task"),),
        task_definition=fakes.ecs.task_definitions[arn].definition,
    )
    fakes.ledger.commit(
        LedgerChange(state=state(completed, [], version=1), expected_version=0, deployments=[completed])
    )
    return completed.deployment_id


def bake_over(deployment_id: str) -> BakeTimerPayload:
    return BakeTimerPayload(service_arn=SERVICE.arn, deployment_id=deployment_id, due_at=NOW)


def test_a_release_on_a_mutable_tag_gets_its_pinned_copy_when_it_becomes_good() -> None:
    # Given web:3 naming repo:latest, which ran sha256:3..., COMPLETED and quiet through its bake
    fakes = Fakes()
    deployment_id = completed_on_a_tag(fakes)

    # When the bake timer fires
    promotion = promote_if_quiet(fakes.deps(), bake_over(deployment_id))

    # Then one copy pinned to the digest that ran is registered, tagged with where it came from,
    # and recorded as the release's rollback revision: a rollback will register nothing
    assert promotion.outcome == "promoted"
    (copy,) = fakes.ecs.registrations
    assert copy["containerDefinitions"][0]["image"] == f"{ECR_REPO}@{digest(3)}"
    tags = fakes.ecs.task_definitions[copy["taskDefinitionArn"]].tags
    assert tags["ecs-rollback:source-revision"] == "web:3"
    stored = fakes.ledger.load(SERVICE)
    assert stored is not None
    (good,) = stored.good
    assert good.deploy_task_definition_arn == copy["taskDefinitionArn"]
    assert good.task_definition_arn.endswith("web:3") and good.verdict == Verdict.GOOD


def test_a_release_named_by_digest_needs_no_copy() -> None:
    # Given web:3 naming its image by digest
    fakes = Fakes()
    deployment_id = completed_on_a_tag(fakes, pinned=True)

    # When it becomes GOOD
    promote_if_quiet(fakes.deps(), bake_over(deployment_id))

    # Then nothing is registered: the revision itself is its rollback revision
    assert fakes.ecs.registrations == []
    stored = fakes.ledger.load(SERVICE)
    assert stored is not None and stored.good[0].deploy_task_definition_arn.endswith("web:3")


def test_a_release_whose_digest_is_already_gone_is_recorded_so() -> None:
    # Given the digest web:3 ran was deleted before its bake ended
    fakes = Fakes()
    deployment_id = completed_on_a_tag(fakes)
    fakes.registry.deleted.add(digest(3))

    # When it becomes GOOD
    promote_if_quiet(fakes.deps(), bake_over(deployment_id))

    # Then the missing image is recorded, so it is refused as a target with the image named
    stored = fakes.ledger.load(SERVICE)
    assert stored is not None and stored.good[0].images_missing == (f"{ECR_REPO}@{digest(3)}",)


def test_an_ecr_delete_marks_every_release_that_ran_the_digest() -> None:
    # Given web:1's GOOD release ran sha256:1... from the "web" repository
    fakes = Fakes()
    good = deployment(
        1, Status.GOOD, images=(ContainerImage("app", f"{ECR_REPO}:latest", digest(1), "ecs-task"),)
    )
    fakes.ledger.commit(
        LedgerChange(
            state=state(deployment(3, Status.IN_PROGRESS), [good], version=1),
            expected_version=0,
            deployments=[good],
            releases=[release(good, verdict=Verdict.GOOD)],
        )
    )
    raw = load_event("ecr_image_deleted.json")
    raw["detail"]["image-digest"] = digest(1)

    # When ECR reports the image deleted (twice: EventBridge delivers at least once)
    event = EcrImageActionEvent.model_validate(raw)
    first = handle_image_event(fakes.deps(), event)
    again = handle_image_event(fakes.deps(), event)

    # Then the release and the state's target entry name the missing image, once
    assert [entry.release_id for entry in first] == [good.release]
    assert again == []
    stored = fakes.ledger.load(SERVICE)
    recorded = fakes.ledger.get_release(SERVICE, good.release)
    assert stored is not None and recorded is not None
    assert stored.good[0].images_missing == recorded.images_missing == (f"{ECR_REPO}@{digest(1)}",)


def test_an_ecr_delete_in_another_repository_changes_nothing() -> None:
    # Given web:1 ran sha256:1... from "web"; the same digest is deleted from "other"
    fakes = Fakes()
    good = deployment(
        1, Status.GOOD, images=(ContainerImage("app", f"{ECR_REPO}:latest", digest(1), "ecs-task"),)
    )
    fakes.ledger.commit(
        LedgerChange(
            state=None, expected_version=0, deployments=[good], releases=[release(good, verdict=Verdict.GOOD)]
        )
    )
    raw = load_event("ecr_image_deleted.json")
    raw["detail"].update({"image-digest": digest(1), "repository-name": "other"})

    # When the event arrives, then no release is marked
    assert handle_image_event(fakes.deps(), EcrImageActionEvent.model_validate(raw)) == []
    recorded = fakes.ledger.get_release(SERVICE, good.release)
    assert recorded is not None and recorded.images_missing == ()
