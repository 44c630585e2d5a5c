"""The AWS CDK infrastructure of ECS auto-rollback.

``EcsAutoRollback`` is the reusable construct; ``EcsAutoRollbackStack`` the thin default stack;
``RollbackConfig`` the validated ``ecsRollback`` context (see docs/configuration.md).
Importing needs the ``ecs_rollback`` package (``lambdas/``) on the path.
"""

from infra.config import ConfigError, RollbackConfig
from infra.construct import LEDGER_INDEXES, EcsAutoRollback, import_ledger_table, lambda_code
from infra.stack import EcsAutoRollbackStack

__all__ = [
    "LEDGER_INDEXES",
    "ConfigError",
    "EcsAutoRollback",
    "EcsAutoRollbackStack",
    "RollbackConfig",
    "import_ledger_table",
    "lambda_code",
]
