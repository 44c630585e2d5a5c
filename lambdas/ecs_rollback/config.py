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


def service_refs(value: tuple[str, ...]) -> tuple[str, ...]:
    """``value`` when each is ``cluster/service`` or a service ARN; else what to write instead."""
    for ref in value:
        if not (SERVICE_ARN_RE.match(ref) or SERVICE_REF_RE.match(ref)):
            raise ValueError(
                f"{ref!r} is not a service reference; use 'cluster/service' or a full ECS service ARN "
                "(arn:aws:ecs:<region>:<account>:service/<cluster>/<service>)"
            )
    return value


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
        return service_refs(value)

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


class Group(_Strict):
    """Services released together, rolled back together by hand (``{"group": name, ...}``):
    every member to its release of one git SHA, or none of them."""

    name: Annotated[str, Field(pattern=f"^{_NAME}$")]
    services: Annotated[tuple[str, ...], Field(min_length=1, max_length=50)]

    @field_validator("services")
    @classmethod
    def _services_are_refs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        service_refs(value)
        if len(set(value)) != len(value):
            raise ValueError("a service is listed twice; list each member once")
        return value

    def pairs(self) -> list[tuple[str, str]]:
        """(cluster, service) of each member, in the configured order."""
        return [_pair(ref) for ref in self.services]


def _pair(ref: str) -> tuple[str, str]:
    match = SERVICE_ARN_RE.match(ref) or SERVICE_REF_RE.match(ref)
    assert match is not None
    return match["cluster"], match["service"]


# CodeDeploy's application and deployment group names, as far as an ARN can carry them (no ``/``,
# no ``:``, no ``*``).
CODEDEPLOY_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


class CodeDeployGroup(_Strict):
    """The CodeDeploy application and deployment group that deploy one CODE_DEPLOY-controlled
    service: a rollback of that service goes through them (``{"service": "prod/web",
    "application": "AppECS-prod-web", "deploymentGroup": "DgpECS-prod-web"}``)."""

    service: str
    application: Annotated[str, Field(pattern=CODEDEPLOY_NAME_RE.pattern)]
    deployment_group: Annotated[str, Field(pattern=CODEDEPLOY_NAME_RE.pattern)] = Field(
        alias="deploymentGroup"
    )

    @field_validator("service")
    @classmethod
    def _service_is_a_ref(cls, value: str) -> str:
        service_refs((value,))
        return value

    def pair(self) -> tuple[str, str]:
        return _pair(self.service)

    def deploys(self, service: ServiceId, home_account: str) -> bool:
        """Whether this group deploys ``service``: one of the home account's (CodeDeploy is called in
        the home account; a member account's service is not rolled back through CodeDeploy)."""
        if service.account != home_account:
            return False
        return self.service in (service.arn, f"{service.cluster}/{service.name}")


def groups_of(value: Any) -> Any:
    """``{"checkout": ["prod/api", "prod/worker"]}`` (the configuration's form) as ``Group`` items;
    anything else as given, for the model to check."""
    if isinstance(value, dict):
        return tuple({"name": name, "services": services} for name, services in value.items())
    return value


_ACCOUNT_ID = r"^[0-9]{12}$"
_REGION_NAME = r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$"
# What IAM accepts as a role name (and a path-free one: the member role's ARN is built from it).
ROLE_NAME_RE = re.compile(r"^[A-Za-z0-9_+=,.@-]{1,64}$")


class Member(_Strict):
    """A member account whose services this (central) installation acts on, through the role the
    member stack creates there.

    ``regions`` empty means the installation's own region. ``scope``, when given, replaces the
    installation's scope for this account's services; ``alarm_links`` are added to the
    installation's (a member with its own scope uses only its own). The policy fields, when
    given, replace the installation's for this account's services.
    """

    account: Annotated[str, Field(pattern=_ACCOUNT_ID)]
    regions: tuple[Annotated[str, Field(pattern=_REGION_NAME)], ...] = ()
    scope: Scope | None = None
    alarm_links: tuple[AlarmLink, ...] = Field(default=(), alias="alarmLinks")
    bake_time_seconds: Annotated[int, Field(ge=0, le=7 * 24 * 3600, strict=True)] | None = Field(
        default=None, alias="bakeTimeSeconds"
    )
    watch_window_seconds: Annotated[int, Field(ge=0, le=7 * 24 * 3600, strict=True)] | None = Field(
        default=None, alias="watchWindowSeconds"
    )
    loop_guard_limit: Annotated[int, Field(ge=1, le=100, strict=True)] | None = Field(
        default=None, alias="loopGuardLimit"
    )
    dry_run: Annotated[bool, Field(strict=True)] | None = Field(default=None, alias="dryRun")

    def policy(self) -> dict[str, int | bool]:
        """The member's own policy values (the installation's apply to the rest)."""
        values = {name: getattr(self, name) for name in MEMBER_POLICY}
        return {name: value for name, value in values.items() if value is not None}


