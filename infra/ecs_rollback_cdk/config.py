"""The synth-time configuration: the ``ecsRollback`` object of the CDK context, validated once.

It reuses the runtime models (``Scope``, ``AlarmLink``) of ``ecs_rollback.config``, and the
construct checks the environment it writes against ``Settings``, so a configuration that synth
accepts is one the functions accept at cold start. Every error names the context key and the fix.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from ecs_rollback.config import (
    ROLE_NAME_RE,
    SERVICE_ARN_RE,
    SERVICE_REF_RE,
    AlarmLink,
    CodeDeployGroup,
    Group,
    Member,
    Members,
    Scope,
    groups_of,
)
from ecs_rollback.contract import (
    DEFAULT_BAKE_TIME_SECONDS,
    DEFAULT_LOCK_TTL_SECONDS,
    DEFAULT_LOOP_GUARD_LIMIT,
    DEFAULT_LOOP_GUARD_PERIOD_SECONDS,
    DEFAULT_MEMBER_ROLE_NAME,
    DEFAULT_NOTIFY_ON,
    DEFAULT_ROLLBACK_KNOWN_BAD_RELEASES,
    DEFAULT_WATCH_WINDOW_SECONDS,
)
from ecs_rollback.domain.notices import NoticeKind
from ecs_rollback_cdk.config_checks import KeyedError, check_code_deploy, check_groups, check_member
from ecs_rollback_cdk.context_keys import FIXES, LOG_RETENTION

CONTEXT_KEY = "ecsRollback"
DEFAULT_STACK_NAME = "EcsAutoRollback"
DEFAULT_POWERTOOLS_VERSION = "3.37.0"

_PARTITION = r"aws[a-z-]*"
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d"
_ACCOUNT = r"\d{12}"
ROLE_ARN_RE = re.compile(rf"^arn:{_PARTITION}:iam::{_ACCOUNT}:role/[\w+=,.@/*-]{{1,512}}$")
TOPIC_ARN_RE = re.compile(rf"^arn:{_PARTITION}:sns:{_REGION}:{_ACCOUNT}:[A-Za-z0-9_-]{{1,256}}(?:\.fifo)?$")
KMS_KEY_ARN_RE = re.compile(rf"^arn:{_PARTITION}:kms:{_REGION}:{_ACCOUNT}:key/[A-Za-z0-9-]{{1,128}}$")
TABLE_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
STREAM_ARN_RE = re.compile(
    rf"^arn:{_PARTITION}:dynamodb:{_REGION}:{_ACCOUNT}:table/(?P<table>[A-Za-z0-9_.-]{{3,255}})/stream/\S+$"
)
ECR_REPOSITORY_ARN_RE = re.compile(
    rf"^arn:{_PARTITION}:ecr:{_REGION}:{_ACCOUNT}:repository/[a-z0-9._/*-]{{1,256}}$"
)
LAYER_ARN_RE = re.compile(rf"^arn:{_PARTITION}:lambda:{_REGION}:{_ACCOUNT}:layer:[A-Za-z0-9_-]{{1,140}}:\d+$")
FAMILY_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}\*?$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
STACK_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
ROLE_NAME_PATTERN = ROLE_NAME_RE.pattern


class ConfigError(ValueError):
    """The ``ecsRollback`` context is invalid; the message lists every problem with its fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f'invalid CDK context "{CONTEXT_KEY}" (cdk.json or --context):\n{lines}')


def _service_pair(ref: str) -> tuple[str, str] | None:
    match = SERVICE_ARN_RE.match(ref) or SERVICE_REF_RE.match(ref)
    return (match["cluster"], match["service"]) if match else None


def _role_arn(arn: str) -> bool:
    return not arn.endswith(":role/*") and ROLE_ARN_RE.match(arn) is not None


