"""Which decisions notify is configuration, and a chat topic gets each one in Amazon Q Developer's
custom-notification format: through the handlers, the outbox and SNS on the emulator."""

from __future__ import annotations

from datetime import timedelta

from ecs_rollback.contract import DEFAULT_NOTIFY_ON
from tests.integration.conftest import SHA_V2


def _on_v2(world, make_service):
    web = make_service(world, pinned=True)
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.deploy("v2")
    world.notifications()
    return web


def test_a_duplicate_alarm_is_recorded_but_not_notified_by_default(make_world, make_service):
    # Given v2 rolled back by its alarm, with the defaults (skips off)
    world = make_world()
    web = _on_v2(world, make_service)
    world.clock.advance(timedelta(minutes=1))
    assert world.deliver(web.alarm_fires())["decisions"][0]["outcome"] == "ROLLED_BACK"
    assert [n["body"]["outcome"] for n in world.notifications()] == ["ROLLED_BACK"]

    # When the alarm fires again while the rollback is in flight
    world.clock.advance(timedelta(seconds=30))
    again = world.deliver(web.alarm_fires())["decisions"][0]

    # Then the skip is in the ledger, and nobody is told
    assert (again["outcome"], again["code"]) == ("SKIPPED", "rollback_in_flight")
    assert world.notifications() == []
    assert world.ledger.rollbacks(web.id).items[0].code == "rollback_in_flight"


def test_skips_notify_when_configured(make_world, make_service):
    # Given SKIPPED among the notifications sent
    world = make_world(notify_on=[*DEFAULT_NOTIFY_ON, "SKIPPED"])
    web = _on_v2(world, make_service)
    world.clock.advance(timedelta(minutes=1))
    world.deliver(web.alarm_fires())
    world.notifications()

    # When the alarm fires again while the rollback is in flight
    world.clock.advance(timedelta(seconds=30))
    world.deliver(web.alarm_fires())

    # Then the skip is notified, filterable by its kind
    notes = world.notifications()
    assert [n["body"]["code"] for n in notes] == ["rollback_in_flight"]


def test_only_the_configured_kinds_are_sent(make_world, make_service):
    # Given a configuration that sends failures and halts only
    world = make_world(notify_on=["FAILED", "HALTED"])
    web = _on_v2(world, make_service)

    # When v2's alarm rolls the service back
    world.clock.advance(timedelta(minutes=1))
    decision = world.deliver(web.alarm_fires())["decisions"][0]

    # Then the rollback happened and nothing was published
    assert decision["outcome"] == "ROLLED_BACK"
    assert web.task_definition == web.revisions["v1"]
    assert world.notifications() == []


def test_a_rollback_reaches_the_chat_topic_as_a_custom_notification(make_world, make_service):
    # Given a world with a chat topic
    world = make_world(chat=True)
    web = _on_v2(world, make_service)
    world.chat_notifications()

    # When v2's alarm rolls the service back
    world.clock.advance(timedelta(minutes=1))
    decision = world.deliver(web.alarm_fires())["decisions"][0]

    # Then the main topic has the JSON record, and the chat topic the same notice in Amazon Q's format
    assert [n["body"]["rollback_id"] for n in world.notifications()] == [decision["rollback_id"]]
    (chat,) = world.chat_notifications()
    assert (chat["version"], chat["source"]) == ("1.0", "custom")
    assert chat["content"]["title"] == "prod/web: rolled back (web:2 -> web:1)"
    assert "*To:* web:1" in chat["content"]["description"]
    assert chat["metadata"]["threadId"] == decision["rollback_id"]
    assert chat["metadata"]["additionalContext"]["outcome"] == "ROLLED_BACK"


def test_a_skipped_answer_to_a_dry_run_says_dry_run(make_world, make_service):
    # Given v2 running, with v1 GOOD
    world = make_world()
    _on_v2(world, make_service)

    # When an operator asks for a dry run to the release already running
    answer = world.manual(cluster="prod", service="web", target="web:2", dry_run=True, reason="check")

    # Then the answer is SKIPPED and says it was a dry run
    assert answer["outcome"] == "SKIPPED"
    assert answer["code"] == "target_is_current"
    assert answer["dry_run"] is True


def test_a_refused_answer_still_says_from(make_world, make_service):
    # Given v2 running and rolled back from (v2 BAD), then v2 deployed again by hand
    world = make_world()
    web = _on_v2(world, make_service)
    world.clock.advance(timedelta(minutes=1))
    world.deliver(web.alarm_fires())
    world.run_ecs()
    assert web.status_of("v2") == "ROLLED_BACK"

    # When an operator asks for the BAD v2 without force
    refused = world.manual(cluster="prod", service="web", target="web:2", reason="retry it")

    # Then the refusal says where the service is now
    assert refused["outcome"] == "REFUSED"
    assert refused["code"] == "target_is_bad"
    assert refused["from"]["revision"] == "web:1"
