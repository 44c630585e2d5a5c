"""The functions' environment, written by the contract's own mapping and read back at synth.

Reading it back with ``from_environment`` makes synth fail where a cold start would.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Token

from ecs_rollback.config import Settings
from ecs_rollback.contract import Env, from_environment, powertools_environment, to_environment
from ecs_rollback_cdk.config import ConfigError, RollbackConfig
from ecs_rollback_cdk.constructs.functions import ROLLBACK_PATH

# The lease a run holds on a rollback's step: the longest timeout of the functions that carry a
# rollback out, and a margin, so a run that timed out has lost it before Lambda retries.
LEASE_MARGIN_SECONDS = 30
LEASE_SECONDS = max(spec.timeout_seconds for spec in ROLLBACK_PATH) + LEASE_MARGIN_SECONDS

# Deploy-time values are tokens at synth; the ones the runtime model checks get a stand-in of
# their shape, every other token a plain string.
_STAND_INS: Mapping[str, str] = {
    Env.HOME_ACCOUNT: "123456789012",
    Env.HOME_REGION: "us-east-1",
    Env.LEDGER_TABLE_NAME: "ledger-table",
    Env.NOTIFICATION_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:notifications",
    Env.BAKE_TIMER_DEAD_LETTER_ARN: "arn:aws:sqs:us-east-1:123456789012:bake-dead-letters",
}


def function_environment(
    config: RollbackConfig, *, ledger_table_name: str, notification_topic_arn: str, **deploy_time: str
) -> dict[str, str]:
    """``deploy_time``: the per-function ``Settings`` fields that are tokens until deploy."""
    settings = Settings.model_construct(
        home_account=Aws.ACCOUNT_ID,
        home_region=Aws.REGION,
        ledger_table_name=ledger_table_name,
        notification_topic_arn=notification_topic_arn,
        scope=config.scope,
        alarm_links=config.alarm_links,
        bake_time_seconds=config.bake_time_seconds,
        watch_window_seconds=config.watch_window_seconds,
        loop_guard_limit=config.loop_guard_limit,
        loop_guard_period_seconds=config.loop_guard_period_seconds,
        lock_ttl_seconds=config.lock_ttl_seconds,
        lease_seconds=LEASE_SECONDS,
        dry_run=config.dry_run,
        dry_run_services=config.dry_run_services,
        rollback_known_bad_releases=config.rollback_known_bad_releases,
        bake_timer_function_arn=None,
        bake_timer_role_arn=None,
        bake_timer_dead_letter_arn=None,
        schedule_group_name=None,
    ).model_copy(update=deploy_time)
    unset = sorted(set(Settings.model_fields) - settings.model_fields_set)
    if unset:  # model_construct does not complain: a field the construct forgot would fail at cold start
        raise ConfigError([f"the construct does not set the functions' Settings fields {', '.join(unset)}"])
    environment = to_environment(settings)
    _check_runtime_contract(environment)
    return {**environment, **powertools_environment(config.log_level)}


def _check_runtime_contract(environment: Mapping[str, str]) -> None:
    resolved = {
        name: _STAND_INS.get(name, "stand-in") if Token.is_unresolved(value) else value
        for name, value in environment.items()
    }
    try:
        from_environment(resolved)
    except Exception as exc:  # ConfigurationError from the runtime model
        raise ConfigError([f"the function environment would not load at cold start: {exc}"]) from exc
