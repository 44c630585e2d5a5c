"""What people read: a short ASCII subject and a JSON body with the whole decision."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from ecs_rollback.domain.decision import Refuse, RollBack, Skip
from ecs_rollback.domain.model import ContainerImage, Outcome, RollbackRecord, ServiceId, Status
from ecs_rollback.domain.notices import NoticeKind, chat_message, subject_line
from ecs_rollback.services.notifications import (
    notification_for,
    outbox_entries,
    record_view,
    rollback_result_notification,
)
from tests.unit.builders import (
    ECR_REPO,
    NOW,
    SERVICE,
    deployment,
    digest,
    minutes,
    ref,
    rollback_record,
    settings,
    td_arn,
)

BAD_SHA = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"
GOOD_SHA = "3f2c1ab9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3"
FROM = deployment(3, Status.ROLLED_BACK, git_sha=BAD_SHA, commit_message="Add coupon service")
TO = deployment(1, git_sha=GOOD_SHA, commit_message="Fix checkout totals")
TARGET = ref(TO)
PINNED = (ContainerImage("app", f"{ECR_REPO}@{digest(1)}", digest(1), "recorded"),)


def rolled_back(outcome: Outcome = Outcome.ROLLED_BACK, **overrides: object) -> RollbackRecord:
    return rollback_record(
        outcome=outcome,
        from_deployment=FROM,
        to_deployment=TO,
        pinned_images=PINNED,
        deployed_task_definition_arn=td_arn(4),
        update_service_at=NOW,
        dry_run=outcome == Outcome.DRY_RUN,
        **overrides,
    )


SUBJECTS = {
    "rolled back": (rolled_back(), "[ecs-rollback] prod/web: rolled back (web:3 -> web:1)"),
    "dry run": (
        rolled_back(Outcome.DRY_RUN),
        "[ecs-rollback] prod/web: dry run: would roll back (web:3 -> web:1)",
    ),
    "skipped": (
        rollback_record(outcome=Outcome.SKIPPED, code="no_known_good", message="no known good revision"),
        "[ecs-rollback] prod/web: no rollback (no known good)",
    ),
    "refused": (
        rollback_record(outcome=Outcome.REFUSED, code="loop_guard", message="3 rollbacks"),
        "[ecs-rollback] prod/web: refused (loop guard)",
    ),
    "failed": (
        rolled_back(Outcome.FAILED, code="ecs_update_failed", message="UpdateService refused"),
        "[ecs-rollback] prod/web: rollback FAILED (ecs update failed)",
    ),
}


@pytest.mark.parametrize(("record", "expected"), SUBJECTS.values(), ids=SUBJECTS.keys())
def test_subject_is_short_ascii_and_says_what_happened(record: RollbackRecord, expected: str) -> None:
    # Given a decision record

    # When building its notification
    notification = notification_for(record)

    # Then the subject says the service, the outcome and the revisions or the reason, in short ASCII
    assert notification.subject == expected
    assert notification.subject.isascii()
    assert len(notification.subject) < 100
    assert "\n" not in notification.subject


def test_body_holds_outcome_revisions_and_commits() -> None:
    # Given a rollback from web:3 to web:1 deployed as a pinned copy
    record = rolled_back()

    # When building its notification
    body = notification_for(record).body

    # Then the body says what happened, from which revision to which, and the commits involved
    assert body["outcome"] == "ROLLED_BACK"
    assert body["service"] == "prod/web"
    assert body["from"]["revision"] == "web:3"
    assert body["from"]["git_sha"] == BAD_SHA
    assert body["from"]["status"] == "ROLLED_BACK"
    assert body["to"]["revision"] == "web:1"
    assert body["to"]["images"] == [
        {"container": "app", "image": f"{ECR_REPO}@{digest(1)}", "digest": digest(1)}
    ]
    assert body["deployed_task_definition_arn"] == td_arn(4)
    assert body["commits"] == [
        f"web:3: {BAD_SHA[:12]} Add coupon service",
        f"web:1: {GOOD_SHA[:12]} Fix checkout totals",
    ]
    assert body["reminder"] == "data migrations are not rolled back"
    assert body["reason"] and body["message"] and body["rollback_id"]
    json.dumps(body)  # plain JSON, no default= needed


def test_body_of_a_skip_has_no_revisions() -> None:
    # Given a skipped decision with no revisions
    record = rollback_record(outcome=Outcome.SKIPPED, code="no_known_good", message="no known good revision")

    # When building its body
    body = record_view(record)

    # Then from/to are null, there are no commits and no migration reminder
    assert (body["from"], body["to"], body["commits"], body["reminder"]) == (None, None, [], None)
    assert body["code"] == "no_known_good"


def test_commits_without_git_sha_are_left_out() -> None:
    # Given a rollback between revisions whose commits are unknown
    record = rollback_record(from_deployment=deployment(3), to_deployment=deployment(1))

    # When building its body
    body = record_view(record)

    # Then there is no commit line, and no image is claimed for a target whose release was not read
    assert body["commits"] == []
    assert body["to"]["images"] == []


def test_rollback_result_notification() -> None:
    # Given a rollback whose own deployment completed
    record = rolled_back(result="COMPLETED", result_at=NOW + minutes(4))

    # When building the result notification
    notification = rollback_result_notification(record)

    # Then the subject gives the result and the body the result time
    assert notification.subject == "[ecs-rollback] prod/web: rollback deployment COMPLETED"
    assert notification.body["result"] == "COMPLETED"
    assert notification.body["result_at"] == "2026-11-02T12:04:00.000000Z"


def test_sns_subject_line_fits_sns_limits_for_the_longest_names() -> None:
    # Given a service with the longest names ECS allows, and a non-ASCII, multi-line text
    longest = ServiceId("aws", "us-east-1", "123456789012", "c" * 255, "s" * 255)
    subject = notification_for(rollback_record(service=longest, outcome=Outcome.SKIPPED)).subject

    # When the SNS adapter makes subject lines of them
    lines = [subject_line(subject), subject_line("rollback of café\nweb\tok")]

    # Then each is ASCII, on one line, under 100 characters
    for line in lines:
        assert line.isascii()
        assert len(line) < 100
        assert "\n" not in line and "\t" not in line
    assert lines[1] == "rollback of caf? web ok"


# -- which notifications are sent, and the chat form ---------------------------------------------

DECISION_NOTICES = {
    "a rollback": (RollBack(TARGET, FROM, False, "rolling back"), NoticeKind.ROLLED_BACK),
    "a dry run": (RollBack(TARGET, FROM, True, "would roll back"), NoticeKind.DRY_RUN),
    "a duplicate": (Skip("rollback_in_flight", "in flight"), NoticeKind.SKIPPED),
    "no target, automatic": (
        Skip("no_known_good", "no known good", NoticeKind.NO_KNOWN_GOOD),
        NoticeKind.NO_KNOWN_GOOD,
    ),
    "no target, manual": (Refuse("no_known_good", "none", no_target=True), NoticeKind.NO_KNOWN_GOOD),
    "a halt": (Refuse("rollback_deployment_failed", "failed", halts_automation=True), NoticeKind.HALTED),
    "a refusal": (Refuse("loop_guard", "3 rollbacks"), NoticeKind.REFUSED),
}


@pytest.mark.parametrize(("decision", "kind"), DECISION_NOTICES.values(), ids=DECISION_NOTICES.keys())
def test_each_decision_says_what_kind_of_notice_it_is(decision: object, kind: NoticeKind) -> None:
    # Given a decision, then its notice kind is typed on it (no code string is read)
    assert decision.notice == kind  # type: ignore[attr-defined]


def test_the_default_configuration_sends_what_a_person_needs_and_no_skips_or_dry_runs() -> None:
    # Given the stack's defaults
    sent = settings().notify_on

    # Then skips and dry runs are off, everything else on
    assert NoticeKind.SKIPPED not in sent
    assert NoticeKind.DRY_RUN not in sent
    assert {
        NoticeKind.ROLLED_BACK,
        NoticeKind.REFUSED,
        NoticeKind.FAILED,
        NoticeKind.HALTED,
        NoticeKind.NO_KNOWN_GOOD,
    } <= sent


def test_outbox_entries_keep_only_the_configured_kinds_and_carry_the_kind_attribute() -> None:
    # Given a configuration that sends rollbacks only, and a rollback and a skip
    only_rollbacks = settings(notify_on=frozenset({NoticeKind.ROLLED_BACK}))
    rollback = notification_for(rolled_back())
    skip = notification_for(rollback_record(outcome=Outcome.SKIPPED, code="rollback_in_flight"))

    # When writing them to the outbox
    entries = outbox_entries(only_rollbacks, SERVICE, NOW, rollback, skip)

    # Then only the rollback is stored, with the attributes filter policies match on
    assert [entry.key for entry in entries] == [rollback.key]
    assert entries[0].attributes == {
        "outcome": "ROLLED_BACK",
        "notice": "ROLLED_BACK",
        "cluster": "prod",
        "service": "web",
    }


def test_the_chat_form_is_an_amazon_q_custom_notification() -> None:
    # Given a rollback's stored notification
    entry = outbox_entries(settings(), SERVICE, NOW, notification_for(rolled_back()))[0]

    # When rendering it for a chat channel
    chat = json.loads(chat_message(entry.key, entry.subject, entry.message, entry.attributes))

    # Then it has the custom notification schema: version 1.0, source custom, Markdown content
    assert chat["version"] == "1.0"
    assert chat["source"] == "custom"
    assert chat["content"]["textType"] == "client-markdown"
    assert chat["content"]["title"] == "prod/web: rolled back (web:3 -> web:1)"
    description = chat["content"]["description"]
    assert "*From:* web:3 `9e8d7c6b5a4f` (ROLLED_BACK)" in description
    assert "*To:* web:1" in description
    assert "Fix checkout totals" in description
    assert "data migrations are not rolled back" in description
    assert chat["content"]["nextSteps"][0] == "`ecs-rollback history prod web`"
    # And it threads by rollback, names the service and keeps string-only context
    assert chat["metadata"]["threadId"] == entry.key
    assert chat["metadata"]["relatedResources"] == [SERVICE.arn]
    assert chat["metadata"]["eventType"] == "ROLLED_BACK"
    assert all(isinstance(value, str) for value in chat["metadata"]["additionalContext"].values())


@given(st.text(max_size=2_000), st.dictionaries(st.text(max_size=20), st.text(max_size=300), max_size=5))
@settings_(max_examples=50, deadline=None)
def test_the_chat_form_of_any_stored_message_is_bounded_json(
    message: str, attributes: dict[str, str]
) -> None:
    # Given any stored message (JSON or not) and attributes, the chat form is JSON within bounds
    chat = json.loads(chat_message("k" * 400, "s" * 400, message, attributes))
    assert len(chat["content"]["title"]) <= 250
    assert len(chat["content"]["description"]) <= 4_000
    assert len(chat["id"]) <= 256
