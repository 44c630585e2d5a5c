"""The contracts the functions, the CDK construct, the sandbox and the tests must agree on.

One owner each, imported everywhere else:

- the functions' environment: every variable name, and the ``Settings`` <-> environment mapping
  (``to_environment`` / ``from_environment``, one function each way);
- every default of the policy (bake time, watch window, lock lease, loop guard);
- the ledger's table keys and index definitions (``LEDGER_INDEXES``, ``table_definition``);
- the service name and the metrics namespace.

Nothing here does I/O; ``from_environment`` is handed the mapping to read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from ecs_rollback.config import Settings
from ecs_rollback.domain.errors import ConfigurationError
from ecs_rollback.domain.notices import NoticeKind

SERVICE_NAME = "ecs-auto-rollback"
METRICS_NAMESPACE = "EcsAutoRollback"

# -- defaults -------------------------------------------------------------------------------

DEFAULT_BAKE_TIME_SECONDS = 600
DEFAULT_WATCH_WINDOW_SECONDS = 3600
DEFAULT_LOOP_GUARD_LIMIT = 3
DEFAULT_LOOP_GUARD_PERIOD_SECONDS = 3600
DEFAULT_LOCK_TTL_SECONDS = 1800
# The lease of the run carrying a rollback's step out: the rollback functions' timeout (60 s) and
# a margin. The construct derives it from the functions' timeout.
DEFAULT_LEASE_SECONDS = 90
DEFAULT_ROLLBACK_KNOWN_BAD_RELEASES = True
# What a person needs to read; skips and dry runs only when configured.
DEFAULT_NOTIFY_ON: frozenset[NoticeKind] = frozenset(NoticeKind) - {NoticeKind.SKIPPED, NoticeKind.DRY_RUN}
# The role a member stack creates for the central installation's functions to assume.
DEFAULT_MEMBER_ROLE_NAME = "EcsAutoRollbackMember"


# -- the functions' environment -------------------------------------------------------------


class Env(StrEnum):
    """Every environment variable a function reads."""

    HOME_ACCOUNT = "HOME_ACCOUNT"
    HOME_REGION = "HOME_REGION"
    LEDGER_TABLE_NAME = "LEDGER_TABLE_NAME"
    NOTIFICATION_TOPIC_ARN = "NOTIFICATION_TOPIC_ARN"
    NOTIFY_ON = "NOTIFY_ON"
    CHAT_TOPIC_ARN = "CHAT_TOPIC_ARN"
    SCOPE = "SCOPE"
    ALARM_LINKS = "ALARM_LINKS"
    BAKE_TIME_SECONDS = "BAKE_TIME_SECONDS"
    WATCH_WINDOW_SECONDS = "WATCH_WINDOW_SECONDS"
    LOOP_GUARD_LIMIT = "LOOP_GUARD_LIMIT"
    LOOP_GUARD_PERIOD_SECONDS = "LOOP_GUARD_PERIOD_SECONDS"
    LOCK_TTL_SECONDS = "LOCK_TTL_SECONDS"
    LEASE_SECONDS = "LEASE_SECONDS"
    DRY_RUN = "DRY_RUN"
    DRY_RUN_SERVICES = "DRY_RUN_SERVICES"
    ROLLBACK_KNOWN_BAD_RELEASES = "ROLLBACK_KNOWN_BAD_RELEASES"
    ANSWER_PAUSE_HOOKS = "ANSWER_PAUSE_HOOKS"
    BAKE_TIMER_FUNCTION_ARN = "BAKE_TIMER_FUNCTION_ARN"
    BAKE_TIMER_ROLE_ARN = "BAKE_TIMER_ROLE_ARN"
    BAKE_TIMER_DEAD_LETTER_ARN = "BAKE_TIMER_DEAD_LETTER_ARN"
    SCHEDULE_GROUP_NAME = "SCHEDULE_GROUP_NAME"
    MEMBERS = "MEMBERS"
    GROUPS = "GROUPS"
    CODE_DEPLOY = "CODE_DEPLOY"
    # Read by Powertools itself; the construct sets them from the constants above.
    POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
    POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
    POWERTOOLS_LOG_LEVEL = "POWERTOOLS_LOG_LEVEL"


# Which Settings field each variable carries; the variable name is the field name upper-cased.
_SETTINGS_VARIABLES: tuple[Env, ...] = tuple(
    variable for variable in Env if variable.value.lower() in Settings.model_fields
)
# Optional variables and the value a missing one means.
_OPTIONAL: Mapping[Env, Any] = {
    Env.ALARM_LINKS: (),
    Env.NOTIFY_ON: DEFAULT_NOTIFY_ON,
    Env.CHAT_TOPIC_ARN: None,
    Env.LOOP_GUARD_PERIOD_SECONDS: DEFAULT_LOOP_GUARD_PERIOD_SECONDS,
    Env.LOCK_TTL_SECONDS: DEFAULT_LOCK_TTL_SECONDS,
    Env.LEASE_SECONDS: DEFAULT_LEASE_SECONDS,
    Env.DRY_RUN: False,
    Env.DRY_RUN_SERVICES: (),
    Env.ROLLBACK_KNOWN_BAD_RELEASES: DEFAULT_ROLLBACK_KNOWN_BAD_RELEASES,
    Env.ANSWER_PAUSE_HOOKS: None,
    Env.BAKE_TIMER_FUNCTION_ARN: None,
    Env.BAKE_TIMER_ROLE_ARN: None,
    Env.BAKE_TIMER_DEAD_LETTER_ARN: None,
    Env.SCHEDULE_GROUP_NAME: None,
    Env.MEMBERS: None,
    Env.GROUPS: (),
    Env.CODE_DEPLOY: None,
}
_JSON = frozenset(
    {
        Env.SCOPE,
        Env.ALARM_LINKS,
        Env.DRY_RUN_SERVICES,
        Env.NOTIFY_ON,
        Env.ANSWER_PAUSE_HOOKS,
        Env.MEMBERS,
        Env.GROUPS,
        Env.CODE_DEPLOY,
    }
)
_BOOLEAN = frozenset({Env.DRY_RUN, Env.ROLLBACK_KNOWN_BAD_RELEASES})


def _field(variable: Env) -> str:
    return variable.value.lower()


def to_environment(settings: Settings) -> dict[str, str]:
    """The variables that make ``from_environment`` return ``settings`` again.

    Works on unvalidated settings too (``Settings.model_construct`` with deploy-time tokens),
    which is how the construct writes an environment whose values CloudFormation resolves.
    """
    environment: dict[str, str] = {}
    for variable in _SETTINGS_VARIABLES:
        value = getattr(settings, _field(variable))
        if value is None:
            continue
        if variable in _JSON:
            environment[variable] = _json(value)
        elif isinstance(value, bool):
            environment[variable] = "true" if value else "false"
        else:
            environment[variable] = str(value)
    return environment


def _json(value: Any) -> str:
    if hasattr(value, "model_dump"):
        return json.dumps(value.model_dump(mode="json"), sort_keys=True)
    if isinstance(value, (set, frozenset)):
        value = sorted(value)
    return json.dumps(
        [item.model_dump(mode="json") if hasattr(item, "model_dump") else item for item in value]
    )


def from_environment(environ: Mapping[str, str]) -> Settings:
    """``Settings`` from an environment mapping, naming every bad variable in one error."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    unreadable: set[str] = set()
    for variable in _SETTINGS_VARIABLES:
        raw = environ.get(variable)
        if raw is None:
            if variable in _OPTIONAL:
                values[_field(variable)] = _OPTIONAL[variable]
            continue
        if variable in _JSON:
            try:
                values[_field(variable)] = json.loads(raw)
            except json.JSONDecodeError as exc:
                problems.append(f"{variable}: not valid JSON ({exc.msg} at position {exc.pos})")
                unreadable.add(_field(variable))
                continue
        elif variable in _BOOLEAN:
            if raw.lower() not in ("true", "false"):
                problems.append(f"{variable}: use true or false, not {raw[:20]!r}")
                unreadable.add(_field(variable))
                continue
            values[_field(variable)] = raw.lower() == "true"
        else:
            values[_field(variable)] = raw
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        problems += [_describe(error) for error in exc.errors() if str(error["loc"][0]) not in unreadable]
    else:
        if not problems:
            return settings
    raise ConfigurationError(
        f"invalid function configuration ({'; '.join(problems)}); the stack sets these variables, "
        "so redeploy with corrected CDK context"
    )


