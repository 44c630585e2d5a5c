"""Which service an alarm speaks for: stack configuration, alarm tags, or ECS metric dimensions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ecs_rollback.config import Settings
from ecs_rollback.domain.model import ServiceId
from ecs_rollback.events.cloudwatch_alarm import AlarmStateChangeEvent
from ecs_rollback.ports import AlarmGateway

CLUSTER_TAG = "ecs-rollback:cluster"
SERVICE_TAG = "ecs-rollback:service"
# What ECS accepts as a cluster or service name: a tag or a dimension naming anything else names
# no service (a 300 KB dimension value, control characters, a path).
_ECS_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}\Z", re.ASCII)


def _names_a_service(cluster: str | None, name: str | None) -> bool:
    return bool(cluster and name and _ECS_NAME.match(cluster) and _ECS_NAME.match(name))


@dataclass(frozen=True)
class Link:
    service: ServiceId
    via: str  # "configuration", "alarm tags", "metric dimensions"


def _partition(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1].startswith("aws") else "aws"


def link_alarm(settings: Settings, alarms: AlarmGateway, event: AlarmStateChangeEvent) -> list[Link]:
    """Every service the alarm is linked to, by the first source that names any."""
    detail = event.detail
    partition = _partition(event.alarm_arn)

    def service(cluster: str, name: str) -> ServiceId:
        return ServiceId(partition, event.region, event.account, cluster, name)

    configured = [
        Link(service(link.cluster, link.service), "configuration")
        for link in settings.alarm_links
        if link.matches(detail.alarm_name)
    ]
    if configured:
        return configured
    tags = (detail.alarm_tags or {}) if detail.tags_complete else {}
    if _names_a_service(tags.get(CLUSTER_TAG), tags.get(SERVICE_TAG)):
        return [Link(service(tags[CLUSTER_TAG], tags[SERVICE_TAG]), "alarm tags")]
    cluster = detail.configuration.dimension("ClusterName")
    name = detail.configuration.dimension("ServiceName")
    if cluster and name and _names_a_service(cluster, name):
        return [Link(service(cluster, name), "metric dimensions")]
    if not detail.tags_complete:
        # The event carried no (or truncated) tags: ask CloudWatch.
        tags = alarms.tags(event.alarm_arn)
        if _names_a_service(tags.get(CLUSTER_TAG), tags.get(SERVICE_TAG)):
            return [Link(service(tags[CLUSTER_TAG], tags[SERVICE_TAG]), "alarm tags")]
    return []


def alarms_of(settings: Settings, service: ServiceId, seen: tuple[str, ...]) -> list[str]:
    """Alarm names known to speak for a service: exact configured links, and every alarm seen linked."""
    names = {
        link.alarm
        for link in settings.alarm_links
        if not link.is_prefix and (link.cluster, link.service) == (service.cluster, service.name)
    }
    return sorted(names | set(seen))
