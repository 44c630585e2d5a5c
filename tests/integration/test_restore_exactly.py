"""Restoring exactly what was good: digests pinned, targets resurrected, missing images refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ecs_rollback.domain.model import RevisionId


def _deployed_images(world, service_id) -> dict[str, str]:
    arn = world.service_task_definition(service_id)
    definition = world.emulator.client("ecs").describe_task_definition(taskDefinition=arn, include=["TAGS"])
    return {c["name"]: c["image"] for c in definition["taskDefinition"]["containerDefinitions"]}


def test_moved_latest_tag_rolls_back_to_the_recorded_digest(make_world, make_service):
    # Given v1 running repo:latest (digest D1), then latest moved to a bad image (D2) for v2
    world = make_world()
    web = make_service(world)  # v1 names repo:<sha tag>; use a mutable tag instead:
    repo = world.repository_uri("web")
    good_digest = world.push_image("web", "latest", content="good build")
    v1 = world.register("web", {"app": f"{repo}:latest"})
    web.revisions["v1-latest"] = v1
    web.deploy("v1-latest")
    web.bake()
    world.clock.advance(timedelta(hours=2))
    bad_digest = world.push_image("web", "latest", content="bad build")
    web.revisions["v2"] = world.register("web", {"app": f"{repo}:latest"})
    web.deploy("v2")
    current = world.ledger.load(web.id).current
    assert world.ledger.get_deployment(web.id, current.deployment_id).images[0].digest == bad_digest
    registered_before = world.count("ecs.RegisterTaskDefinition")

    # When the alarm fires
    result = world.deliver(web.alarm_fires())

    # Then the service runs the copy of v1 that names v1's digest, registered when v1 became GOOD:
    # nothing is registered on the rollback path
    assert result["decisions"][0]["outcome"] == "ROLLED_BACK"
    assert world.count("ecs.RegisterTaskDefinition") == registered_before
    assert _deployed_images(world, web.id) == {"app": f"{repo}@{good_digest}"}
    deployed = world.service_task_definition(web.id)
    assert deployed not in (v1, web.revisions["v2"])
    tags = world.emulator.client("ecs").describe_task_definition(taskDefinition=deployed, include=["TAGS"])[
        "tags"
    ]
    assert {"key": "ecs-rollback:source-revision", "value": "web:2"} in tags
    record = world.ledger.rollbacks(web.id).items[0]
    assert record.to_release.task_definition_arn == v1
    assert record.deployed_task_definition_arn == deployed
    assert record.pinned_images[0].image == f"{repo}@{good_digest}"

    # And when ECS runs the rollback, the ledger links the copy to its source revision
    world.clock.advance(timedelta(minutes=1))
    world.run_ecs()
    copy = world.ledger.history(web.id).items[0]
    assert copy.task_definition_arn == deployed
    assert copy.source_task_definition_arn == v1
    assert copy.origin.value == "automatic_rollback"
    assert copy.images[0].digest == good_digest


def test_target_pinned_by_digest_is_deployed_as_is(make_world, make_service):
    # Given revisions that already name their images by digest
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", pinned=True)
    web.deploy("v2")

    # When a rollback happens
    world.deliver(web.alarm_fires())

    # Then v1 itself is deployed, with no new registration
    assert web.task_definition == web.revisions["v1"]
    assert world.count("ecs.RegisterTaskDefinition") == 0


@pytest.mark.parametrize("deleted", [False, True], ids=["inactive", "deleted"])
def test_deregistered_target_is_registered_again_from_the_ledger(make_world, make_service, deleted):
    # Given v1 recorded in the ledger, then deregistered (and deleted) by a clean-up tool
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", pinned=True)
    web.deploy("v2")
    ecs = world.emulator.client("ecs")
    original = ecs.describe_task_definition(taskDefinition=web.revisions["v1"])["taskDefinition"]
    ecs.deregister_task_definition(taskDefinition=web.revisions["v1"])
    if deleted:
        ecs.delete_task_definitions(taskDefinitions=[web.revisions["v1"]])

    # When a rollback to v1 happens
    result = world.deliver(web.alarm_fires())

    # Then a new revision with v1's definition is registered and deployed
    assert result["decisions"][0]["outcome"] == "ROLLED_BACK"
    deployed = web.task_definition
    assert deployed not in (web.revisions["v1"], web.revisions["v2"])
    copy = ecs.describe_task_definition(taskDefinition=deployed)["taskDefinition"]
    assert copy["containerDefinitions"][0]["image"] == original["containerDefinitions"][0]["image"]
    assert copy["status"] == "ACTIVE"
    assert world.count("ecs.RegisterTaskDefinition") == 1


def test_recorded_digest_deleted_from_the_repository_is_refused(make_world, make_service):
    # Given v1 (repo:sha-tag, digest D1) recorded, then D1 deleted (a lifecycle rule)
    world = make_world()
    web = make_service(world)
    web.revision("v2", content="v2 build")
    web.deploy("v2")
    v1_digest = world.ledger.find_revision(web.id, RevisionId.from_arn(web.revisions["v1"])).images[0].digest
    marked = world.delete_image("web", v1_digest)  # ECR's DELETE event reaches the image-events function
    assert [entry["release_id"] for entry in marked["releases"]] == [
        world.ledger.load(web.id).good[0].release_id
    ]
    world.notifications()
    calls_before = list(world.calls)

    # When the alarm fires
    result = world.deliver(web.alarm_fires())

    # Then the rollback is refused with a notification naming the image, and ECS is unchanged
    decision = result["decisions"][0]
    assert decision["outcome"] == "REFUSED"
    assert decision["code"] == "image_missing"
    assert v1_digest in decision["message"]
    assert web.task_definition == web.revisions["v2"]
    assert world.count("ecs.UpdateService") == 0
    assert not [call for call in world.calls[len(calls_before) :] if call.startswith("ecr.")]  # no ECR call
    notes = world.notifications()
    assert len(notes) == 1 and v1_digest in notes[0]["body"]["message"]
    assert world.ledger.load(web.id).in_flight is None


def test_multi_container_revision_with_one_tagged_and_one_pinned_image(make_world, make_service):
    # Given v1 with an app container by tag and a sidecar by digest
    world = make_world()
    web = make_service(world, pinned=True)
    repo = world.repository_uri("web")
    app_digest = world.push_image("web", "stable", content="app v1")
    sidecar_digest = world.push_image("sidecar", "1.0", content="sidecar 1.0")
    sidecar = f"{world.repository_uri('sidecar')}@{sidecar_digest}"
    web.revisions["multi"] = world.register("web", {"app": f"{repo}:stable", "envoy": sidecar})
    web.deploy("multi")
    web.bake()
    world.clock.advance(timedelta(hours=2))
    world.push_image("web", "stable", content="app v2 broken")
    web.revisions["multi-bad"] = world.register("web", {"app": f"{repo}:stable", "envoy": sidecar})
    web.deploy("multi-bad")

    # When the alarm fires
    result = world.deliver(web.alarm_fires())

    # Then the tagged container is pinned to its recorded digest and the pinned one is kept
    assert result["decisions"][0]["to"]["revision"] == "web:" + web.revisions["multi"].rsplit(":", 1)[1]
    assert _deployed_images(world, web.id) == {"app": f"{repo}@{app_digest}", "envoy": sidecar}
