"""Releases, not revisions: GOOD and BAD belong to what runs (on the emulator, asserting its state)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ecs_rollback.domain.model import RevisionId, Verdict
from tests.integration.conftest import SHA_V2, SHA_V3

pytestmark = pytest.mark.emulator


def _rolled_back_to_a_pinned_copy(make_world, make_service):
    """web:1 (repo:latest) GOOD and baked, web:2 (latest moved) rolled back: the service runs web:1's
    pinned copy, which then bakes GOOD too."""
    world = make_world()
    web = make_service(world)
    repo = world.repository_uri("web")
    world.push_image("web", "latest", content="good build")
    web.revisions["good"] = world.register("web", {"app": f"{repo}:latest"})
    web.deploy("good")
    web.bake()
    world.clock.advance(timedelta(hours=2))
    world.push_image("web", "latest", content="bad build")
    web.revisions["bad"] = world.register("web", {"app": f"{repo}:latest"})
    web.deploy("bad")
    world.deliver(web.alarm_fires())
    world.cloudwatch.set_state(web.alarm, "OK")
    world.clock.advance(timedelta(minutes=1))
    world.run_ecs()
    web.bake()
    world.notifications()
    return world, web


def test_after_its_own_rollback_a_manual_last_good_never_marks_the_good_release_bad(make_world, make_service):
    # Given the service on the pinned copy of the GOOD release, itself baked GOOD
    world, web = _rolled_back_to_a_pinned_copy(make_world, make_service)
    copy = web.task_definition
    good_release = world.ledger.load(web.id).current.release
    registered = world.count("ecs.RegisterTaskDefinition")

    # When an operator asks for the revision the copy restores
    named = world.manual(
        cluster="prod", service="web", target=str(RevisionId.from_arn(web.revisions["good"]))
    )

    # Then it already runs: nothing deployed, nothing registered, the release stays GOOD
    assert named["outcome"] == "SKIPPED" and named["code"] == "target_is_current", named
    assert web.task_definition == copy
    assert world.count("ecs.RegisterTaskDefinition") == registered
    release = world.ledger.get_release(web.id, good_release)
    assert release is not None and release.verdict == Verdict.GOOD
    assert web.revisions["good"] in release.revisions and copy in release.revisions

    # And last-good goes to another GOOD release (the adopted baseline), never to a revision of this one
    last_good = world.manual(cluster="prod", service="web", dry_run=True)
    assert last_good["outcome"] == "DRY_RUN" and last_good["to"]["release_id"] != good_release


def test_the_pinned_copy_is_recognised_as_the_good_release(make_world, make_service):
    # Given the service back on web:1's pinned copy
    world, web = _rolled_back_to_a_pinned_copy(make_world, make_service)

    # Then the ledger knows the copy as web:1's release, GOOD, one entry among the targets
    state = world.ledger.load(web.id)
    _, by_copy = world.ledger.load_with_revision(web.id, RevisionId.from_arn(web.task_definition))
    _, by_source = world.ledger.load_with_revision(web.id, RevisionId.from_arn(web.revisions["good"]))
    assert by_copy is not None and by_source is not None
    assert by_copy.release_id == by_source.release_id == state.current.release
    assert by_copy.verdict == Verdict.GOOD
    assert [entry.release_id for entry in state.good].count(by_copy.release_id) == 1


def test_ecs_deploying_a_release_recorded_bad_is_notified_at_once_and_rolled_back(make_world, make_service):
    # Given web:2 rolled back (its release BAD), the service back on web:1
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.deploy("v2")
    world.deliver(web.alarm_fires())
    world.cloudwatch.set_state(web.alarm, "OK")
    world.run_ecs()
    world.notifications()
    world.clock.advance(timedelta(minutes=30))

    # When someone deploys web:2 again through ECS directly (no alarm yet)
    results = web.deploy("v2", complete=False)

    # Then a notification says a known-BAD release is being deployed, and it is rolled back at once
    decision = results[0]["decision"]
    assert decision is not None and decision["outcome"] == "ROLLED_BACK", results
    assert decision["trigger"] == "known_bad_release"
    assert web.task_definition == web.revisions["v1"]
    subjects = [note["subject"] for note in world.notifications()]
    assert any("known-BAD" in subject for subject in subjects), subjects


def test_with_the_option_off_a_known_bad_deploy_is_only_notified(make_world, make_service):
    # Given the option rollbackKnownBadReleases off, and web:2's release BAD
    world = make_world(rollback_known_bad_releases=False)
    web = make_service(world, pinned=True)
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.deploy("v2")
    world.deliver(web.alarm_fires())
    world.cloudwatch.set_state(web.alarm, "OK")
    world.run_ecs()
    world.notifications()
    world.clock.advance(timedelta(minutes=30))

    # When web:2 is deployed again
    results = web.deploy("v2", complete=False)

    # Then it is notified and left alone
    assert results[0]["decision"] is None
    assert web.task_definition == web.revisions["v2"]
    assert any("known-BAD" in note["subject"] for note in world.notifications())


def test_a_release_where_one_container_changed_is_another_release(make_world, make_service):
    # Given a two-container revision, and one where only the sidecar image differs
    world = make_world()
    web = make_service(world, pinned=True)
    repo = world.repository_uri("web")
    app = world.push_image("web", "app-1", content="app one")
    sidecar_one = world.push_image("sidecar", "1", content="sidecar one")
    sidecar_two = world.push_image("sidecar", "2", content="sidecar two")
    sidecar = world.repository_uri("sidecar")
    web.revisions["a"] = world.register("web", {"app": f"{repo}@{app}", "envoy": f"{sidecar}@{sidecar_one}"})
    web.revisions["b"] = world.register("web", {"app": f"{repo}@{app}", "envoy": f"{sidecar}@{sidecar_two}"})
    web.revisions["a-again"] = world.register(
        "web", {"app": f"{repo}@{app}", "envoy": f"{sidecar}@{sidecar_one}"}
    )

    # When each is deployed
    releases = {}
    for label in ("a", "b", "a-again"):
        web.deploy(label)
        releases[label] = world.ledger.load(web.id).current.release

    # Then the sidecar's change makes another release; re-registering the same definition does not
    assert releases["a"] != releases["b"]
    assert releases["a"] == releases["a-again"]
    deployments = world.ledger.deployments_of_release(releases["a"]).items
    assert {d.task_definition_arn for d in deployments} == {web.revisions["a"], web.revisions["a-again"]}


@pytest.mark.parametrize(
    ("target", "code"),
    [
        ("other:1", "target_other_family"),
        ("arn:aws:ecs:us-east-1:999999999999:task-definition/web:1", "target_other_account"),
        ("arn:aws:ecs:eu-west-1:123456789012:task-definition/web:1", "target_other_region"),
        ("web:\uff11", "invalid_target"),
        ("web:\u0661", "invalid_target"),
    ],
    ids=["another family", "another account", "another region", "full-width digit", "Arabic-Indic digit"],
)
def test_manual_targets_are_limited_to_the_services_own_releases(make_world, make_service, target, code):
    # Given a service on web:2, and a revision of another family that ECS knows
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.deploy("v2")
    world.register("other", {"app": f"{web.repository}:v1"})
    before = web.task_definition

    # When an operator names a target outside what the service has run
    answer = world.manual(cluster="prod", service="web", target=target)

    # Then it is a request error with its own code and what is allowed, and nothing changed
    assert answer.get("error") == code, answer
    assert answer["message"]
    assert web.task_definition == before
    assert world.count("ecs.UpdateService") == 0


def test_day_one_manual_rollback_adopts_the_running_revision_and_goes_on(make_world, make_service):
    # Given a service in scope running web:2 that the ledger has never seen (installed today), and
    # web:1, registered earlier, whose digests were never recorded
    world = make_world()
    web = make_service(world)
    web.revision("v2", sha=SHA_V2)
    world.emulator.client("ecs").update_service(
        cluster="prod", service="web", taskDefinition=web.revisions["v2"]
    )
    world.ecs.start_deployment(web.id)  # ECS deploys it; its events never reached the function
    world.ecs.complete(web.id)
    assert world.ledger.load(web.id) is None

    # When an operator asks for web:1
    answer = world.manual(cluster="prod", service="web", target="web:1")

    # Then the running revision was adopted, and the rollback went on, by tag, saying so
    assert answer["outcome"] == "ROLLED_BACK", answer
    assert answer["from"]["revision"] == "web:2"
    assert answer["to"]["revision"] == "web:1"
    assert "deployed by tag" in answer["message"]
    assert answer["to"]["images_by_tag"] is True
    assert web.task_definition == web.revisions["v1"]
    state = world.ledger.load(web.id)
    assert state is not None and state.families == ("web",)


def test_requested_by_is_optional_and_recorded_unverified(make_world, make_service):
    # Given a service with a GOOD revision to go back to
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", sha=SHA_V3, pinned=True)
    web.deploy("v2")

    # When an operator asks without saying who
    answer = world.invoke("manual_rollback", {"cluster": "prod", "service": "web", "reason": "5xx"})

    # Then it is done, and the ledger says the caller is not verified
    assert answer["outcome"] == "ROLLED_BACK", answer
    assert answer["requested_by_verified"] is False
    record = world.ledger.rollbacks(web.id).items[0]
    assert record.requested_by_verified is False and record.requested_by


def test_the_state_item_stays_small_at_any_history(make_world, make_service):
    # Given forty GOOD releases deployed and baked one after another
    world = make_world()
    web = make_service(world, pinned=True)
    for n in range(40):
        web.revision(f"r{n}", content=f"release {n}", pinned=True)
        web.deploy(f"r{n}")
        web.bake()

    # When the state item is read raw
    raw = world.emulator.client("dynamodb").get_item(
        TableName=world.settings["deployment_events"].ledger_table_name,
        Key={"pk": {"S": f"SVC#{web.id.arn}"}, "sk": {"S": "STATE"}},
        ConsistentRead=True,
        ReturnConsumedCapacity="TOTAL",
    )

    # Then it is under 4 KB (one read unit), and older GOOD releases are still one Query away
    size = len(str(raw["Item"]).encode())
    assert size < 4096, size
    state = world.ledger.load(web.id)
    assert state.good_truncated is True
    assert len(world.ledger.good_releases(web.id, limit=50)) >= 39
