"""Automatic rollbacks, each handler run against the emulator; assertions read the emulator's state."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from ecs_rollback.contract import DEFAULT_NOTIFY_ON
from ecs_rollback.domain.model import RevisionId
from tests.integration.conftest import SHA_V2, SHA_V3


def test_alarm_rolls_back_to_last_good_skipping_a_bad_revision(make_world, make_service):
    # Given v1 GOOD, v2 rolled back earlier (BAD), and v3 just deployed
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", sha=SHA_V2, pinned=True)
    web.revision("v3", sha=SHA_V3, pinned=True)
    web.deploy("v2")
    world.clock.advance(timedelta(minutes=3))
    world.deliver(web.alarm_fires())
    world.run_ecs()
    assert web.status_of("v2") == "ROLLED_BACK"
    world.clock.advance(timedelta(minutes=30))
    web.deploy("v3")
    world.notifications()

    # When v3's alarm fires
    world.clock.advance(timedelta(minutes=2))
    result = world.deliver(web.alarm_fires())

    # Then the service is back on v1, not on the previous revision v2
    decision = result["decisions"][0]
    assert decision["outcome"] == "ROLLED_BACK"
    assert decision["to"]["revision"] == "web:1"
    assert web.task_definition == web.revisions["v1"]
    assert web.status_of("v3") == "ROLLED_BACK"
    notes = world.notifications()
    assert [n["body"]["outcome"] for n in notes] == ["ROLLED_BACK"]
    assert "web:3 -> web:1" in notes[0]["subject"]


def test_failed_deployment_rolls_back(make_world, make_service):
    # Given v1 running and v2 deploying
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", pinned=True)
    web.deploy("v2", complete=False)

    # When ECS reports the deployment failed (no ECS rollback configured)
    result = world.deliver(world.ecs.fail(web.id))

    # Then the service is rolled back to v1 and v2 is FAILED
    assert result["decision"]["outcome"] == "ROLLED_BACK"
    assert web.task_definition == web.revisions["v1"]
    assert web.status_of("v2") == "FAILED"
    assert world.count("ecs.UpdateService") == 1


def test_ecs_circuit_breaker_rollback_is_recorded_not_repeated(make_world, make_service):
    # Given a service whose circuit breaker rolls back by itself, deploying v2
    world = make_world()
    web = make_service(world, pinned=True, circuit_breaker_rollback=True)
    web.revision("v2", pinned=True)
    web.deploy("v2", complete=False)

    # When ECS fails the deployment and starts its own rollback
    world.clock.advance(timedelta(minutes=4))
    failed_event, rollback_event = world.ecs.fail_with_ecs_rollback(web.id)
    failed = world.deliver(failed_event)
    started = world.deliver(rollback_event)

    # Then the failure and ECS's rollback are recorded, and the service makes no UpdateService call
    assert failed["decision"]["outcome"] == "SKIPPED"
    assert failed["decision"]["code"] == "ecs_rolling_back"
    assert world.count("ecs.UpdateService") == 0
    history = world.ledger.history(web.id).items
    assert history[0].origin.value == "ecs_rollback"
    assert history[0].task_definition_arn == web.revisions["v1"]
    assert web.status_of("v2") == "FAILED"
    assert started["status"] == "in_progress"


def test_alarm_on_a_stable_service_outside_the_watch_window_only_notifies(make_world, make_service):
    # Given v2 deployed, baked to GOOD, and stable for longer than the watch window
    world = make_world(watch_window_seconds=3600)
    web = make_service(world, pinned=True)
    web.revision("v2", pinned=True)
    web.deploy("v2")
    assert [r["status"] for r in web.bake()] == ["promoted"]
    assert web.status_of("v2") == "GOOD"
    world.clock.advance(timedelta(minutes=61))
    world.notifications()

    # When an alarm fires
    result = world.deliver(web.alarm_fires())

    # Then nothing changes in ECS and a notification says why
    assert result["decisions"][0]["outcome"] == "SKIPPED"
    assert result["decisions"][0]["code"] == "outside_watch_window"
    assert web.task_definition == web.revisions["v2"]
    assert world.count("ecs.UpdateService") == 0
    assert [n["body"]["code"] for n in world.notifications()] == ["outside_watch_window"]


def test_late_regression_inside_the_watch_window_rolls_back_a_good_revision(make_world, make_service):
    # Given v2 GOOD after its bake, 20 minutes after COMPLETED
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", pinned=True)
    web.deploy("v2")
    web.bake()
    world.clock.advance(timedelta(minutes=10))

    # When its alarm fires
    result = world.deliver(web.alarm_fires())

    # Then it is rolled back to v1, which ECS's own deployment alarms would have missed
    assert result["decisions"][0]["outcome"] == "ROLLED_BACK"
    assert web.task_definition == web.revisions["v1"]


def test_same_alarm_event_delivered_20_times_concurrently_rolls_back_once(make_world, make_service):
    # Given a bad deploy and one alarm event
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", pinned=True)
    web.deploy("v2")
    event = web.alarm_fires()
    world.notifications()

    # When EventBridge delivers it 20 times at once
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: world.deliver(event), range(20)))

    # Then exactly one UpdateService happened, and one notification
    assert world.count("ecs.UpdateService") == 1
    assert web.task_definition == web.revisions["v1"]
    assert {r["decisions"][0]["rollback_id"] for r in results} == {results[0]["decisions"][0]["rollback_id"]}
    assert len(world.notifications()) == 1
    assert len(world.ledger.rollbacks(web.id).items) == 1


def test_fourth_automatic_rollback_within_an_hour_is_refused_by_the_loop_guard(make_world, make_service):
    # Given three bad deploys in a row, each rolled back automatically
    world = make_world(loop_guard_limit=3)
    web = make_service(world, pinned=True)
    outcomes = []
    for attempt in range(4):
        web.revision(f"bad{attempt}", pinned=True, content=f"bad-{attempt}")
        web.deploy(f"bad{attempt}")
        world.clock.advance(timedelta(minutes=5))
        result = world.deliver(web.alarm_fires())
        outcomes.append((result["decisions"][0]["outcome"], result["decisions"][0]["code"]))
        world.run_ecs()
        world.clock.advance(timedelta(minutes=5))

    # Then the fourth is refused and a person is notified
    assert outcomes[:3] == [("ROLLED_BACK", "rollback")] * 3
    assert outcomes[3] == ("REFUSED", "loop_guard")
    assert web.task_definition == web.revisions["bad3"]
    assert world.count("ecs.UpdateService") == 3
    refused = [n for n in world.notifications() if n["body"]["outcome"] == "REFUSED"]
    assert refused and "loop guard" in refused[0]["subject"]


def test_dry_run_records_but_leaves_ecs_alone_and_notifies_only_when_configured(make_world, make_service):
    # Given dry-run for this service, and the defaults: dry runs are not notified
    world = make_world(dry_run_services=["prod/web"])
    web = make_service(world, pinned=True)
    web.revision("v2", pinned=True)
    web.deploy("v2")
    world.notifications()

    # When the alarm fires
    decision = world.deliver(web.alarm_fires())["decisions"][0]

    # Then the ledger says what would happen, ECS is untouched and nobody is told
    assert decision["outcome"] == "DRY_RUN"
    assert world.ledger.rollbacks(web.id).items[0].outcome.value == "DRY_RUN"
    assert world.count("ecs.UpdateService") == 0
    assert world.notifications() == []


def test_dry_run_notifies_when_the_configuration_sends_dry_runs(make_world, make_service):
    # Given dry-run for this service, and dry runs among the notifications sent
    world = make_world(dry_run_services=["prod/web"], notify_on=[*DEFAULT_NOTIFY_ON, "DRY_RUN"])
    web = make_service(world, pinned=True)
    web.revision("v2", pinned=True)
    web.deploy("v2")
    world.notifications()

    # When the alarm fires
    result = world.deliver(web.alarm_fires())

    # Then the ledger and notification say what would happen; ECS is untouched
    decision = result["decisions"][0]
    assert decision["outcome"] == "DRY_RUN"
    assert decision["to"]["revision"] == "web:1"
    assert web.task_definition == web.revisions["v2"]
    assert world.count("ecs.UpdateService") == 0
    assert world.ledger.rollbacks(web.id).items[0].outcome.value == "DRY_RUN"
    assert "dry run" in world.notifications()[0]["subject"]


def test_never_seen_service_adopts_its_running_revision_then_rolls_back_to_it(make_world, make_service):
    # Given a service the ledger has never seen, running v1
    world = make_world()
    web = make_service(world, pinned=True)
    assert world.ledger.load(web.id) is None

    # When v2 is deployed (first event) and then fails
    web.revision("v2", pinned=True)
    web.deploy("v2", complete=False)
    adopted = world.ledger.find_revision(web.id, RevisionId.from_arn(web.revisions["v1"]))
    result = world.deliver(world.ecs.fail(web.id))

    # Then v1 was adopted as baseline GOOD, and the failed deploy rolled back to it
    assert adopted is not None and adopted.adopted and adopted.status.value == "GOOD"
    assert result["decision"]["to"]["revision"] == "web:1"
    assert web.task_definition == web.revisions["v1"]


def test_bake_time_promotes_only_quiet_revisions(make_world, make_service):
    # Given v2 completed, with dry-run so an alarm does not roll it back
    world = make_world(dry_run=True)
    web = make_service(world, pinned=True)
    web.revision("v2", pinned=True)
    web.deploy("v2")

    # When an alarm fires during the bake time
    world.clock.advance(timedelta(minutes=3))
    world.deliver(web.alarm_fires())
    promotions = web.bake()

    # Then v2 is not promoted to GOOD
    assert [p["status"] for p in promotions] in (["alarmed"], ["rescheduled"])
    assert web.status_of("v2") == "COMPLETED"


def test_rollback_deployment_that_fails_halts_automation(make_world, make_service):
    # Given a rollback whose own deployment then fails
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", pinned=True)
    web.deploy("v2")
    world.deliver(web.alarm_fires())
    world.deliver(world.ecs.start_deployment(web.id))
    result = world.deliver(world.ecs.fail(web.id))

    # Then no cascade: refused, a person is notified, and later alarms do not act
    assert result["decision"]["outcome"] == "REFUSED"
    assert result["decision"]["code"] == "rollback_deployment_failed"
    later = world.deliver(web.alarm_fires())
    assert later["decisions"][0]["code"] == "automation_halted"
    assert world.count("ecs.UpdateService") == 1


def test_completed_deployment_schedules_its_bake_timer_with_a_dead_letter_queue(make_world, make_service):
    # Given a deployment that just completed
    world = make_world(bake_time_seconds=600)
    web = make_service(world, pinned=True)
    web.revision("v2", pinned=True)
    web.deploy("v2")

    # When the schedule group is read
    scheduler = world.emulator.client("scheduler")
    group = world.settings["deployment_events"].schedule_group_name
    (summary,) = scheduler.list_schedules(GroupName=group)["Schedules"]
    schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=group)

    # Then one one-time timer is due at COMPLETED + bake time, deleted after it fires, with a DLQ
    completed = world.ledger.load(web.id).current.completed_at
    due = (completed + timedelta(seconds=600)).strftime("%Y-%m-%dT%H:%M:%S")
    assert schedule["ScheduleExpression"] == f"at({due})"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert (
        schedule["Target"]["DeadLetterConfig"]["Arn"]
        == world.settings["bake_timer"].bake_timer_dead_letter_arn
    )
    assert schedule["Target"]["Arn"] == world.settings["deployment_events"].bake_timer_function_arn

    # And a duplicate COMPLETED event does not create a second timer
    world.deliver(
        world.ecs.deployment_event(
            web.id, "SERVICE_DEPLOYMENT_COMPLETED", world.ledger.load(web.id).current.deployment_id, "again"
        )
    )
    assert len(scheduler.list_schedules(GroupName=group)["Schedules"]) == 1


def test_bake_timer_waits_while_a_linked_alarm_is_in_alarm_then_promotes(make_world, make_service):
    # Given v2 completed, and its configured alarm already in ALARM before the deploy (no event)
    world = make_world(alarm_links=[{"alarm": "web-cpu-high", "cluster": "prod", "service": "web"}])
    web = make_service(world, pinned=True)
    world.emulator.client("cloudwatch").set_alarm_state(
        AlarmName=web.alarm, StateValue="ALARM", StateReason="t"
    )
    web.revision("v2", pinned=True)
    web.deploy("v2")

    # When the bake time passes with the alarm still in ALARM
    first = web.bake()

    # Then v2 is not promoted; the timer checks again later
    assert [p["status"] for p in first] == ["rescheduled"]
    assert web.status_of("v2") == "COMPLETED"

    # When the alarm clears and the next check comes
    world.emulator.client("cloudwatch").set_alarm_state(AlarmName=web.alarm, StateValue="OK", StateReason="t")
    second = web.bake()

    # Then v2 is GOOD
    assert [p["status"] for p in second] == ["promoted"]
    assert web.status_of("v2") == "GOOD"


def _elsewhere(event: dict, *, account: str | None = None, region: str | None = None) -> dict:
    """``event`` as another account's or region's bus would carry it (forwarded to this one)."""
    moved = dict(event)
    old_account, old_region = event["account"], event["region"]
    moved["account"] = account or old_account
    moved["region"] = region or old_region
    moved["resources"] = [
        arn.replace(f":{old_region}:", f":{moved['region']}:").replace(
            f":{old_account}:", f":{moved['account']}:"
        )
        for arn in event["resources"]
    ]
    return moved


def test_a_failed_deployment_of_another_region_changes_nothing_here(make_world, make_service):
    # Given v2 deploying here, and a FAILED event for the same names in another region
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", pinned=True)
    web.deploy("v2", complete=False)
    foreign = _elsewhere(world.ecs.fail(web.id), region="eu-west-3")
    calls_before = len(world.calls)

    # When it reaches this installation's bus
    result = world.deliver(foreign)

    # Then it is ignored: no ECS change, no ledger record, no notification
    assert result["status"] == "other_account_or_region"
    assert web.task_definition == web.revisions["v2"]
    assert world.count("ecs.UpdateService") == 0
    assert world.calls[calls_before:] == []
    assert world.notifications() == []


def test_an_alarm_of_another_account_changes_nothing_here(make_world, make_service):
    # Given v2 just deployed here, and an alarm naming the service in another account
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", pinned=True)
    web.deploy("v2")
    foreign = _elsewhere(web.alarm_fires(), account="999999999999")

    # When it reaches this installation's bus
    result = world.deliver(foreign)

    # Then nothing is decided and ECS is untouched
    assert result["decisions"] == []
    assert web.task_definition == web.revisions["v2"]
    assert world.count("ecs.UpdateService") == 0


def test_an_alarm_delivered_after_a_newer_deployment_started_does_not_roll_that_one_back(
    make_world, make_service
):
    # Given v2's alarm went off, but its event reaches the function only after a person deployed v3
    world = make_world()
    web = make_service(world, pinned=True)
    web.revision("v2", pinned=True)
    web.revision("v3", pinned=True)
    web.deploy("v2")
    world.clock.advance(timedelta(minutes=2))
    late_alarm = web.alarm_fires()
    world.clock.advance(timedelta(minutes=1))
    web.deploy("v3")
    world.notifications()

    # When the late alarm event is delivered
    decision = world.deliver(late_alarm)["decisions"][0]

    # Then v3 keeps running: the alarm is about an earlier release
    assert (decision["outcome"], decision["code"]) == ("SKIPPED", "alarm_before_deployment")
    assert web.task_definition == web.revisions["v3"]
    assert world.count("ecs.UpdateService") == 0
