"""The composition root: the one place that reads the process environment and builds the
adapters, once per cold start.

Tests and the sandbox call ``build`` with their own session or clock; the Lambda handlers call
``from_environment``, which caches per distinct environment (so tests need no reset).

Cold start: botocore, not boto3 (boto3's import pulls in s3transfer, which nothing here uses),
and, in Lambda, each client made on its first call (an invocation pays only for those it uses).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.config import Config

from ecs_rollback.adapters.alarms import CloudWatchAlarms
from ecs_rollback.adapters.codedeploy import CodeDeployAdapter
from ecs_rollback.adapters.ecr import EcrRegistry
from ecs_rollback.adapters.ecs import EcsAdapter
from ecs_rollback.adapters.ledger_dynamodb import DynamoDBLedger
from ecs_rollback.adapters.notifier_sns import SnsNotifier
from ecs_rollback.adapters.scheduler import SchedulerBakeTimer
from ecs_rollback.config import Members, Settings
from ecs_rollback.contract import SERVICE_NAME
from ecs_rollback.contract import from_environment as settings_from_environment
from ecs_rollback.observability import NullTelemetry
from ecs_rollback.ports import AccountPorts, BakeTimer, Clock, Dependencies, Telemetry

if TYPE_CHECKING:
    import boto3

# Standard retries with a small budget: a Lambda has seconds, not minutes, to act.
_BOTO_CONFIG = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=3, read_timeout=10)


class LazyClient:
    """A client made on its first use: an attribute of the client (a call, ``exceptions``,
    ``meta``) builds it, once, under a lock (the sandbox's threads share one)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make: Callable[[], Any] | None = make
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        state = self.__dict__
        if "_lock" not in state or name.startswith("__"):
            raise AttributeError(name)  # a copy or pickle probing a half-made proxy: no client for it
        client = state["_client"]
        if client is None:
            with state["_lock"]:
                if state["_client"] is None:
                    state["_client"], state["_make"] = state["_make"](), None
                client = state["_client"]
        return getattr(client, name)


# Assume the member role again this long before its credentials expire.
_CREDENTIALS_MARGIN = timedelta(minutes=5)
_ASSUMED_FOR_SECONDS = 3600


class _RoleCredentials:
    """One member account's role credentials: assumed on first use, kept until shortly before
    they expire, then assumed again."""

    def __init__(self, sts: Any, role_arn: str, now: Callable[[], datetime]) -> None:
        self._sts = sts
        self._role_arn = role_arn
        self._now = now
        self._current: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def current(self) -> dict[str, Any]:
        with self._lock:
            current = self._current
            if current is None or current["Expiration"] - _CREDENTIALS_MARGIN <= self._now():
                answer = self._sts.assume_role(
                    RoleArn=self._role_arn,
                    RoleSessionName=SERVICE_NAME,
                    DurationSeconds=_ASSUMED_FOR_SECONDS,
                )
                current = self._current = answer["Credentials"]
            return current


class _AssumedClient:
    """A client acting as a member role: made with the role's current credentials, and made again
    when they are renewed (an adapter holds this proxy, not the client)."""

    def __init__(self, credentials: _RoleCredentials, make: Callable[[dict[str, Any]], Any]) -> None:
        self._credentials = credentials
        self._make = make
        self._made: tuple[dict[str, Any], Any] | None = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        state = self.__dict__
        if "_lock" not in state or name.startswith("__"):
            raise AttributeError(name)
        credentials = state["_credentials"].current()
        with state["_lock"]:
            made = state["_made"]
            if made is None or made[0] is not credentials:
                made = state["_made"] = (credentials, state["_make"](credentials))
        return getattr(made[1], name)


@dataclass
class MemberRoles:
    """The member accounts' ports, acting as each account's member role (``members.roleName``).

    One set of credentials per account, shared by its regions' clients; nothing is assumed until
    a member's event needs it.
    """

    members: Members
    partition: str
    sts: Any
    make: Callable[[str, str, dict[str, Any]], Any]
    now: Callable[[], datetime]
    _credentials: dict[str, _RoleCredentials] = field(default_factory=dict, init=False, repr=False)
    _ports: dict[tuple[str, str], AccountPorts] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def ports_in(self, account: str, region: str) -> AccountPorts:
        with self._lock:
            if (account, region) not in self._ports:
                credentials = self._credentials.setdefault(
                    account,
                    _RoleCredentials(self.sts, self.members.role_arn(self.partition, account), self.now),
                )

                def client(name: str) -> Any:
                    return _AssumedClient(credentials, functools.partial(self.make, name, region))

                self._ports[account, region] = AccountPorts(
                    ecs=EcsAdapter(client("ecs")),
                    registry=EcrRegistry(client("ecr")),
                    alarms=CloudWatchAlarms(client("cloudwatch")),
                )
            return self._ports[account, region]


def _partition_of(arn: str) -> str:
    return arn.split(":")[1]


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def build(
    settings: Settings,
    *,
    session: boto3.Session | None = None,
    clock: Clock | None = None,
    telemetry: Telemetry | None = None,
    bake_timer_target_arn: str | None = None,
    endpoint_url: str | None = None,
) -> Dependencies:
    sessions: list[Any] = []
    lock = threading.Lock()  # a session is not thread-safe; the clients it makes are

    def make(name: str) -> Any:
        with lock:
            if session is not None:
                return session.client(name, config=_BOTO_CONFIG, endpoint_url=endpoint_url)  # type: ignore[call-overload]
            if not sessions:  # what boto3.Session() wraps: one botocore session per build
                import botocore.session

                sessions.append(botocore.session.get_session())
            return sessions[0].create_client(name, config=_BOTO_CONFIG, endpoint_url=endpoint_url)

    def client(name: str) -> Any:
        # A Lambda (no session given) makes each client on first use, so a cold start pays only
        # for the clients its invocation calls; tests and the sandbox time warm functions.
        return LazyClient(functools.partial(make, name)) if session is None else make(name)

    def make_as(name: str, region: str, credentials: dict[str, Any]) -> Any:
        """A client in a member account and region, with its role's credentials."""
        keys = {
            "region_name": region,
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
            "config": _BOTO_CONFIG,
            "endpoint_url": endpoint_url,
        }
        with lock:
            if session is not None:
                return session.client(name, **keys)  # type: ignore[call-overload]
            if not sessions:
                import botocore.session

                sessions.append(botocore.session.get_session())
            return sessions[0].create_client(name, **keys)

    members = (
        MemberRoles(
            settings.members,
            _partition_of(settings.notification_topic_arn),
            client("sts"),
            make_as,
            lambda: datetime.now(UTC),
        )
        if settings.members is not None
        else None
    )

    target = bake_timer_target_arn or settings.bake_timer_function_arn
    bake_timer: BakeTimer | None = None
    if target and settings.bake_timer_role_arn and settings.schedule_group_name:
        bake_timer = SchedulerBakeTimer(
            client("scheduler"),
            group_name=settings.schedule_group_name,
            target_arn=target,
            role_arn=settings.bake_timer_role_arn,
            dead_letter_arn=settings.bake_timer_dead_letter_arn,
        )
    return Dependencies(
        settings=settings,
        ledger=DynamoDBLedger(client("dynamodb"), settings.ledger_table_name),
        ecs=EcsAdapter(client("ecs")),
        registry=EcrRegistry(client("ecr")),
        alarms=CloudWatchAlarms(client("cloudwatch")),
        notifier=SnsNotifier(client("sns"), settings.notification_topic_arn, settings.chat_topic_arn),
        bake_timer=bake_timer,
        clock=clock or SystemClock(),
        telemetry=telemetry or NullTelemetry(),
        members=members,
        codedeploy=CodeDeployAdapter(client("codedeploy")) if settings.code_deploy else None,
    )


def from_environment(telemetry: Telemetry, bake_timer_target_arn: str | None = None) -> Dependencies:
    """Dependencies for a Lambda invocation, built on the first call and reused while warm."""
    return _cached(frozenset(os.environ.items()), telemetry, bake_timer_target_arn)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=8)
def _cached(
    environment: frozenset[tuple[str, str]], telemetry: Any, bake_timer_target_arn: str | None
) -> Dependencies:
    return build(
        settings_from_environment(dict(environment)),
        telemetry=telemetry,
        bake_timer_target_arn=bake_timer_target_arn,
    )
