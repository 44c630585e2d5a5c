"""``ecs-rollback``: the operator CLI of the ECS auto-rollback service.

It reads the deploy ledger, rolls back through the manual rollback Lambda (so a rollback by
hand goes through the same decision, lock and ledger as an automatic one), deploys with
immutable git-SHA tags, and adopts a running revision as the baseline GOOD.
"""

from __future__ import annotations