# The policy a member may set for its own services (the Settings fields of the same names).
MEMBER_POLICY = ("bake_time_seconds", "watch_window_seconds", "loop_guard_limit", "dry_run")


class Members(_Strict):
    """The member accounts of a central installation, and the name of the role each provides.

    ``organization_id``: every account of the organisation is a member too (in the installation's
    region, with its scope and alarm links), whose events the default bus accepts by
    ``aws:PrincipalOrgID``; the listed ``accounts`` keep their own settings.
    """

    role_name: Annotated[str, Field(pattern=ROLE_NAME_RE.pattern)] = Field(alias="roleName")
    accounts: tuple[Member, ...] = ()
    organization_id: Annotated[str, Field(pattern=r"^o-[a-z0-9]{10,32}$")] | None = Field(
        default=None, alias="organizationId"
    )

    @model_validator(mode="after")
    def _names_someone(self) -> Members:
        if not self.accounts and self.organization_id is None:
            raise ValueError(
                "members names no account and no organisation; list accounts or set organizationId"
            )
        return self

    @field_validator("accounts")
    @classmethod
    def _each_account_once(cls, value: tuple[Member, ...]) -> tuple[Member, ...]:
        seen = [member.account for member in value]
        twice = sorted({account for account in seen if seen.count(account) > 1})
        if twice:
            raise ValueError(f"account {', '.join(twice)} is listed more than once; list each account once")
        return value

    def role_arn(self, partition: str, account: str) -> str:
        return f"arn:{partition}:iam::{account}:role/{self.role_name}"


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
    # The services whose ECS pause hooks (``ECS Hook State Change``, ``HOOK_AWAITING_ACTION``)
    # the release gate answers with ContinueServiceDeployment; None: it answers none (opt-in).
    answer_pause_hooks: Scope | None
    bake_timer_function_arn: str | None
    bake_timer_role_arn: str | None
    bake_timer_dead_letter_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:sqs:")] | None
    schedule_group_name: str | None
    # A central installation's member accounts; None for a single-account installation.
    members: Members | None
    # The groups of services an operator can roll back together, to one git SHA.
    groups: tuple[Group, ...]
    # The CodeDeploy deployment groups of the CODE_DEPLOY-controlled services that are rolled back
    # through CodeDeploy; None: none is (such a service is refused).
    code_deploy: tuple[CodeDeployGroup, ...] | None

    bake_time: ClassVar[_Duration] = _Duration()
    watch_window: ClassVar[_Duration] = _Duration()
    loop_guard_period: ClassVar[_Duration] = _Duration()
    lock_ttl: ClassVar[_Duration] = _Duration()
    lease: ClassVar[_Duration] = _Duration()

    @field_validator("groups", mode="before")
    @classmethod
    def _groups(cls, value: Any) -> Any:
        return groups_of(value)

    def code_deploy_group(self, service: ServiceId) -> CodeDeployGroup | None:
        """The CodeDeploy deployment group that deploys ``service``, when one is configured."""
        return next(
            (group for group in self.code_deploy or () if group.deploys(service, self.home_account)), None
        )

    def group(self, name: str) -> Group | None:
        return next((group for group in self.groups if group.name == name), None)

    def acts_in(self, account: str, region: str) -> bool:
        return account == self.home_account and region == self.home_region

    def member(self, account: str, region: str) -> Member | None:
        """The member account ``account`` when this installation acts in its ``region`` too."""
        for member in self.members.accounts if self.members is not None else ():
            if member.account == account:
                return member if region in (member.regions or (self.home_region,)) else None
        # With an organisation, any other account in this region: only the organisation's accounts
        # can put events on the bus (its resource policy).
        organization = self.members is not None and self.members.organization_id is not None
        if organization and account != self.home_account and region == self.home_region:
            return Member(account=account)
        return None

    def for_member(self, member: Member) -> Settings:
        """These settings as they apply to a member's services: its scope, alarm links and policy."""
        if member.scope is not None:
            placed = {"scope": member.scope, "alarm_links": member.alarm_links}
        else:
            placed = {"alarm_links": (*self.alarm_links, *member.alarm_links)}
        return self.model_copy(update={**placed, **member.policy()})

    def answers_pause_hooks(self, service: ServiceId) -> bool:
        return self.answer_pause_hooks is not None and self.answer_pause_hooks.contains(service)

    def is_dry_run(self, service: ServiceId) -> bool:
        return self.dry_run or any(
            ref in (service.arn, f"{service.cluster}/{service.name}") for ref in self.dry_run_services
        )
