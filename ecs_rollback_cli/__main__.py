"""``python -m ecs_rollback_cli``: the same CLI without the console script."""

from __future__ import annotations

from ecs_rollback_cli.main import app

app(prog_name="ecs-rollback")
