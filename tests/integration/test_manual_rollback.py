"""The manual rollback contract, through the handler, against the emulator."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.integration.conftest import SHA_V1, SHA_V2, SHA_V3


@pytest.fixture
def three_revisions(make_world, make_service):
    """v1 adopted GOOD, v2 baked GOOD, v3 current (COMPLETED)."""
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.revision("v3", sha=SHA_V3, pinned=True)
    web.deploy("v2")
    web.bake()
    world.clock.advance(timedelta(hours=2))
    web.deploy("v3")
    world.notifications()
    return world, web


def test_manual_rollback_to_family_revision(three_revisions):
    # Given v3 running
    world, web = three_revisions

    # When an operator asks for web:1
    answer = world.manual(cluster="prod", service="web", target="web:1")

    # Then the service runs web:1 and the answer says from where to where
    assert answer["outcome"] == "ROLLED_BACK"
    assert (answer["from"]["revision"], answer["to"]["revision"]) == ("web:3", "web:1")
    assert web.task_definition == web.revisions["v1"]
    assert answer["rollback_id"]
    assert "data migrations" in answer["reminder"]


def test_manual_rollback_to_git_sha_prefix(three_revisions):
    # Given v3 running; v1 was built from SHA_V1
    world, web = three_revisions

    # When an operator asks for the first 8 characters of v1's commit
    answer = world.manual(cluster="prod", service="web", target=SHA_V1[:8])

    # Then the service runs v1
    assert answer["outcome"] == "ROLLED_BACK"
    assert answer["to"]["git_sha"].startswith(SHA_V1[:8])
    assert web.task_definition == web.revisions["v1"]


def test_manual_last_good_is_the_default_target(three_revisions):
    world, web = three_revisions

    answer = world.manual(cluster="prod", service="web")

    assert answer["outcome"] == "ROLLED_BACK"
    assert answer["to"]["revision"] == "web:2"
    assert web.task_definition == web.revisions["v2"]


def test_manual_dry_run_changes_nothing(three_revisions):
    world, web = three_revisions

    answer = world.manual(cluster="prod", service="web", target="web:1", dry_run=True)

    assert answer["outcome"] == "DRY_RUN"
    assert web.task_definition == web.revisions["v3"]
    assert world.count("ecs.UpdateService") == 0


def test_manual_rollback_to_a_bad_revision_needs_force(three_revisions):
    # Given v3 rolled back to v2 (so v3 is BAD), then v1 redeployed by a person
    world, web = three_revisions
    world.manual(cluster="prod", service="web", target="web:2")
    world.run_ecs()
    assert web.status_of("v3") == "ROLLED_BACK"

    # When an operator asks for the BAD v3 without force
    refused = world.manual(cluster="prod", service="web", target="web:3")

    # Then it is refused and nothing changes
    assert refused["outcome"] == "REFUSED"
    assert refused["code"] == "target_is_bad"
    assert web.task_definition == web.revisions["v2"]

    # When force is given
    forced = world.manual(cluster="prod", service="web", target="web:3", force=True)

    # Then it rolls "back" to v3
    assert forced["outcome"] == "ROLLED_BACK"
    assert web.task_definition == web.revisions["v3"]


def test_manual_rollback_of_a_service_outside_the_scope_is_refused(make_world, make_service):
    # Given a service in a cluster the stack does not watch
    world = make_world(scope={"services": ["prod/web"]})
    other = make_service(world, cluster="staging", name="api", pinned=True)

    # When an operator asks to roll it back
    answer = world.manual(cluster="staging", service="api", target="api:1")

    # Then it is refused, and nothing changes in ECS or the ledger
    assert answer["outcome"] == "REFUSED"
    assert answer["code"] == "out_of_scope"
    assert world.count("ecs.UpdateService") == 0
    assert world.ledger.load(other.id) is None


def test_manual_rollback_of_an_unknown_target_is_refused(three_revisions):
    world, web = three_revisions

    answer = world.manual(cluster="prod", service="web", target="web:99")

    assert answer["outcome"] == "REFUSED"
    assert answer["code"] == "target_not_found"
    assert web.task_definition == web.revisions["v3"]


MALFORMED = [
    ("not an object", ["prod", "web"], "invalid_request"),
    ("a number", 42, "invalid_request"),
    ("not JSON", "{cluster: prod", "invalid_json"),
    ("missing reason", {"cluster": "prod", "service": "web", "requested_by": "me"}, "missing_field"),
    (
        "empty reason",
        {"cluster": "prod", "service": "web", "reason": "  ", "requested_by": "me"},
        "invalid_field",
    ),
    (
        "unknown field",
        {"cluster": "prod", "service": "web", "reason": "x", "requested_by": "me", "rm": "-rf"},
        "unknown_field",
    ),
    (
        "dry_run as text",
        {"cluster": "prod", "service": "web", "reason": "x", "requested_by": "me", "dry_run": "yes"},
        "invalid_field",
    ),
    (
        "force as number",
        {"cluster": "prod", "service": "web", "reason": "x", "requested_by": "me", "force": 1},
        "invalid_field",
    ),
    (
        "mutable tag as target",
        {"cluster": "prod", "service": "web", "reason": "x", "requested_by": "me", "target": "latest"},
        "invalid_target",
    ),
    (
        "service with spaces",
        {"cluster": "prod", "service": "web; rm", "reason": "x", "requested_by": "me"},
        "invalid_field",
    ),
    (
        "cluster as list",
        {"cluster": ["prod"], "service": "web", "reason": "x", "requested_by": "me"},
        "invalid_field",
    ),
    (
        "oversized",
        {"cluster": "prod", "service": "web", "reason": "x" * 20000, "requested_by": "me"},
        "payload_too_large",
    ),
    (
        "short SHA",
        {"cluster": "prod", "service": "web", "reason": "x", "requested_by": "me", "target": "abc12"},
        "invalid_target",
    ),
]


@pytest.mark.parametrize(("label", "payload", "code"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_manual_requests_answer_an_error_and_change_nothing(three_revisions, label, payload, code):
    # Given a running service
    world, web = three_revisions
    before = world.ledger.load(web.id)

    # When the manual function receives a malformed request
    answer = world.invoke("manual_rollback", payload)

    # Then it answers {"error", "message"} with the right code, and nothing changed
    assert set(answer) == {"error", "message"}, label
    assert answer["error"] == code
    assert answer["message"]
    assert web.task_definition == web.revisions["v3"]
    assert world.ledger.load(web.id) == before
    assert world.count("ecs.UpdateService") == 0
