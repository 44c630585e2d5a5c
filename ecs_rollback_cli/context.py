"""The object every command receives: AWS access, injected surroundings, and the two consoles."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import typer
from rich.console import Console

from ecs_rollback.domain.model import ServiceId
from ecs_rollback.domain.state import ServiceState
from ecs_rollback_cli.aws import Aws
from ecs_rollback_cli.errors import CliError
from ecs_rollback_cli.runtime import Runtime


@dataclass
class Cli:
    aws: Aws
    runtime: Runtime
    out: Console = field(default_factory=lambda: Console(highlight=False))
    err: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))

    def all_services(self) -> list[ServiceState]:
        """Every service in the ledger: one Query per hundred services, never a scan, and what each
        runs read whole from its deployment record (the state keeps it compact)."""
        states: list[ServiceState] = []
        cursor: str | None = None
        while True:
            page = self.aws.ledger.services(limit=100, cursor=cursor)
            states.extend(self.with_current_record(state) for state in page.items)
            cursor = page.cursor
            if not cursor:
                return sorted(states, key=lambda state: (state.service.cluster, state.service.name))

    def ledger_state(
        self, cluster: str, service: str, *, account: str | None = None, region: str | None = None
    ) -> ServiceState:
        """The service's state item; when the ledger has none, an error that says what to check."""
        service_id = self.aws.service_id(cluster, service, account=account, region=region)
        state = self.aws.ledger.load(service_id)
        if state is None:
            raise CliError(
                f"{service_id} is not in the ledger (table {self.aws.table_name}); check the names, --region "
                f"and --profile, or run `ecs-rollback adopt {cluster} {service}`"
            )
        return state

    def state_of(self, service: ServiceId) -> ServiceState | None:
        state = self.aws.ledger.load(service)
        return self.with_current_record(state) if state is not None else None

    def with_current_record(self, state: ServiceState) -> ServiceState:
        """The state with ``current`` replaced by its deployment record (images, commit message)."""
        if state.current is None:
            return state
        record = self.aws.ledger.get_deployment(state.service, state.current.deployment_id)
        return replace(state, current=record.summary()) if record is not None else state


def cli_of(ctx: typer.Context) -> Cli:
    """The ``Cli`` of the command being run."""
    cli = ctx.find_object(Cli)
    assert cli is not None, "the app callback builds the Cli object"
    return cli
