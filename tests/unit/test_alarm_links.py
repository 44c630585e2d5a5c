"""Which service an alarm speaks for: configuration > alarm tags > ECS dimensions > ListTagsForResource."""

from __future__ import annotations

from typing import Any

import pytest

from ecs_rollback.config import AlarmLink, Scope, Settings
from ecs_rollback.domain.model import ServiceId
from ecs_rollback.events.cloudwatch_alarm import AlarmStateChangeEvent
from ecs_rollback.services.alarm_links import CLUSTER_TAG, SERVICE_TAG, Link, alarms_of, link_alarm
from tests.unit.builders import ACCOUNT, REGION, FakeAlarms, load_event, settings

LINKED_TAGS = {CLUSTER_TAG: "prod", SERVICE_TAG: "from-api"}


def settings_with(*links: AlarmLink) -> Settings:
    return settings(scope=Scope(clusters=("prod",)), alarm_links=links)


def service(name: str, cluster: str = "prod", partition: str = "aws") -> ServiceId:
    return ServiceId(partition, REGION, ACCOUNT, cluster, name)


def event(sample: str, **detail_changes: Any) -> AlarmStateChangeEvent:
    raw = load_event(sample)
    raw["detail"].update(detail_changes)
    return AlarmStateChangeEvent.model_validate(raw)


def test_configuration_wins_over_tags_and_dimensions() -> None:
    # Given an alarm with ecs-rollback tags and ECS dimensions, and a configured link for it
    alarm = event(
        "cloudwatch_alarm_ecs_service_dimensions.json",
        alarmTags={CLUSTER_TAG: "prod", SERVICE_TAG: "from-tags"},
        alarmTagsStatus="SUCCESS",
    )
    alarms = FakeAlarms(tags_by_arn={alarm.alarm_arn: LINKED_TAGS})

    # When linking it
    links = link_alarm(
        settings_with(AlarmLink(alarm="web-*", cluster="prod", service="from-config")), alarms, alarm
    )

    # Then the configuration decides, and CloudWatch is not asked
    assert links == [Link(service("from-config"), "configuration")]
    assert alarms.tag_calls == []


def test_every_matching_configured_link_is_returned() -> None:
    # Given two links matching one alarm, and one that does not
    alarm = event("cloudwatch_alarm_ecs_service_dimensions.json")
    configured = settings_with(
        AlarmLink(alarm="web-cpu-high", cluster="prod", service="web"),
        AlarmLink(alarm="web-*", cluster="prod", service="web-worker"),
        AlarmLink(alarm="api-*", cluster="prod", service="api"),
    )

    # When linking it
    links = link_alarm(configured, FakeAlarms(), alarm)

    # Then both matching services are linked
    assert links == [Link(service("web"), "configuration"), Link(service("web-worker"), "configuration")]


def test_tags_in_the_event_win_over_dimensions() -> None:
    # Given an alarm with ECS dimensions and complete ecs-rollback tags naming another service
    alarm = event(
        "cloudwatch_alarm_ecs_service_dimensions.json",
        alarmTags={CLUSTER_TAG: "prod", SERVICE_TAG: "from-tags", "team": "web"},
        alarmTagsStatus="SUCCESS",
    )
    alarms = FakeAlarms()

    # When linking it with no configured link
    links = link_alarm(settings_with(), alarms, alarm)

    # Then the tags decide, without asking CloudWatch
    assert links == [Link(service("from-tags"), "alarm tags")]
    assert alarms.tag_calls == []


def test_tags_sample_links_by_tags() -> None:
    # Given the sample alarm event that carries its tags
    alarm = event("cloudwatch_alarm_with_tags.json")
    alarms = FakeAlarms()

    # When linking it
    links = link_alarm(settings_with(), alarms, alarm)

    # Then it is linked to prod/checkout by its tags
    assert links == [Link(service("checkout"), "alarm tags")]
    assert alarms.tag_calls == []


def test_dimensions_when_there_are_no_tags() -> None:
    # Given an ECS metric alarm whose event carries no tags
    alarm = event("cloudwatch_alarm_ecs_service_dimensions.json")
    alarms = FakeAlarms(tags_by_arn={alarm.alarm_arn: LINKED_TAGS})

    # When linking it
    links = link_alarm(settings_with(), alarms, alarm)

    # Then the ClusterName/ServiceName dimensions decide, and CloudWatch is not asked
    assert links == [Link(service("web"), "metric dimensions")]
    assert alarms.tag_calls == []


def test_list_tags_for_resource_only_when_nothing_else_links() -> None:
    # Given an EC2 metric alarm whose event carries no tags, tagged for prod/from-api in CloudWatch
    alarm = event("cloudwatch_alarm_metric_alarm.json")
    alarms = FakeAlarms(tags_by_arn={alarm.alarm_arn: LINKED_TAGS})

    # When linking it
    links = link_alarm(settings_with(), alarms, alarm)

    # Then CloudWatch is asked once, for that alarm, and its tags decide
    assert links == [Link(service("from-api"), "alarm tags")]
    assert alarms.tag_calls == [alarm.alarm_arn]


