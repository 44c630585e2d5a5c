"""The object every command receives: AWS access, injected surroundings, and the two consoles."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console

from ecs_rollback.domain.model import ServiceState
from ecs_rollback_cli.aws import Aws
from ecs_rollback_cli.runtime import Runtime


@dataclass
class Cli:
    aws: Aws
    runtime: Runtime
    out: Console = field(default_factory=lambda: Console(highlight=False))
    err: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))

    def all_services(self) -> list[ServiceState]:
        """Every service in the ledger: one Query per hundred services, never a scan."""
        states: list[ServiceState] = []
        cursor: str | None = None
        while True:
            page = self.aws.ledger.services(limit=100, cursor=cursor)
            states.extend(page.items)
            cursor = page.cursor
            if not cursor:
                return sorted(states, key=lambda state: (state.service.cluster, state.service.name))