def _describe(error: Any) -> str:
    location = [str(part) for part in error["loc"]]
    head = location[0].upper() if location else "environment"
    rest = ".".join(location[1:])
    return f"{head}{'.' + rest if rest else ''}: {error['msg']}"


def powertools_environment(log_level: str) -> dict[str, str]:
    """What Powertools reads: the service name, the metrics namespace and the log level."""
    return {
        Env.POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        Env.POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        Env.POWERTOOLS_LOG_LEVEL: log_level,
    }


# -- the ledger table -----------------------------------------------------------------------

PARTITION_KEY = "pk"
SORT_KEY = "sk"


@dataclass(frozen=True)
class LedgerIndex:
    """One global secondary index of the ledger (string keys, all attributes projected)."""

    name: str
    partition_key: str
    sort_key: str


HISTORY_INDEX = LedgerIndex("history", PARTITION_KEY, "hist_sort")
REVISION_INDEX = LedgerIndex("by_service_revision", PARTITION_KEY, "rev_sort")
SERVICE_GIT_INDEX = LedgerIndex("by_service_git_sha", PARTITION_KEY, "git_sort")
GIT_INDEX = LedgerIndex("by_git_sha", "gsi1pk", "gsi1sk")
KIND_INDEX = LedgerIndex("by_kind", "kind", PARTITION_KEY)
# Schema version 2, one index (CloudFormation adds one GSI per table update) that answers two
# questions by its partition key: ``REL#<release id>`` on deployments (every deployment of a
# release, across services) and ``GOOD#<service arn>`` on GOOD releases (newest first).
RELEASE_INDEX = LedgerIndex("by_release", "release_pk", "release_sort")

LEDGER_INDEXES: tuple[LedgerIndex, ...] = (
    HISTORY_INDEX,
    REVISION_INDEX,
    SERVICE_GIT_INDEX,
    GIT_INDEX,
    KIND_INDEX,
    RELEASE_INDEX,
)


def table_definition(table_name: str) -> dict[str, Any]:
    """CreateTable input for the ledger, as the construct declares it (tests/infra checks both)."""
    attributes = sorted(
        {PARTITION_KEY, SORT_KEY}
        | {key for index in LEDGER_INDEXES for key in (index.partition_key, index.sort_key)}
    )
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"} for name in attributes],
        "KeySchema": [
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in LEDGER_INDEXES
        ],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }
