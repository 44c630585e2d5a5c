"""The synthesized rule patterns against the sample events, with a real EventBridge matcher.

The samples in tests/events/ come from the AWS documentation, with the documentation's accounts,
regions and ARNs. Each test synthesizes a stack in the sample's account and region (an explicit
environment) whose scope names the sample's service, resolves the pattern CloudFormation would
deploy, and matches it with moto's EventPattern, which implements EventBridge's semantics
(exact values, prefixes, arrays, nesting) offline.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from cdk_testkit import EVENTS, functions_by_name, load_event, resolve, resources, synthesize, with_config
from moto.events.models import EventPattern

ECS_SAMPLES = sorted(path.name for path in EVENTS.glob("ecs_deployment_*.json"))
ALARM_SAMPLES = sorted(path.name for path in EVENTS.glob("cloudwatch_alarm_*.json"))
ALARM_IN_ALARM = [name for name in ALARM_SAMPLES if load_event(name)["detail"]["state"]["value"] == "ALARM"]


def _environment(samples: list[str]) -> tuple[str, str]:
    environments = {(load_event(name)["account"], load_event(name)["region"]) for name in samples}
    assert len(environments) == 1, f"samples span several environments: {environments}"
    return environments.pop()


ECS_ACCOUNT, ECS_REGION = _environment(ECS_SAMPLES)
ALARM_ACCOUNT, ALARM_REGION = _environment(ALARM_SAMPLES)
SAMPLE_SERVICE_ARN = load_event(ECS_SAMPLES[0])["resources"][0]
SAMPLE_CLUSTER, SAMPLE_SERVICE = SAMPLE_SERVICE_ARN.split(":service/")[1].split("/")


def _pattern(context: dict[str, Any], function: str, account: str, region: str) -> EventPattern:
    template = synthesize(context, account=account, region=region).template
    logical_id, _ = functions_by_name(template)[function]
    (rule,) = [
        rule
        for rule in resources(template, "AWS::Events::Rule").values()
        if rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    ]
    pattern = resolve(rule["Properties"]["EventPattern"], account=account, region=region)
    return EventPattern.load(json.dumps(pattern))


def _matches(pattern: EventPattern, event: dict[str, Any]) -> bool:
    return bool(pattern.matches_event(event))


@pytest.fixture(scope="module")
def service_rule() -> EventPattern:
    """Scope: the sample's service as ``cluster/service``."""
    context = with_config(
        scope={"services": [f"{SAMPLE_CLUSTER}/{SAMPLE_SERVICE}"], "clusters": []},
        alarmLinks=[],
        taskDefinitionFamilies=None,
    )
    return _pattern(context, "DeploymentEvents", ECS_ACCOUNT, ECS_REGION)


@pytest.fixture(scope="module")
def cluster_rule() -> EventPattern:
    """Scope: the sample's whole cluster."""
    context = with_config(scope={"services": [], "clusters": [SAMPLE_CLUSTER]}, alarmLinks=[])
    return _pattern(context, "DeploymentEvents", ECS_ACCOUNT, ECS_REGION)


@pytest.fixture(scope="module")
def arn_rule() -> EventPattern:
    """Scope: the sample's service as a full ARN."""
    context = with_config(scope={"services": [SAMPLE_SERVICE_ARN], "clusters": []}, alarmLinks=[])
    return _pattern(context, "DeploymentEvents", ECS_ACCOUNT, ECS_REGION)


@pytest.mark.parametrize("sample", ECS_SAMPLES)
@pytest.mark.parametrize("rule", ["service_rule", "cluster_rule", "arn_rule"])
def test_every_ecs_deployment_sample_of_a_service_in_scope_matches(
    sample: str, rule: str, request: pytest.FixtureRequest
) -> None:
    # Given the rule of a stack whose scope holds the sample's service
    pattern = request.getfixturevalue(rule)

    # When the sample event arrives, then the rule matches
    assert _matches(pattern, load_event(sample))


def _near_miss(sample: str, **changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event(sample))
    for path, value in changes.items():
        node = event
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1].replace("_", "-") if keys[-1] == "detail_type" else keys[-1]] = value
    return event


ECS_NEAR_MISSES = {
    "another service": {"resources": [SAMPLE_SERVICE_ARN.rsplit("/", 1)[0] + "/other"]},
    "same name in another cluster": {
        "resources": [SAMPLE_SERVICE_ARN.replace(f"/{SAMPLE_CLUSTER}/", "/other/")]
    },
    "a cluster whose name extends the scope's": {
        "resources": [SAMPLE_SERVICE_ARN.replace(f"/{SAMPLE_CLUSTER}/", f"/{SAMPLE_CLUSTER}-2/")]
    },
    "another account": {"resources": [SAMPLE_SERVICE_ARN.replace(ECS_ACCOUNT, "999999999999")]},
    "another detail-type": {"detail_type": "ECS Service Action"},
    "another source": {"source": "aws.cloudwatch"},
    "a service action event name": {"detail__eventName": "SERVICE_STEADY_STATE"},
}


@pytest.mark.parametrize(
    ("rule", "change"),
    [
        (rule, change)
        for rule in ("service_rule", "cluster_rule", "arn_rule")
        for change in ECS_NEAR_MISSES
        # with the whole cluster in scope, another service of that cluster is not a near miss
        if not (rule == "cluster_rule" and change == "another service")
    ],
)
def test_near_misses_of_ecs_events_are_rejected(
    rule: str, change: str, request: pytest.FixtureRequest
) -> None:
    pattern = request.getfixturevalue(rule)
    event = _near_miss("ecs_deployment_completed.json", **ECS_NEAR_MISSES[change])

    assert not _matches(pattern, event), change


# ------------------------------------------------------------------------------------- alarms


def _alarm_names() -> list[str]:
    return [load_event(name)["detail"]["alarmName"] for name in ALARM_IN_ALARM]


@pytest.fixture(scope="module")
def linked_alarm_rule() -> EventPattern:
    """Links: the first sample alarm by exact name, the others by a prefix of their name."""
    names = _alarm_names()
    links = [{"alarm": names[0], "cluster": "prod", "service": "web"}]
    links += [{"alarm": name[:-2] + "*", "cluster": "prod", "service": "web"} for name in names[1:]]
    context = with_config(alarmLinks=links)
    return _pattern(context, "AlarmEvents", ALARM_ACCOUNT, ALARM_REGION)


@pytest.fixture(scope="module")
def prefix_only_rule() -> EventPattern:
    """No links; every sample alarm is named by ``alarmNamePrefixes``."""
    context = with_config(alarmLinks=[], alarmNamePrefixes=[name[:3] for name in _alarm_names()])
    return _pattern(context, "AlarmEvents", ALARM_ACCOUNT, ALARM_REGION)


@pytest.fixture(scope="module")
def any_alarm_rule() -> EventPattern:
    """No links and no prefixes: alarms linked by tags or dimensions, so every ALARM transition."""
    context = with_config(alarmLinks=[], alarmNamePrefixes=[])
    return _pattern(context, "AlarmEvents", ALARM_ACCOUNT, ALARM_REGION)


ALARM_RULES = ["linked_alarm_rule", "prefix_only_rule", "any_alarm_rule"]


@pytest.mark.parametrize("sample", ALARM_IN_ALARM)
@pytest.mark.parametrize("rule", ALARM_RULES)
def test_alarm_samples_entering_alarm_match(sample: str, rule: str, request: pytest.FixtureRequest) -> None:
    assert _matches(request.getfixturevalue(rule), load_event(sample))


@pytest.mark.parametrize("rule", ALARM_RULES)
def test_alarm_state_ok_is_rejected(rule: str, request: pytest.FixtureRequest) -> None:
    pattern = request.getfixturevalue(rule)
    for sample in ALARM_IN_ALARM:
        assert not _matches(pattern, _near_miss(sample, detail__state__value="OK"))
        assert not _matches(pattern, _near_miss(sample, detail__state__value="INSUFFICIENT_DATA"))
    for sample in set(ALARM_SAMPLES) - set(ALARM_IN_ALARM):
        assert not _matches(pattern, load_event(sample)), sample


ALARM_NEAR_MISSES = {
    "another detail-type": {"detail_type": "CloudWatch Alarm Configuration Change"},
    "another source": {"source": "aws.ecs"},
    "another account": {"account": "999999999999"},
}


@pytest.mark.parametrize("change", list(ALARM_NEAR_MISSES))
@pytest.mark.parametrize("rule", ALARM_RULES)
def test_near_misses_of_alarm_events_are_rejected(
    change: str, rule: str, request: pytest.FixtureRequest
) -> None:
    event = _near_miss(ALARM_IN_ALARM[0], **ALARM_NEAR_MISSES[change])

    assert not _matches(request.getfixturevalue(rule), event), change


@pytest.mark.parametrize("rule", ["linked_alarm_rule", "prefix_only_rule"])
def test_an_unlinked_alarm_name_is_rejected_when_names_are_configured(
    rule: str, request: pytest.FixtureRequest
) -> None:
    event = _near_miss(ALARM_IN_ALARM[0], detail__alarmName="zz-unrelated-alarm")

    assert not _matches(request.getfixturevalue(rule), event)


def test_an_exact_link_does_not_match_longer_names(linked_alarm_rule: EventPattern) -> None:
    exact = _alarm_names()[0]
    assert not _matches(linked_alarm_rule, _near_miss(ALARM_IN_ALARM[0], detail__alarmName=exact + "-2"))


