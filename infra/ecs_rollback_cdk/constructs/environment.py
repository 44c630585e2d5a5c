"""The functions' environment, written by the contract's own mapping and read back at synth.

Reading it back with ``from_environment`` makes synth fail where a cold start would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    Env.CHAT_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:chat",
    Env.BAKE_TIMER_DEAD_LETTER_ARN: "arn:aws:sqs:us-east-1:123456789012:bake-dead-letters",
}


# The Settings fields that are the configuration's own, under the same name (scope, bake time, ...).
_FROM_CONFIG = frozenset(Settings.model_fields) & frozenset(RollbackConfig.model_fields)
# Set only for the functions that use them (``deploy_time``).
_PER_FUNCTION = (
    "chat_topic_arn",
    "bake_timer_function_arn",
    "bake_timer_role_arn",
    "bake_timer_dead_letter_arn",
    "schedule_group_name",
    "groups",  # only the manual rollback function rolls groups back
)


def function_environment(
    config: RollbackConfig, *, ledger_table_name: str, notification_topic_arn: str, **deploy_time: object
) -> dict[str, str]:
    """``deploy_time``: the per-function ``Settings`` fields (most are tokens until deploy)."""
    values: dict[str, Any] = {
        **{name: getattr(config, name) for name in _FROM_CONFIG},
        **dict.fromkeys(_PER_FUNCTION),
        "home_account": Aws.ACCOUNT_ID,
        "home_region": Aws.REGION,
        "ledger_table_name": ledger_table_name,
        "notification_topic_arn": notification_topic_arn,
        "lease_seconds": LEASE_SECONDS,
    }
    settings = Settings.model_construct(**values).model_copy(update=deploy_time)
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
