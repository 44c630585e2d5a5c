"""Events become typed models at the edge: the AWS samples parse, near misses and bad requests do not."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from ecs_rollback.domain.errors import InvalidRequest
from ecs_rollback.domain.model import RevisionId, ServiceId
from ecs_rollback.domain.targets import GitShaTarget, LastGood, RevisionTarget
from ecs_rollback.events.bake_timer import BakeTimerPayload
from ecs_rollback.events.cloudwatch_alarm import AlarmStateChangeEvent
from ecs_rollback.events.ecr_image import EcrImageActionEvent
from ecs_rollback.events.ecs_deployment import EcsDeploymentEvent
from ecs_rollback.events.manual import MAX_PAYLOAD_BYTES
from ecs_rollback.services.manual import parse_request
from tests.unit.builders import EVENTS, load_event
from tests.unit.test_release_gate import LIFECYCLE_HOOK_SAMPLES

ECS_SERVICE = ServiceId("aws", "us-west-2", "111122223333", "default", "servicetest")

# -- ECS deployment events ----------------------------------------------------------------------

ECS_SAMPLES = {
    "ecs_deployment_in_progress.json": ("SERVICE_DEPLOYMENT_IN_PROGRESS", "INFO", "ecs-svc/123", None),
    "ecs_deployment_completed.json": ("SERVICE_DEPLOYMENT_COMPLETED", "INFO", "ecs-svc/123", None),
    "ecs_deployment_failed.json": ("SERVICE_DEPLOYMENT_FAILED", "ERROR", "ecs-svc/123", None),
    "ecs_deployment_failed_circuit_breaker_rollback.json": (
        "SERVICE_DEPLOYMENT_FAILED",
        "ERROR",
        "ecs-svc/123",
        "ecs-svc/456",
    ),
    "ecs_deployment_in_progress_ecs_rollback.json": (
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "INFO",
        "ecs-svc/789",
        "ecs-svc/456",
    ),
}


@pytest.mark.parametrize(
    ("sample", "event_name", "event_type", "deployment_id", "rolling_back_to"),
    [(name, *fields) for name, fields in ECS_SAMPLES.items()],
    ids=ECS_SAMPLES.keys(),
)
def test_ecs_samples_parse(
    sample: str, event_name: str, event_type: str, deployment_id: str, rolling_back_to: str | None
) -> None:
    # Given an ECS Deployment State Change sample from the AWS documentation
    raw = load_event(sample)

    # When parsing it
    event = EcsDeploymentEvent.model_validate(raw)

    # Then its fields are typed and the service and ECS's own rollback are recognised
    assert event.detail.event_name == event_name
    assert event.detail.event_type == event_type
    assert event.detail.deployment_id == deployment_id
    assert event.detail.ecs_rollback_source == rolling_back_to
    assert event.service == ECS_SERVICE
    assert event.detail.updated_at.tzinfo is not None
    assert event.time.tzinfo is not None


def test_every_sample_file_is_covered() -> None:
    # Given the sample events kept in the repository
    names = {path.name for path in EVENTS.glob("*.json")}

    # When comparing with the samples these tests parse
    covered = (
        set(ECS_SAMPLES)
        | set(ALARM_SAMPLES)
        | {"manual_rollback_request.json", "ecr_image_deleted.json"}
        | set(LIFECYCLE_HOOK_SAMPLES)  # tests/unit/test_release_gate.py
        | {"ecs_hook_awaiting_action.json"}  # tests/unit/test_pause_hooks.py
        | {"codedeploy_deployment_success.json"}  # tests/unit/test_codedeploy_events.py
    )

    # Then none is left untested
    assert names == covered


ROLLBACK_REASONS = {
    "circuit breaker": (
        "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/456.",
        "ecs-svc/456",
    ),
    "deployment alarms": (
        "ECS deployment alarms: rolling back to deploymentId ecs-svc/8129812934823.",
        "ecs-svc/8129812934823",
    ),
    "no final period": ("rolling back to deploymentId ecs-svc/42", "ecs-svc/42"),
    "not a rollback": ("ECS deployment ecs-svc/1 completed.", None),
    "empty": ("", None),
}


@pytest.mark.parametrize(("reason", "expected"), ROLLBACK_REASONS.values(), ids=ROLLBACK_REASONS.keys())
def test_ecs_rollback_source_from_reason(reason: str, expected: str | None) -> None:
    # Given a deployment event whose reason says (or not) that ECS rolls back
    raw = load_event("ecs_deployment_failed.json")
    raw["detail"]["reason"] = reason

    # When parsing it
    event = EcsDeploymentEvent.model_validate(raw)

    # Then the deployment ECS rolls back to is read from the reason
    assert event.detail.ecs_rollback_source == expected


def _without(path: list[str]) -> Any:
    def edit(raw: dict[str, Any]) -> None:
        target = raw
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return edit


def _set(path: list[str], value: Any) -> Any:
    def edit(raw: dict[str, Any]) -> None:
        target = raw
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


ECS_NEAR_MISSES = {
    "wrong source": _set(["source"], "aws.ec2"),
    "wrong detail-type": _set(["detail-type"], "ECS Service Action"),
    "missing deploymentId": _without(["detail", "deploymentId"]),
    "empty deploymentId": _set(["detail", "deploymentId"], ""),
    "unknown eventName": _set(["detail", "eventName"], "SERVICE_STEADY_STATE"),
    "unknown eventType": _set(["detail", "eventType"], "DEBUG"),
    "resources name only a cluster": _set(
        ["resources"], ["arn:aws:ecs:us-west-2:111122223333:cluster/default"]
    ),
    "resources empty": _set(["resources"], []),
    "missing detail": _without(["detail"]),
    "updatedAt not a time": _set(["detail", "updatedAt"], "yesterday"),
    "oversized reason": _set(["detail", "reason"], "x" * 5000),
    "service of another region": _set(
        ["resources"], ["arn:aws:ecs:eu-west-1:111122223333:service/default/servicetest"]
    ),
    "service of another account": _set(
        ["resources"], ["arn:aws:ecs:us-west-2:999999999999:service/default/servicetest"]
    ),
    "lone surrogate in the id": _set(["id"], "event-\ud800"),
    "lone surrogate in the reason": _set(["detail", "reason"], "broke \udfff here"),
    "lone surrogate in a key": _set(["detail", "\udc00"], "x"),
    "oversized id": _set(["id"], "e" * 129),
}


@pytest.mark.parametrize("edit", ECS_NEAR_MISSES.values(), ids=ECS_NEAR_MISSES.keys())
def test_ecs_near_misses_fail_validation(edit: Any) -> None:
    # Given a valid sample with one thing wrong
    raw = load_event("ecs_deployment_failed.json")
    edit(raw)

    # When parsing it, then validation fails
    with pytest.raises(ValidationError):
        EcsDeploymentEvent.model_validate(raw)


def test_ecs_event_names_the_service_of_its_own_account_and_region() -> None:
    # Given an event whose resources list another region's service before its own
    raw = load_event("ecs_deployment_failed.json")
    raw["resources"] = ["arn:aws:ecs:eu-west-1:111122223333:service/default/servicetest", ECS_SERVICE.arn]

    # When parsing it
    event = EcsDeploymentEvent.model_validate(raw)

    # Then the service is the one of the event's own account and region
    assert event.service == ECS_SERVICE


def test_alarm_event_with_a_lone_surrogate_is_refused() -> None:
    # Given an alarm event whose alarm name carries a lone surrogate (JSON can say "\ud83d")
    raw = load_event("cloudwatch_alarm_metric_alarm.json")
    raw["detail"]["alarmName"] = "web-5xx-\ud83d"

    # When parsing it, then it is refused, naming the field
    with pytest.raises(ValidationError, match=r"detail\.alarmName holds a lone UTF-16 surrogate"):
        AlarmStateChangeEvent.model_validate(raw)


def test_ecs_event_ignores_unknown_fields() -> None:
    # Given a sample with an attribute AWS may add one day
    raw = load_event("ecs_deployment_completed.json")
    raw["detail"]["newAttribute"] = {"x": 1}

    # When parsing it
    event = EcsDeploymentEvent.model_validate(raw)

    # Then it still parses
    assert event.detail.event_name == "SERVICE_DEPLOYMENT_COMPLETED"


# -- CloudWatch alarm events --------------------------------------------------------------------

ALARM_SAMPLES = {
    "cloudwatch_alarm_metric_alarm.json": ("ServerCpuTooHigh", "ALARM", False),
    "cloudwatch_alarm_composite_alarm.json": ("ServiceAggregatedAlarm", "ALARM", True),
    "cloudwatch_alarm_ecs_service_dimensions.json": ("web-cpu-high", "ALARM", False),
    "cloudwatch_alarm_ok.json": ("web-cpu-high", "OK", False),
    "cloudwatch_alarm_with_tags.json": ("checkout-5xx-rate", "ALARM", False),
}


@pytest.mark.parametrize(
    ("sample", "name", "value", "composite"),
    [(name, *fields) for name, fields in ALARM_SAMPLES.items()],
    ids=ALARM_SAMPLES.keys(),
)
def test_alarm_samples_parse(sample: str, name: str, value: str, composite: bool) -> None:
    # Given a CloudWatch Alarm State Change sample
    raw = load_event(sample)

    # When parsing it
    event = AlarmStateChangeEvent.model_validate(raw)

    # Then name, state, kind and ARN are read
    assert event.detail.alarm_name == name
    assert event.detail.state.value == value
    assert event.detail.configuration.is_composite is composite
    assert event.alarm_arn == raw["resources"][0]
    assert event.state_changed_at.tzinfo == UTC


def test_cloudwatch_timestamps_without_colon_in_the_offset() -> None:
    # Given CloudWatch's "+0000" timestamps
    raw = load_event("cloudwatch_alarm_metric_alarm.json")

    # When parsing
    event = AlarmStateChangeEvent.model_validate(raw)

    # Then they are exact, time-zone aware instants
    assert event.state_changed_at == datetime(2019, 10, 2, 17, 4, 40, 989000, tzinfo=UTC)
    assert event.detail.previous_state is not None
    assert event.detail.previous_state.timestamp == datetime(2019, 10, 1, 13, 56, 40, 987000, tzinfo=UTC)


def test_other_offsets_are_converted_to_utc() -> None:
    # Given a timestamp with a non-zero offset in CloudWatch's format
    raw = load_event("cloudwatch_alarm_metric_alarm.json")
    raw["detail"]["state"]["timestamp"] = "2019-10-02T19:04:40.989+0200"

    # When parsing
    event = AlarmStateChangeEvent.model_validate(raw)

    # Then the instant is kept and given in UTC
    assert event.state_changed_at == datetime(2019, 10, 2, 17, 4, 40, 989000, tzinfo=UTC)


def test_alarm_tags_in_the_event() -> None:
    # Given an alarm event that carries the alarm's tags
    event = AlarmStateChangeEvent.model_validate(load_event("cloudwatch_alarm_with_tags.json"))

    # When reading them
    detail = event.detail

    # Then they are complete and readable
    assert detail.tags_complete is True
    assert detail.alarm_tags == {
        "ecs-rollback:cluster": "prod",
        "ecs-rollback:service": "checkout",
        "team": "payments",
    }


@pytest.mark.parametrize(
    ("tags", "status", "complete"),
    [
        (None, None, False),
        ({}, None, True),
        ({"a": "b"}, "SUCCESS", True),
        ({"a": "b"}, "TRUNCATED", False),
        ({"a": "b"}, "FAILED", False),
    ],
    ids=["no tags", "empty tags, no status", "success", "truncated", "failed"],
)
def test_tags_complete(tags: dict[str, str] | None, status: str | None, complete: bool) -> None:
    # Given an alarm event with or without tags, and CloudWatch's status of the tag list
    raw = load_event("cloudwatch_alarm_metric_alarm.json")
    if tags is not None:
        raw["detail"]["alarmTags"] = tags
    if status is not None:
        raw["detail"]["alarmTagsStatus"] = status

    # When parsing
    detail = AlarmStateChangeEvent.model_validate(raw).detail

    # Then the tags are trusted only when they came whole
    assert detail.tags_complete is complete


def test_dimension_lookup() -> None:
    # Given alarms on an ECS service metric, on an EC2 metric and a composite alarm
    ecs = AlarmStateChangeEvent.model_validate(load_event("cloudwatch_alarm_ecs_service_dimensions.json"))
    ec2 = AlarmStateChangeEvent.model_validate(load_event("cloudwatch_alarm_metric_alarm.json"))
    composite = AlarmStateChangeEvent.model_validate(load_event("cloudwatch_alarm_composite_alarm.json"))

    # When looking up dimensions
    found = (
        ecs.detail.configuration.dimension("ClusterName"),
        ecs.detail.configuration.dimension("ServiceName"),
        ec2.detail.configuration.dimension("ClusterName"),
        ec2.detail.configuration.dimension("InstanceId"),
        composite.detail.configuration.dimension("ClusterName"),
    )

    # Then each is found where it exists
    assert found == ("prod", "web", None, "i-12345678901234567", None)


def test_dimension_lookup_skips_expression_metrics() -> None:
    # Given a metric-math alarm: an expression first, then the metric it reads
    raw = load_event("cloudwatch_alarm_ecs_service_dimensions.json")
    metrics = raw["detail"]["configuration"]["metrics"]
    metrics.insert(0, {"id": "e1", "expression": "m1 * 100", "returnData": True})

    # When looking up a dimension
    configuration = AlarmStateChangeEvent.model_validate(raw).detail.configuration

    # Then it is found on the metric
    assert configuration.dimension("ServiceName") == "web"


def test_alarm_arn_when_resources_lack_it() -> None:
    # Given an alarm event whose resources are empty
    raw = load_event("cloudwatch_alarm_metric_alarm.json")
    raw["resources"] = []

    # When reading the alarm ARN
    event = AlarmStateChangeEvent.model_validate(raw)

    # Then it is built from region, account and name
    assert event.alarm_arn == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh"


ALARM_NEAR_MISSES = {
    "wrong source": _set(["source"], "aws.ecs"),
    "wrong detail-type": _set(["detail-type"], "CloudWatch Alarm Configuration Change"),
    "missing alarmName": _without(["detail", "alarmName"]),
    "empty alarmName": _set(["detail", "alarmName"], ""),
    "unknown state": _set(["detail", "state", "value"], "ALARMING"),
    "missing state": _without(["detail", "state"]),
    "timestamp not a time": _set(["detail", "state", "timestamp"], "soon"),
}


@pytest.mark.parametrize("edit", ALARM_NEAR_MISSES.values(), ids=ALARM_NEAR_MISSES.keys())
def test_alarm_near_misses_fail_validation(edit: Any) -> None:
    # Given a valid alarm sample with one thing wrong
    raw = load_event("cloudwatch_alarm_ecs_service_dimensions.json")
    edit(raw)

    # When parsing it, then validation fails
    with pytest.raises(ValidationError):
        AlarmStateChangeEvent.model_validate(raw)


# -- bake timer ---------------------------------------------------------------------------------


def test_bake_timer_payload() -> None:
    # Given what the scheduler delivers
    payload = {
        "service_arn": ECS_SERVICE.arn,
        "deployment_id": "ecs-svc/123",
        "due_at": "2026-11-02T12:10:00.000000Z",
    }

    # When parsing it
    parsed = BakeTimerPayload.model_validate(payload)

    # Then the service and due time are read; anything else is refused
    assert parsed.service == ECS_SERVICE
    assert parsed.due_at == datetime(2026, 11, 2, 12, 10, tzinfo=UTC)
    with pytest.raises(ValidationError):
        BakeTimerPayload.model_validate({**payload, "extra": 1})
    with pytest.raises(ValidationError):
        BakeTimerPayload.model_validate({**payload, "service_arn": "arn:aws:ecs:us-west-2:1:cluster/x"})


# -- the manual rollback request ----------------------------------------------------------------

VALID_REQUEST: dict[str, Any] = json.loads((EVENTS / "manual_rollback_request.json").read_text())


def test_manual_sample_parses() -> None:
    # Given the documented manual request

    # When parsing it as an object and as JSON text
    as_object = parse_request(VALID_REQUEST)
    as_text = parse_request(json.dumps(VALID_REQUEST))
    as_bytes = parse_request(json.dumps(VALID_REQUEST).encode())

    # Then every field is read, and the target is last-good
    assert as_object == as_text == as_bytes
    assert as_object.cluster_name == "prod"
    assert as_object.service == "web"
    assert as_object.reason == "5xx spike after deploy"
    assert as_object.requested_by == "arn:aws:iam::123456789012:user/oncall"
    assert (as_object.dry_run, as_object.force) == (False, False)
    assert as_object.target_spec == LastGood()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"target": "web:41"}, RevisionTarget(RevisionId("web", 41))),
        ({"target": "3F2C1AB"}, GitShaTarget("3f2c1ab")),
    ],
    ids=["revision", "git sha"],
)
def test_manual_targets(changes: dict[str, Any], expected: object) -> None:
    # Given a request naming a target
    request = {**VALID_REQUEST, **changes}

    # When parsing it
    parsed = parse_request(request)

    # Then the target is understood
    assert parsed.target_spec == expected


def test_manual_request_defaults_and_cluster_arn() -> None:
    # Given a minimal request naming the cluster by ARN
    request = {
        "cluster": "arn:aws:ecs:eu-west-1:210987654321:cluster/prod",
        "service": "web",
        "reason": "bad deploy",
        "requested_by": "oncall@example.com",
    }

    # When parsing it
    parsed = parse_request(request)

    # Then the defaults apply and the cluster name is read from the ARN
    assert parsed.target == "last-good"
    assert (parsed.dry_run, parsed.force) == (False, False)
    assert parsed.cluster_name == "prod"


def _request(**changes: Any) -> dict[str, Any]:
    request = copy.deepcopy(VALID_REQUEST)
    for key, value in changes.items():
        if value is _MISSING:
            del request[key]
        else:
            request[key] = value
    return request


_MISSING = object()

MALFORMED: dict[str, tuple[object, str]] = {
    "a number": (42, "invalid_request"),
    "null": (None, "invalid_request"),
    "a list": ([VALID_REQUEST], "invalid_request"),
    "JSON text of a list": (json.dumps([VALID_REQUEST]), "invalid_request"),
    "a string that is not JSON": ("roll back web please", "invalid_json"),
    "bytes that are not UTF-8": (b"\xff\xfe{", "invalid_json"),
    "missing reason": (_request(reason=_MISSING), "missing_field"),
    "missing service": (_request(service=_MISSING), "missing_field"),
    "empty reason": (_request(reason=""), "invalid_field"),
    "blank reason": (_request(reason="   "), "invalid_field"),
    "reason too long": (_request(reason="x" * 1025), "invalid_field"),
    "unknown field": (_request(targt="web:1"), "unknown_field"),
    "dry_run as the string yes": (_request(dry_run="yes"), "invalid_field"),
    "dry_run as the string true": (_request(dry_run="true"), "invalid_field"),
    "force as 1": (_request(force=1), "invalid_field"),
    "requested_by a number": (_request(requested_by=12), "invalid_field"),
    "target latest": (_request(target="latest"), "invalid_target"),
    "target family without revision": (_request(target="web"), "invalid_target"),
    "service with spaces": (_request(service="my web"), "invalid_field"),
    "service with a slash": (_request(service="prod/web"), "invalid_field"),
    "oversized object": (_request(reason="x" * (MAX_PAYLOAD_BYTES + 1)), "payload_too_large"),
    "oversized text": (" " * (MAX_PAYLOAD_BYTES + 1) + json.dumps(VALID_REQUEST), "payload_too_large"),
    "empty cluster": (_request(cluster=""), "invalid_field"),
    "cluster with spaces and punctuation": (_request(cluster="prod cluster!"), "invalid_field"),
    "cluster ARN of another resource": (_request(cluster="arn:aws:ecs:us-east-1"), "invalid_field"),
}


@pytest.mark.parametrize(("payload", "code"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_manual_requests(payload: object, code: str) -> None:
    # Given a malformed manual request

    # When parsing it
    with pytest.raises(InvalidRequest) as raised:
        parse_request(payload)

    # Then it is refused with its exact code and a short message saying what to fix
    assert raised.value.code == code
    assert raised.value.message
    assert len(raised.value.message) < 600


def test_ecr_image_delete_sample_parses() -> None:
    # Given ECR's sample event for a deleted image
    raw = load_event("ecr_image_deleted.json")

    # When parsed
    event = EcrImageActionEvent.model_validate(raw)

    # Then the repository, digest and action are typed
    assert event.detail.action_type == "DELETE"
    assert event.detail.repository_name == "web"
    assert event.detail.image_digest.startswith("sha256:")


@pytest.mark.parametrize(
    "change",
    [
        {"image-digest": "sha256:short"},
        {"image-digest": "md5:" + "0" * 64},
        {"repository-name": "Web Repo"},
        {"action-type": "TAG"},
        {"image-tag": "x" * 301},
    ],
    ids=["short digest", "other algorithm", "repository name with a space", "unknown action", "huge tag"],
)
def test_malformed_ecr_image_events_are_refused(change: dict[str, str]) -> None:
    # Given the sample with one field that is not what ECR sends
    raw = load_event("ecr_image_deleted.json")
    raw["detail"].update(change)

    # When parsed, then it is refused (the handler answers a refusal, never retried)
    with pytest.raises(ValidationError):
        EcrImageActionEvent.model_validate(raw)
