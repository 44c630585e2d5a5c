"""Runtime configuration: one pydantic model, validated once at cold start.

The CDK construct writes the functions' environment from the same models (``Scope``,
``AlarmLink``, ``Settings``) through ``contract.to_environment``, so what synth validates is what
the functions read. Only the composition root reads ``os.environ``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, ClassVar, overload

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ecs_rollback.domain.model import ServiceId
from ecs_rollback.domain.notices import NoticeKind

_NAME = r"[A-Za-z0-9_-]{1,255}"
SERVICE_ARN_RE = re.compile(
    rf"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{{12}}:service/(?P<cluster>{_NAME})/(?P<service>{_NAME})$"
)
SERVICE_REF_RE = re.compile(rf"^(?P<cluster>{_NAME})/(?P<service>{_NAME})$")
CLUSTER_RE = re.compile(rf"^{_NAME}$")


class _Duration:
    """The setting ``<name>_seconds`` as the timedelta the code computes with, read as ``<name>``."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._seconds = f"{name}_seconds"

    @overload
    def __get__(self, settings: None, owner: type) -> _Duration: ...

    @overload
    def __get__(self, settings: object, owner: type | None = None) -> timedelta: ...

    def __get__(self, settings: object, owner: type | None = None) -> Any:
        return self if settings is None else timedelta(seconds=getattr(settings, self._seconds))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Scope(_Strict):
    """Which services the rollback service may act on.

    ``services`` holds ``cluster/service`` names or full service ARNs; ``clusters`` puts every
    service of a cluster in scope. At least one of the two must be non-empty: a service that
    watches nothing is a misconfiguration, not a default.
    """

    services: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()

    @field_validator("services")
    @classmethod
    def _services_are_refs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for ref in value:
            if not (SERVICE_ARN_RE.match(ref) or SERVICE_REF_RE.match(ref)):
                raise ValueError(
                    f"{ref!r} is not a service reference; use 'cluster/service' or a full ECS service ARN "
                    "(arn:aws:ecs:<region>:<account>:service/<cluster>/<service>)"
                )
        return value

    @field_validator("clusters")
    @classmethod
    def _clusters_are_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not CLUSTER_RE.match(name):
                raise ValueError(
                    f"{name!r} is not a cluster name (letters, digits, '-' and '_', 1-255 chars)"
                )
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Scope:
        if not self.services and not self.clusters:
            raise ValueError("the scope is empty; name at least one service ('cluster/service') or cluster")
        return self

    def contains(self, service: ServiceId) -> bool:
        if service.cluster in self.clusters:
            return True
        return any(ref in (service.arn, f"{service.cluster}/{service.name}") for ref in self.services)

    def service_names(self) -> list[tuple[str, str]]:
        """(cluster, service) pairs named explicitly, ARNs included."""
        pairs = []
        for ref in self.services:
            match = SERVICE_ARN_RE.match(ref) or SERVICE_REF_RE.match(ref)
            assert match is not None
            pairs.append((match["cluster"], match["service"]))
        return pairs


class AlarmLink(_Strict):
    """Links alarms (by exact name, or a prefix ending in ``*``) to one service."""

    alarm: Annotated[str, Field(min_length=1, max_length=255)]
    cluster: Annotated[str, Field(pattern=f"^{_NAME}$")]
    service: Annotated[str, Field(pattern=f"^{_NAME}$")]

    @field_validator("alarm")
    @classmethod
    def _prefix_only_at_end(cls, value: str) -> str:
        if "*" in value[:-1]:
            raise ValueError(f"{value!r}: '*' is only allowed at the end, as a name prefix")
        return value

    @property
    def is_prefix(self) -> bool:
        return self.alarm.endswith("*")

    def matches(self, alarm_name: str) -> bool:
        if self.is_prefix:
            return alarm_name.startswith(self.alarm[:-1])
        return alarm_name == self.alarm


class Settings(_Strict):
    """Everything a function needs, read from its environment by ``contract.from_environment``.

    Every field is required here: the defaults of the optional ones belong to ``contract``.
    """

    # Where this installation acts: the events it reads and the services it changes are in this
    # account and region (an event of another is ignored, a manual request for another refused).
    home_account: Annotated[str, Field(pattern=r"^[0-9]{12}$")]
    home_region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$")]
    ledger_table_name: Annotated[str, Field(min_length=3)]
    notification_topic_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:sns:")]
    notify_on: frozenset[NoticeKind]
    # A second topic that receives each notification in Amazon Q Developer's (AWS Chatbot's)
    # custom-notification format, for Slack and Teams channels.
    chat_topic_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:sns:")] | None
    scope: Scope
    alarm_links: tuple[AlarmLink, ...]
    bake_time_seconds: Annotated[int, Field(ge=0, le=7 * 24 * 3600)]
    watch_window_seconds: Annotated[int, Field(ge=0, le=7 * 24 * 3600)]
    loop_guard_limit: Annotated[int, Field(ge=1, le=100)]
    loop_guard_period_seconds: Annotated[int, Field(ge=60, le=7 * 24 * 3600)]
    lock_ttl_seconds: Annotated[int, Field(ge=60, le=24 * 3600)]
    lease_seconds: Annotated[int, Field(ge=10, le=3600)]
    dry_run: bool
    dry_run_services: tuple[str, ...]
    rollback_known_bad_releases: bool
    bake_timer_function_arn: str | None
    bake_timer_role_arn: str | None
    bake_timer_dead_letter_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:sqs:")] | None
    schedule_group_name: str | None

    bake_time: ClassVar[_Duration] = _Duration()
    watch_window: ClassVar[_Duration] = _Duration()
    loop_guard_period: ClassVar[_Duration] = _Duration()
    lock_ttl: ClassVar[_Duration] = _Duration()
    lease: ClassVar[_Duration] = _Duration()

    def acts_in(self, account: str, region: str) -> bool:
        return account == self.home_account and region == self.home_region

    def is_dry_run(self, service: ServiceId) -> bool:
        return self.dry_run or any(
            ref in (service.arn, f"{service.cluster}/{service.name}") for ref in self.dry_run_services
        )
