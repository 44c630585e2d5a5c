"""A group of services back to one git SHA, by hand, through the manual function on the emulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.integration.conftest import SHA_V1, SHA_V2, SHA_V3

GROUPS = {"checkout": ["prod/api", "prod/worker"]}


@pytest.fixture
def checkout(make_world, make_service):
    """api and worker, released together: v1 (adopted GOOD), v2 (baked GOOD), v3 running."""
    world = make_world(groups=GROUPS)
    services = [make_service(world, name=name, pinned=True) for name in ("api", "worker")]
    for service in services:
        service.revision("v2", sha=SHA_V2, pinned=True)
        service.revision("v3", sha=SHA_V3, pinned=True)
        service.deploy("v2")
    world.clock.advance(timedelta(seconds=world.settings["bake_timer"].bake_time_seconds + 1))
    world.fire_timers()
    world.clock.advance(timedelta(hours=2))
    for service in services:
        service.deploy("v3")
    world.notifications()
    return world, *services


def _group_notices(world) -> list[dict[str, Any]]:
    """The group's own notifications (a member's failure is also told on its own)."""
    return [note for note in world.notifications() if "members" in note["body"]]


def test_the_group_goes_back_to_one_git_sha_together(checkout):
    # Given api and worker on v3
    world, api, worker = checkout
    before = world.count("ecs.UpdateService")

    # When an operator rolls the group back to v1's commit (a prefix)
    answer = world.manual(group="checkout", target=SHA_V1[:8])

    # Then both run v1, one UpdateService each, under one group rollback id
    assert answer["outcome"] == "ROLLED_BACK", answer
    assert answer["code"] == "group_rollback"
    assert (api.task_definition, worker.task_definition) == (api.revisions["v1"], worker.revisions["v1"])
    assert world.count("ecs.UpdateService") - before == 2
    members = answer["members"]
    assert [member["service"] for member in members] == ["prod/api", "prod/worker"]
    assert {member["outcome"] for member in members} == {"ROLLED_BACK"}
    assert {member["group_rollback_id"] for member in members} == {answer["group_rollback_id"]}
    # and the ledger's records of both share it
    for service in (api, worker):
        record = world.ledger.rollbacks(service.id).items[0]
        assert (record.group, record.group_rollback_id) == ("checkout", answer["group_rollback_id"])
    # and one notification tells of the whole group (none per member)
    notices = world.notifications()
    assert len(notices) == 1, [note["subject"] for note in notices]
    assert notices[0]["body"]["group_rollback_id"] == answer["group_rollback_id"]
    assert "group checkout" in notices[0]["subject"]


def test_last_good_is_the_newest_commit_good_on_every_member(checkout):
    world, api, worker = checkout

    answer = world.manual(group="checkout")

    assert answer["outcome"] == "ROLLED_BACK", answer
    assert answer["git_sha"] == SHA_V2
    assert (api.task_definition, worker.task_definition) == (api.revisions["v2"], worker.revisions["v2"])


def test_one_member_that_cannot_go_back_stops_the_whole_group(make_world, make_service):
    # Given both v2 GOOD, then worker's v2 rolled back (so its release of SHA_V2 is BAD), then both on v3
    world = make_world(groups=GROUPS)
    api, worker = (make_service(world, name=name, pinned=True) for name in ("api", "worker"))
    for service in (api, worker):
        service.revision("v2", sha=SHA_V2, pinned=True)
        service.revision("v3", sha=SHA_V3, pinned=True)
        service.deploy("v2")
    world.clock.advance(timedelta(seconds=world.settings["bake_timer"].bake_time_seconds + 1))
    world.fire_timers()  # both v2 GOOD
    world.manual(cluster="prod", service="worker", target="worker:1")
    world.run_ecs()
    assert worker.status_of("v2") == "ROLLED_BACK"
    for service in (api, worker):
        service.deploy("v3")
    world.notifications()
    before = world.count("ecs.UpdateService")

    # When the group is asked back to SHA_V2
    answer = world.manual(group="checkout", target=SHA_V2)

    # Then nothing is done, and the answer says which member and why
    assert answer["outcome"] == "REFUSED", answer
    assert answer["code"] == "group_blocked"
    assert world.count("ecs.UpdateService") == before
    assert (api.task_definition, worker.task_definition) == (api.revisions["v3"], worker.revisions["v3"])
    by_service = {member["service"]: member for member in answer["members"]}
    assert by_service["prod/api"]["ready"] is True
    assert (by_service["prod/worker"]["ready"], by_service["prod/worker"]["code"]) == (False, "target_is_bad")
    assert "prod/worker" in answer["message"] and "nothing was done" in answer["message"]
    assert [note["body"]["outcome"] for note in _group_notices(world)] == ["REFUSED"]

    # And with force, both go
    forced = world.manual(group="checkout", target=SHA_V2, force=True)
    assert forced["outcome"] == "ROLLED_BACK", forced
    assert (api.task_definition, worker.task_definition) == (api.revisions["v2"], worker.revisions["v2"])


def test_a_member_already_on_the_commit_is_skipped_and_the_rest_go(checkout):
    world, _api, worker = checkout
    world.manual(cluster="prod", service="api", target=SHA_V2)
    world.run_ecs()  # api's rollback deployment completes: its lock is released
    world.notifications()

    answer = world.manual(group="checkout", target=SHA_V2)

    assert answer["outcome"] == "ROLLED_BACK", answer
    outcomes = {member["service"]: member["outcome"] for member in answer["members"]}
    assert outcomes == {"prod/api": "SKIPPED", "prod/worker": "ROLLED_BACK"}
    assert worker.task_definition == worker.revisions["v2"]


def test_a_group_dry_run_changes_nothing(checkout):
    world, api, _worker = checkout
    before = world.count("ecs.UpdateService")

    answer = world.manual(group="checkout", target=SHA_V1, dry_run=True)

    assert answer["outcome"] == "DRY_RUN", answer
    assert world.count("ecs.UpdateService") == before
    assert api.task_definition == api.revisions["v3"]


@pytest.mark.parametrize(
    ("request_fields", "code"),
    [
        ({"group": "nope"}, "unknown_group"),
        ({"group": "checkout", "target": "api:1"}, "invalid_group_target"),
        ({"group": "checkout", "cluster": "prod", "service": "api"}, "group_and_service"),
        ({"group": "checkout", "target": "last-good", "extra": 1}, "unknown_field"),
    ],
)
def test_bad_group_requests_are_answered_and_change_nothing(checkout, request_fields, code):
    world, _api, _ = checkout
    before = world.count("ecs.UpdateService")

    answer = world.manual(**request_fields)

    assert answer["error"] == code, answer
    assert answer["message"]
    assert world.count("ecs.UpdateService") == before


def test_a_member_ecs_refuses_after_the_checks_is_a_partial_answer(checkout):
    # Given the checks pass, but ECS denies the worker's UpdateService (an SCP, say)
    from ecs_rollback_sandbox.faults import attach

    world, api, worker = checkout
    with attach(world.emulator) as faults:
        faults.add(
            "ecs",
            "UpdateService",
            "access_denied",
            times="always",
            when=lambda body: body.get("service") == "worker",
        )

        # When the group is rolled back
        answer = world.manual(group="checkout", target=SHA_V2)

    # Then api is back, worker is not, and the answer says exactly that
    assert answer["outcome"] == "FAILED", answer
    assert answer["code"] == "group_partial"
    outcomes = {member["service"]: member["outcome"] for member in answer["members"]}
    assert outcomes["prod/api"] == "ROLLED_BACK"
    assert outcomes["prod/worker"] in ("FAILED", "ERROR")
    assert api.task_definition == api.revisions["v2"]
    assert worker.task_definition == worker.revisions["v3"]
    assert "only partly back" in answer["message"] and "prod/worker" in answer["message"]
    # and the group's notification says so too (the worker's failure also has its own)
    notices = world.notifications()
    group = [note for note in notices if "members" in note["body"]]
    assert [note["body"]["outcome"] for note in group] == ["FAILED"]
    assert [note["body"]["service"] for note in notices if "members" not in note["body"]] == ["prod/worker"]