# The fields whose value, or each of whose values, is checked alone: (check, what it must be).
_CHECKS: dict[str, tuple[Callable[[str], object], str]] = {
    "dry_run_services": (_service_pair, "a service reference ('cluster/service' or a service ARN)"),
    "notification_emails": (EMAIL_RE.match, "an e-mail address"),
    "existing_topic_arn": (TOPIC_ARN_RE.match, "an SNS topic ARN"),
    "existing_topic_key_arn": (KMS_KEY_ARN_RE.match, "a KMS key ARN"),
    "existing_table_name": (TABLE_NAME_RE.match, "a DynamoDB table name"),
    "existing_table_stream_arn": (STREAM_ARN_RE.match, "a DynamoDB stream ARN"),
    "pass_role_arns": (
        _role_arn,
        "an IAM role ARN (a name pattern like role/app-* is allowed, role/* is not)",
    ),
    "ecr_repository_arns": (ECR_REPOSITORY_ARN_RE.match, "an ECR repository ARN"),
    "task_definition_families": (FAMILY_RE.match, "a task definition family"),
    "powertools_version": (VERSION_RE.match, "a release number like 3.37.0"),
    "powertools_layer_arn": (LAYER_ARN_RE.match, "a Lambda layer version ARN"),
    "stack_name": (STACK_NAME_RE.match, "a CloudFormation stack name"),
}


class MembersConfig(Members):
    """``members``: the member accounts of a central installation (``roleName`` has a default)."""

    role_name: Annotated[str, Field(pattern=ROLE_NAME_PATTERN)] = Field(
        default=DEFAULT_MEMBER_ROLE_NAME, alias="roleName"
    )


