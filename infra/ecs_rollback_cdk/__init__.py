"""The AWS CDK infrastructure of ECS auto-rollback.

``EcsAutoRollback`` is the reusable construct; ``EcsAutoRollbackStack`` the thin default stack;
``RollbackConfig`` the validated ``ecsRollback`` context (see docs/configuration.md).
Importing needs the ``ecs_rollback`` package (``lambdas/``) on the path.
"""

from ecs_rollback.contract import LEDGER_INDEXES
from ecs_rollback_cdk.config import ConfigError, RollbackConfig
from ecs_rollback_cdk.construct import EcsAutoRollback, import_ledger_table, lambda_code
from ecs_rollback_cdk.stack import EcsAutoRollbackStack

__all__ = [
    "LEDGER_INDEXES",
    "ConfigError",
    "EcsAutoRollback",
    "EcsAutoRollbackStack",
    "RollbackConfig",
    "import_ledger_table",
    "lambda_code",
]