# -------------------------------------------------------------------------------- ECR images

IMAGE_SAMPLE = "ecr_image_deleted.json"
IMAGE_ACCOUNT, IMAGE_REGION = _environment([IMAGE_SAMPLE])
IMAGE_REPOSITORY = load_event(IMAGE_SAMPLE)["detail"]["repository-name"]


def _repository_arn(name: str) -> str:
    return f"arn:aws:ecr:{IMAGE_REGION}:{IMAGE_ACCOUNT}:repository/{name}"


@pytest.fixture(scope="module")
def any_repository_rule() -> EventPattern:
    """No ``ecrRepositoryArns``: deletions in every repository."""
    return _pattern(with_config(ecrRepositoryArns=None), "ImageEvents", IMAGE_ACCOUNT, IMAGE_REGION)


@pytest.fixture(scope="module")
def repository_rule() -> EventPattern:
    """``ecrRepositoryArns`` names the sample's repository and another one."""
    arns = [_repository_arn(IMAGE_REPOSITORY), _repository_arn("api")]
    return _pattern(with_config(ecrRepositoryArns=arns), "ImageEvents", IMAGE_ACCOUNT, IMAGE_REGION)


@pytest.fixture(scope="module")
def repository_pattern_rule() -> EventPattern:
    """``ecrRepositoryArns`` with IAM wildcards: a prefix (``team/*``) and an inner ``*``."""
    arns = [_repository_arn(f"{IMAGE_REPOSITORY[:2]}*"), _repository_arn("team-*-images")]
    return _pattern(with_config(ecrRepositoryArns=arns), "ImageEvents", IMAGE_ACCOUNT, IMAGE_REGION)


IMAGE_RULES = ["any_repository_rule", "repository_rule", "repository_pattern_rule"]


@pytest.mark.parametrize("rule", IMAGE_RULES)
def test_the_image_deleted_sample_matches(rule: str, request: pytest.FixtureRequest) -> None:
    assert _matches(request.getfixturevalue(rule), load_event(IMAGE_SAMPLE))


IMAGE_NEAR_MISSES = {
    "a push": {"detail__action-type": "PUSH"},
    "a failed deletion": {"detail__result": "FAILURE"},
    "another detail-type": {"detail_type": "ECR Image Scan"},
    "another source": {"source": "aws.ecs"},
}


@pytest.mark.parametrize("change", list(IMAGE_NEAR_MISSES))
@pytest.mark.parametrize("rule", IMAGE_RULES)
def test_near_misses_of_image_events_are_rejected(
    change: str, rule: str, request: pytest.FixtureRequest
) -> None:
    event = _near_miss(IMAGE_SAMPLE, **IMAGE_NEAR_MISSES[change])

    assert not _matches(request.getfixturevalue(rule), event), change


@pytest.mark.parametrize("rule", ["repository_rule", "repository_pattern_rule"])
def test_a_deletion_in_another_repository_is_rejected_when_repositories_are_configured(
    rule: str, request: pytest.FixtureRequest
) -> None:
    # Given a rule narrowed to the configured repositories
    pattern = request.getfixturevalue(rule)

    # Then a deletion elsewhere (or in a repository whose name only contains the configured one) is not delivered
    for other in ("zz-other", f"x-{IMAGE_REPOSITORY}"):
        assert not _matches(pattern, _near_miss(IMAGE_SAMPLE, **{"detail__repository-name": other})), other


def test_any_repository_rule_takes_deletions_anywhere(any_repository_rule: EventPattern) -> None:
    event = _near_miss(IMAGE_SAMPLE, **{"detail__repository-name": "zz-other"})

    assert _matches(any_repository_rule, event)


def test_repository_wildcards_follow_iam(repository_pattern_rule: EventPattern) -> None:
    # "team-*-images" matches across "/" as IAM's "*" does
    for name in ("team-a-images", "team-a/b-images"):
        event = _near_miss(IMAGE_SAMPLE, **{"detail__repository-name": name})
        assert _matches(repository_pattern_rule, event), name
    assert not _matches(
        repository_pattern_rule, _near_miss(IMAGE_SAMPLE, **{"detail__repository-name": "team-a"})
    )


def test_a_repository_wildcard_for_every_repository_lifts_the_filter() -> None:
    # Given ecrRepositoryArns allowing every repository of the account
    pattern = _pattern(
        with_config(ecrRepositoryArns=[_repository_arn("*"), _repository_arn(IMAGE_REPOSITORY)]),
        "ImageEvents",
        IMAGE_ACCOUNT,
        IMAGE_REGION,
    )

    # Then no repository is filtered out
    assert _matches(pattern, _near_miss(IMAGE_SAMPLE, **{"detail__repository-name": "zz-other"}))