class RollbackConfig(BaseModel):
    """The ``ecsRollback`` context object (camelCase keys) and the construct's configuration.

    Another CDK app builds it with the Python names (``bake_time_seconds=600``), validated alike.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    scope: Scope
    alarm_links: tuple[AlarmLink, ...] = Field(default=(), alias="alarmLinks")
    alarm_name_prefixes: tuple[Annotated[str, Field(min_length=1, max_length=255)], ...] = Field(
        default=(), alias="alarmNamePrefixes"
    )
    bake_time_seconds: Annotated[StrictInt, Field(ge=0, le=7 * 24 * 3600)] = Field(
        default=DEFAULT_BAKE_TIME_SECONDS, alias="bakeTimeSeconds"
    )
    watch_window_seconds: Annotated[StrictInt, Field(ge=0, le=7 * 24 * 3600)] = Field(
        default=DEFAULT_WATCH_WINDOW_SECONDS, alias="watchWindowSeconds"
    )
    loop_guard_limit: Annotated[StrictInt, Field(ge=1, le=100)] = Field(
        default=DEFAULT_LOOP_GUARD_LIMIT, alias="loopGuardLimit"
    )
    loop_guard_period_seconds: Annotated[StrictInt, Field(ge=60, le=7 * 24 * 3600)] = Field(
        default=DEFAULT_LOOP_GUARD_PERIOD_SECONDS, alias="loopGuardPeriodSeconds"
    )
    lock_ttl_seconds: Annotated[StrictInt, Field(ge=60, le=24 * 3600)] = Field(
        default=DEFAULT_LOCK_TTL_SECONDS, alias="lockTtlSeconds"
    )
    dry_run: StrictBool = Field(default=False, alias="dryRun")
    dry_run_services: tuple[str, ...] = Field(default=(), alias="dryRunServices")
    rollback_known_bad_releases: StrictBool = Field(
        default=DEFAULT_ROLLBACK_KNOWN_BAD_RELEASES, alias="rollbackKnownBadReleases"
    )
    # The services (or clusters) in scope whose ECS pause hooks the release gate answers; none by default.
    answer_pause_hooks: Scope | None = Field(default=None, alias="answerPauseHooks")
    # The CodeDeploy deployment group of each CODE_DEPLOY-controlled service in scope, which its
    # rollbacks go through; none by default (such a service is refused).
    code_deploy: tuple[CodeDeployGroup, ...] | None = Field(default=None, alias="codeDeploy")
    notify_on: tuple[NoticeKind, ...] = Field(default=tuple(sorted(DEFAULT_NOTIFY_ON)), alias="notifyOn")
    chat_notifications: StrictBool = Field(default=False, alias="chatNotifications")
    notification_emails: tuple[str, ...] = Field(default=(), alias="notificationEmails")
    existing_topic_arn: str | None = Field(default=None, alias="existingTopicArn")
    existing_topic_key_arn: str | None = Field(default=None, alias="existingTopicKeyArn")
    existing_table_name: str | None = Field(default=None, alias="existingTableName")
    existing_table_stream_arn: str | None = Field(default=None, alias="existingTableStreamArn")
    pass_role_arns: tuple[str, ...] = Field(default=(), alias="passRoleArns")
    ecr_repository_arns: tuple[str, ...] | None = Field(default=None, alias="ecrRepositoryArns")
    task_definition_families: tuple[str, ...] | None = Field(default=None, alias="taskDefinitionFamilies")
    powertools_version: str = Field(default=DEFAULT_POWERTOOLS_VERSION, alias="powertoolsVersion")
    powertools_layer_arn: str | None = Field(default=None, alias="powertoolsLayerArn")
    stack_name: str = Field(default=DEFAULT_STACK_NAME, alias="stackName")
    log_retention_days: StrictInt = Field(default=30, alias="logRetentionDays")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", alias="logLevel")
    members: MembersConfig | None = None
    # {"checkout": ["prod/api", "prod/worker"]}: services an operator rolls back together.
    groups: tuple[Group, ...] = ()

    @field_validator(*_CHECKS)
    @classmethod
    def _each_valid(cls, value: str | tuple[str, ...] | None, info: ValidationInfo) -> Any:
        valid, what = _CHECKS[info.field_name or ""]
        for item in (value,) if isinstance(value, str) else value or ():
            if not valid(item):
                raise ValueError(f"{item!r} is not {what}")
        return value

    @field_validator("groups", mode="before")
    @classmethod
    def _groups(cls, value: Any) -> Any:
        return groups_of(value)

    @field_serializer("groups")
    def _groups_as_mapping(self, groups: tuple[Group, ...]) -> dict[str, list[str]]:
        return {group.name: list(group.services) for group in groups}

    @field_validator("notify_on")
    @classmethod
    def _kinds_once_in_order(cls, value: tuple[NoticeKind, ...]) -> tuple[NoticeKind, ...]:
        return tuple(sorted(set(value)))

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION:
            raise ValueError(f"{value} is not a retention period CloudWatch Logs accepts")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RollbackConfig:
        in_scope = self.scope_contains
        for index, link in enumerate(self.alarm_links):
            if not in_scope((link.cluster, link.service)):
                raise KeyedError(
                    f"alarmLinks.{index}",
                    f"links alarm {link.alarm!r} to {link.cluster}/{link.service}, which is not in scope",
                    "add the service (or its cluster) to scope, or link the alarm to a service in scope",
                )
        for key, opted in self._pause_hook_services():
            if not in_scope(opted):
                raise KeyedError(
                    f"answerPauseHooks.{key}",
                    f"{'/'.join(opted).removesuffix('/*')} is not in scope",
                    "add the service (or its cluster) to scope, or remove it from answerPauseHooks",
                )
        check_code_deploy(self)
        for index, ref in enumerate(self.dry_run_services):
            pair = _service_pair(ref)
            if pair is not None and not in_scope(pair):
                raise KeyedError(
                    f"dryRunServices.{index}",
                    f"{ref!r} is not in scope",
                    "add the service (or its cluster) to scope, or remove it from dryRunServices",
                )
        if (self.existing_table_name is None) != (self.existing_table_stream_arn is None):
            missing = (
                "existingTableStreamArn" if self.existing_table_stream_arn is None else "existingTableName"
            )
            raise KeyedError(
                missing,
                "existingTableName and existingTableStreamArn go together",
                "set both (the table needs a NEW_AND_OLD_IMAGES stream) or neither",
            )
        if self.existing_table_stream_arn is not None:
            match = STREAM_ARN_RE.match(self.existing_table_stream_arn)
            if match is not None and match["table"] != self.existing_table_name:
                raise KeyedError(
                    "existingTableStreamArn",
                    f"is the stream of table {match['table']!r}, not of {self.existing_table_name!r}",
                    "use the stream ARN of the table named in existingTableName",
                )
        check_groups(self)
        for index, member in enumerate(self.members.accounts if self.members is not None else ()):
            check_member(self, index, member)
        if self.existing_topic_key_arn is not None and self.existing_topic_arn is None:
            raise KeyedError(
                "existingTopicKeyArn",
                "is set without existingTopicArn",
                "set existingTopicArn too, or remove existingTopicKeyArn",
            )
        return self

    def _pause_hook_services(self) -> list[tuple[str, tuple[str, str]]]:
        """(context key, (cluster, service)) of each entry of ``answerPauseHooks`` (a cluster as
        ``(cluster, "*")``)."""
        chosen = self.answer_pause_hooks
        if chosen is None:
            return []
        services = [(f"services.{index}", pair) for index, pair in enumerate(chosen.service_names())]
        return services + [(f"clusters.{index}", (name, "*")) for index, name in enumerate(chosen.clusters)]

    def scope_contains(self, pair: tuple[str, str]) -> bool:
        return pair[0] in self.scope.clusters or pair in self.scope.service_names()

    @classmethod
    def from_context(cls, value: Any) -> RollbackConfig:
        """Validate the raw context value (a mapping, or a JSON string from ``--context``)."""
        if value is None:
            raise ConfigError(
                [
                    f'{CONTEXT_KEY} is missing. Fix: add "{CONTEXT_KEY}": {{"scope": {{"services": ["cluster/service"]}}}} '
                    'to the "context" of cdk.json (see docs/configuration.md)'
                ]
            )
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    [
                        f"{CONTEXT_KEY} is not valid JSON ({exc.msg} at position {exc.pos}). Fix: pass a JSON object"
                    ]
                ) from exc
        if not isinstance(value, dict):
            raise ConfigError(
                [
                    f"{CONTEXT_KEY} must be a JSON object, got {type(value).__name__}. Fix: see docs/configuration.md"
                ]
            )
        try:
            return cls.model_validate(value)
        except ValidationError as exc:
            raise ConfigError(_describe(exc, value)) from None

    def to_context(self) -> dict[str, Any]:
        """The camelCase context form (for docs, tests and round trips)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _known_keys(path: tuple[str | int, ...]) -> list[str]:
    model: type[BaseModel] = RollbackConfig
    if path and path[0] in ("scope", "answerPauseHooks"):
        model = Scope
    elif path and path[0] == "alarmLinks":
        model = AlarmLink
    elif path and path[0] == "codeDeploy":
        model = CodeDeployGroup
    elif path and path[0] == "members":
        by_depth: dict[int, type[BaseModel]] = {1: MembersConfig, 3: Member}
        model = by_depth.get(len(path), Scope if "scope" in path else AlarmLink)
    return sorted(field.alias or name for name, field in model.model_fields.items())


