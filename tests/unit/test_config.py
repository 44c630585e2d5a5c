"""Configuration: one validated model, every bad variable named, no silent defaults."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from pydantic import ValidationError

from ecs_rollback.config import AlarmLink, Scope
from ecs_rollback.contract import from_environment
from ecs_rollback.domain.errors import ConfigurationError
from ecs_rollback.domain.model import ServiceId
from tests.unit.builders import OTHER_SERVICE, SERVICE

VALID_ENV = {
    "HOME_ACCOUNT": "123456789012",
    "HOME_REGION": "us-east-1",
    "LEDGER_TABLE_NAME": "ecs-rollback-ledger",
    "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:ecs-rollback",
    "SCOPE": json.dumps({"services": ["prod/web", SERVICE.arn], "clusters": ["staging"]}),
    "ALARM_LINKS": json.dumps([{"alarm": "web-*", "cluster": "prod", "service": "web"}]),
    "BAKE_TIME_SECONDS": "600",
    "WATCH_WINDOW_SECONDS": "3600",
    "LOOP_GUARD_LIMIT": "3",
    "LOCK_TTL_SECONDS": "900",
    "DRY_RUN": "false",
    "DRY_RUN_SERVICES": json.dumps(["prod/api"]),
    "PATH": "/usr/bin",  # unrelated variables are ignored
}


def test_settings_from_a_valid_environment() -> None:
    # Given the environment the stack sets

    # When reading it
    settings = from_environment(VALID_ENV)

    # Then every value is typed
    assert settings.ledger_table_name == "ecs-rollback-ledger"
    assert settings.scope.clusters == ("staging",)
    assert settings.alarm_links == (AlarmLink(alarm="web-*", cluster="prod", service="web"),)
    assert settings.bake_time == timedelta(minutes=10)
    assert settings.watch_window == timedelta(hours=1)
    assert settings.loop_guard_limit == 3
    assert settings.lock_ttl == timedelta(minutes=15)
    assert settings.dry_run is False
    assert settings.is_dry_run(OTHER_SERVICE) is True
    assert settings.is_dry_run(SERVICE) is False


def test_settings_defaults_for_optional_variables() -> None:
    # Given only the required variables
    required = {
        key: VALID_ENV[key]
        for key in (
            "HOME_ACCOUNT",
            "HOME_REGION",
            "LEDGER_TABLE_NAME",
            "NOTIFICATION_TOPIC_ARN",
            "SCOPE",
            "BAKE_TIME_SECONDS",
            "WATCH_WINDOW_SECONDS",
            "LOOP_GUARD_LIMIT",
        )
    }

    # When reading them
    settings = from_environment({**required, "BAKE_TIME_SECONDS": "0"})

    # Then the optional ones take their documented defaults, and a zero bake time is allowed
    assert settings.alarm_links == ()
    assert settings.dry_run is False
    assert settings.lock_ttl == timedelta(minutes=30)
    assert settings.bake_time == timedelta(0)


def test_global_dry_run() -> None:
    # Given DRY_RUN=true
    settings = from_environment({**VALID_ENV, "DRY_RUN": "true"})

    # When asking about any service
    answers = (settings.is_dry_run(SERVICE), settings.is_dry_run(OTHER_SERVICE))

    # Then every service is dry-run
    assert answers == (True, True)


INVALID = {
    "negative bake time": ("BAKE_TIME_SECONDS", "-1"),
    "bake time not a number": ("BAKE_TIME_SECONDS", "ten minutes"),
    "bake time over a week": ("BAKE_TIME_SECONDS", str(8 * 24 * 3600)),
    "negative watch window": ("WATCH_WINDOW_SECONDS", "-60"),
    "scope not JSON": ("SCOPE", "{prod/web}"),
    "empty scope": ("SCOPE", "{}"),
    "scope with empty lists": ("SCOPE", '{"services": [], "clusters": []}'),
    "malformed service ARN in scope": (
        "SCOPE",
        '{"services": ["arn:aws:ecs:us-east-1:1234:service/prod/web"]}',
    ),
    "service reference without cluster": ("SCOPE", '{"services": ["web"]}'),
    "invalid cluster name in scope": ("SCOPE", '{"clusters": ["prod cluster"]}'),
    "unknown key in scope": ("SCOPE", '{"cluster": ["prod"]}'),
    "alarm link with * in the middle": (
        "ALARM_LINKS",
        '[{"alarm": "web-*-5xx", "cluster": "prod", "service": "web"}]',
    ),
    "alarm link without service": ("ALARM_LINKS", '[{"alarm": "web-5xx", "cluster": "prod"}]'),
    "alarm links not JSON": ("ALARM_LINKS", "web-5xx=prod/web"),
    "loop guard limit 0": ("LOOP_GUARD_LIMIT", "0"),
    "lock TTL under a minute": ("LOCK_TTL_SECONDS", "30"),
    "topic ARN of another service": ("NOTIFICATION_TOPIC_ARN", "arn:aws:sqs:us-east-1:123456789012:q"),
    "table name too short": ("LEDGER_TABLE_NAME", "t"),
    "home account not 12 digits": ("HOME_ACCOUNT", "12345"),
    "home region not a region": ("HOME_REGION", "Moon-1"),
    "dry run not a boolean": ("DRY_RUN", "maybe"),
}


@pytest.mark.parametrize(("variable", "value"), INVALID.values(), ids=INVALID.keys())
def test_invalid_values_raise_configuration_error_naming_the_variable(variable: str, value: str) -> None:
    # Given an environment with one bad value
    environ = {**VALID_ENV, variable: value}

    # When reading it
    with pytest.raises(ConfigurationError) as raised:
        from_environment(environ)

    # Then the error names the variable (and is a ConfigurationError, not a pydantic stack)
    assert f"{variable}" in str(raised.value)
    assert raised.value.code == "configuration_error"


@pytest.mark.parametrize(
    "variable",
    [
        "HOME_ACCOUNT",
        "HOME_REGION",
        "LEDGER_TABLE_NAME",
        "NOTIFICATION_TOPIC_ARN",
        "SCOPE",
        "BAKE_TIME_SECONDS",
        "WATCH_WINDOW_SECONDS",
        "LOOP_GUARD_LIMIT",
    ],
)
def test_missing_required_variable_is_named(variable: str) -> None:
    # Given an environment without a required variable
    environ = {key: value for key, value in VALID_ENV.items() if key != variable}

    # When reading it
    with pytest.raises(ConfigurationError) as raised:
        from_environment(environ)

    # Then the missing variable is named: no silent default
    assert variable in str(raised.value)


def test_every_bad_variable_is_named_in_one_error() -> None:
    # Given two bad values
    environ = {**VALID_ENV, "BAKE_TIME_SECONDS": "-1", "LOOP_GUARD_LIMIT": "0"}

    # When reading
    with pytest.raises(ConfigurationError) as raised:
        from_environment(environ)

    # Then both are named
    assert "BAKE_TIME_SECONDS" in str(raised.value)
    assert "LOOP_GUARD_LIMIT" in str(raised.value)


SCOPE_CASES = {
    "whole cluster": (Scope(clusters=("prod",)), SERVICE, True),
    "other cluster": (Scope(clusters=("staging",)), SERVICE, False),
    "cluster/service": (Scope(services=("prod/web",)), SERVICE, True),
    "other service of the cluster": (Scope(services=("prod/web",)), OTHER_SERVICE, False),
    "service ARN": (Scope(services=(SERVICE.arn,)), SERVICE, True),
    "same names in another account": (
        Scope(services=(SERVICE.arn,)),
        ServiceId("aws", "us-east-1", "210987654321", "prod", "web"),
        False,
    ),
    "same names in another region": (
        Scope(services=(SERVICE.arn,)),
        ServiceId("aws", "eu-west-1", "123456789012", "prod", "web"),
        False,
    ),
    "cluster name is not a prefix": (Scope(clusters=("pro",)), SERVICE, False),
}


@pytest.mark.parametrize(("scope", "service", "expected"), SCOPE_CASES.values(), ids=SCOPE_CASES.keys())
def test_scope_contains(scope: Scope, service: ServiceId, expected: bool) -> None:
    # Given a scope and a service

    # When asking whether the service is in scope
    answer = scope.contains(service)

    # Then clusters, cluster/service names and ARNs are honoured exactly
    assert answer is expected


def test_scope_service_names() -> None:
    # Given services named both ways
    scope = Scope(services=("prod/web", OTHER_SERVICE.arn))

    # When listing the explicit pairs
    pairs = scope.service_names()

    # Then both give (cluster, service)
    assert pairs == [("prod", "web"), ("prod", "api")]


LINK_CASES = {
    "exact match": ("web-5xx", "web-5xx", True),
    "exact is not a prefix": ("web-5xx", "web-5xx-p99", False),
    "exact is case-sensitive": ("web-5xx", "WEB-5XX", False),
    "prefix matches": ("web-*", "web-5xx", True),
    "prefix matches the bare prefix": ("web-*", "web-", True),
    "prefix does not match others": ("web-*", "api-5xx", False),
    "lone star matches all": ("*", "anything", True),
}


@pytest.mark.parametrize(("pattern", "alarm", "expected"), LINK_CASES.values(), ids=LINK_CASES.keys())
def test_alarm_link_matches(pattern: str, alarm: str, expected: bool) -> None:
    # Given an alarm link
    link = AlarmLink(alarm=pattern, cluster="prod", service="web")

    # When matching an alarm name
    answer = link.matches(alarm)

    # Then exact names and trailing-* prefixes match as documented
    assert answer is expected
    assert link.is_prefix is pattern.endswith("*")


def test_alarm_link_rejects_a_star_in_the_middle() -> None:
    # Given a link with '*' that is not at the end

    # When building it, then it is refused
    with pytest.raises(ValidationError, match="only allowed at the end"):
        AlarmLink(alarm="web-*-5xx", cluster="prod", service="web")


def test_codedeploy_groups_are_read_from_the_environment_and_matched_in_the_home_account() -> None:
    # Given the deployment group of prod/web configured, and none by default
    assert from_environment(VALID_ENV).code_deploy is None
    group = {"service": "prod/web", "application": "AppECS-prod-web", "deploymentGroup": "DgpECS-prod-web"}
    settings = from_environment({**VALID_ENV, "CODE_DEPLOY": json.dumps([group])})

    # Then prod/web of the home account is deployed by it; the same name in another account is not
    found = settings.code_deploy_group(SERVICE)
    assert found is not None and (found.application, found.deployment_group) == (
        "AppECS-prod-web",
        "DgpECS-prod-web",
    )
    elsewhere = ServiceId("aws", "us-east-1", "210987654321", "prod", "web")
    assert settings.code_deploy_group(elsewhere) is None
    assert settings.code_deploy_group(OTHER_SERVICE) is None


@pytest.mark.parametrize(
    "entry",
    [
        {"service": "prod/web", "application": "App/ECS", "deploymentGroup": "Dgp"},
        {"service": "prod/web", "application": "App", "deploymentGroup": ""},
        {"service": "web", "application": "App", "deploymentGroup": "Dgp"},
        {"service": "prod/web", "application": "App"},
    ],
)
def test_a_bad_codedeploy_entry_is_named(entry: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="CODE_DEPLOY"):
        from_environment({**VALID_ENV, "CODE_DEPLOY": json.dumps([entry])})
