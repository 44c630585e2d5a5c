"""Build the CDK app from the ``ecsRollback`` context: validate, compose the stack, add cdk-nag.

Synth needs no AWS credentials, network, Docker or git. The stack is environment-agnostic (the
same template whether or not the CLI found credentials; account and region come from where it is
deployed), and the Powertools layer ARN is resolved by CloudFormation at deploy time.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from ecs_rollback_cdk.config import CONTEXT_KEY, ConfigError, RollbackConfig
from ecs_rollback_cdk.member_stack import MEMBER_STACK_SUFFIX, MemberStack
from ecs_rollback_cdk.stack import EcsAutoRollbackStack


def build_app(
    *,
    context: Mapping[str, Any] | None = None,
    outdir: str | None = None,
    env: Environment | None = None,
    nag: bool = True,
) -> tuple[App, EcsAutoRollbackStack]:
    """The app and its stack. ``context`` overrides what ``cdk.json``/``--context`` supply.

    With ``members`` the app also holds the member stack (``<stackName>Member``), for each member
    account to deploy (or a StackSet to use as its template).
    """
    app = App(context=dict(context) if context is not None else None, outdir=outdir)
    config = RollbackConfig.from_context(app.node.try_get_context(CONTEXT_KEY))
    stack = EcsAutoRollbackStack(app, config.stack_name, config=config, env=env)
    if config.members is not None:
        MemberStack(app, f"{config.stack_name}{MEMBER_STACK_SUFFIX}", config=config)
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def cdk_json_context(path: Path) -> dict[str, Any]:
    """The ``context`` of cdk.json, so that ``python app.py`` without the CDK CLI sees it too.

    When the CLI runs the app it passes the same context (plus ``--context`` values) in
    ``CDK_CONTEXT_JSON``, which takes precedence over what is given here.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as exc:
        raise ConfigError(
            [f"{path.name} is not valid JSON ({exc.msg}, line {exc.lineno}). Fix: correct the file"]
        ) from exc
    context = document.get("context", {}) if isinstance(document, dict) else {}
    return context if isinstance(context, dict) else {}


def main(cdk_json: Path | None = None) -> int:
    try:
        context = cdk_json_context(cdk_json) if cdk_json is not None else None
        app, _ = build_app(context=context)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("See docs/configuration.md for every key, its default and an example.", file=sys.stderr)
        return 2
    app.synth()
    return 0