def _fix_for(path: tuple[str | int, ...]) -> str:
    names = [str(part) for part in path if not isinstance(part, int)]
    for length in range(len(names), 0, -1):
        fix = FIXES.get(".".join(names[:length]))
        if fix:
            return fix
    return "see docs/configuration.md"


def _lookup(value: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _describe(exc: ValidationError, raw: dict[str, Any]) -> list[str]:
    problems = []
    for error in exc.errors():
        path = tuple(error["loc"])
        key = ".".join(str(part) for part in (CONTEXT_KEY, *path))
        context_error = error.get("ctx", {}).get("error")
        if isinstance(context_error, KeyedError):
            problems.append(
                f"{CONTEXT_KEY}.{context_error.key}: {context_error.problem}. Fix: {context_error.fix}"
            )
            continue
        if error["type"] == "extra_forbidden":
            known = _known_keys(path[:-1])
            close = difflib.get_close_matches(str(path[-1]), known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(f"{key}: unknown key. Fix: {hint}remove it or use one of: {', '.join(known)}")
            continue
        if error["type"] == "missing":
            problems.append(f"{key}: required key is missing. Fix: {_fix_for(path)}")
            continue
        message = str(error["msg"]).removeprefix("Value error, ")
        shown = _lookup(raw, path)
        scalar = shown is not None and not isinstance(shown, (dict, list))
        value = f" (got {json.dumps(shown)})" if scalar and str(shown) not in message else ""
        problems.append(f"{key}: {message}{value}. Fix: {_fix_for(path)}")
    return problems