def test_truncated_tags_in_the_event_are_not_trusted() -> None:
    # Given an event whose tag list CloudWatch reports as incomplete
    alarm = event(
        "cloudwatch_alarm_metric_alarm.json",
        alarmTags={CLUSTER_TAG: "prod", SERVICE_TAG: "partial"},
        alarmTagsStatus="TRUNCATED",
    )
    alarms = FakeAlarms(tags_by_arn={alarm.alarm_arn: LINKED_TAGS})

    # When linking it
    links = link_alarm(settings_with(), alarms, alarm)

    # Then CloudWatch's full tag list decides
    assert links == [Link(service("from-api"), "alarm tags")]
    assert alarms.tag_calls == [alarm.alarm_arn]


def test_complete_tags_without_ecs_rollback_tags_do_not_ask_cloudwatch() -> None:
    # Given an EC2 alarm whose event carries its whole (unrelated) tag list
    alarm = event(
        "cloudwatch_alarm_metric_alarm.json", alarmTags={"team": "infra"}, alarmTagsStatus="SUCCESS"
    )
    alarms = FakeAlarms(tags_by_arn={alarm.alarm_arn: LINKED_TAGS})

    # When linking it
    links = link_alarm(settings_with(), alarms, alarm)

    # Then it links to nothing, and no API call is made: the event already said everything
    assert links == []
    assert alarms.tag_calls == []


@pytest.mark.parametrize(
    "tags",
    [{CLUSTER_TAG: "prod"}, {SERVICE_TAG: "web"}, {}],
    ids=["cluster tag only", "service tag only", "no tags"],
)
def test_half_tagged_alarm_is_not_linked(tags: dict[str, str]) -> None:
    # Given an EC2 alarm tagged with at most one of the two ecs-rollback tags
    alarm = event("cloudwatch_alarm_metric_alarm.json")
    alarms = FakeAlarms(tags_by_arn={alarm.alarm_arn: tags})

    # When linking it
    links = link_alarm(settings_with(), alarms, alarm)

    # Then it is linked to nothing
    assert links == []


def test_composite_alarm_by_configuration() -> None:
    # Given the composite alarm with a configured link
    alarm = event("cloudwatch_alarm_composite_alarm.json")
    alarms = FakeAlarms()

    # When linking it
    links = link_alarm(
        settings_with(AlarmLink(alarm="ServiceAggregatedAlarm", cluster="prod", service="web")), alarms, alarm
    )

    # Then the configuration links it
    assert links == [Link(service("web"), "configuration")]
    assert alarms.tag_calls == []


def test_composite_alarm_by_tags() -> None:
    # Given the composite alarm tagged in CloudWatch (its event carries no tags)
    alarm = event("cloudwatch_alarm_composite_alarm.json")
    alarms = FakeAlarms(tags_by_arn={alarm.alarm_arn: LINKED_TAGS})

    # When linking it
    links = link_alarm(settings_with(), alarms, alarm)

    # Then its tags link it
    assert links == [Link(service("from-api"), "alarm tags")]


def test_composite_alarm_without_configuration_or_tags_is_not_linked() -> None:
    # Given the composite alarm, untagged and not configured (it has no metric dimensions)
    alarm = event("cloudwatch_alarm_composite_alarm.json")
    alarms = FakeAlarms()

    # When linking it
    links = link_alarm(settings_with(), alarms, alarm)

    # Then it links to nothing
    assert links == []


def test_partition_comes_from_the_alarm_arn() -> None:
    # Given an alarm in the China partition
    raw = load_event("cloudwatch_alarm_ecs_service_dimensions.json")
    raw["resources"] = ["arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:web-cpu-high"]
    raw["region"] = "cn-north-1"
    alarm = AlarmStateChangeEvent.model_validate(raw)

    # When linking it
    links = link_alarm(settings_with(), FakeAlarms(), alarm)

    # Then the service ARN is in that partition and region
    assert [link.service.arn for link in links] == ["arn:aws-cn:ecs:cn-north-1:123456789012:service/prod/web"]


def test_alarms_of_a_service() -> None:
    # Given exact and prefix links, and alarms seen linked before
    configured = settings_with(
        AlarmLink(alarm="web-5xx", cluster="prod", service="web"),
        AlarmLink(alarm="web-*", cluster="prod", service="web"),
        AlarmLink(alarm="api-5xx", cluster="prod", service="api"),
    )
    seen = ("web-cpu-high", "web-5xx")

    # When listing the alarms that speak for prod/web
    names = alarms_of(configured, service("web"), seen)

    # Then exact configured names and seen names are listed once each, prefixes are not names
    assert names == ["web-5xx", "web-cpu-high"]


def test_a_dimension_or_tag_that_is_no_ecs_name_links_no_service() -> None:
    from ecs_rollback.services.alarm_links import _names_a_service

    assert _names_a_service("prod", "web")
    assert not _names_a_service("prod", "x" * 300_000)  # a 300 KB dimension value
    assert not _names_a_service("prod", "web\n")
    assert not _names_a_service("prod/../x", "web")
    assert not _names_a_service("prod", None)
