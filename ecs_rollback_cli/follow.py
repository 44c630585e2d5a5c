"""``--wait`` and ``--until-good``: follow a deployment to steady state, then through its bake.

ECS is asked (``DescribeServices``) how the service's PRIMARY deployment of the task definition
goes; the ledger is asked whether the release became GOOD, and, when the deployment did not
stick, who rolled it back. Progress goes to stderr, beside the spinner and never on stdout, so
``--json`` output stays parseable while the operator watches. One budget (``--timeout``) covers
both phases.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.status import Status as Spinner

from ecs_rollback.domain.model import Origin, Outcome, RevisionId, ServiceId, Status, TriggerKind
from ecs_rollback_cli.context import Cli
from ecs_rollback_cli.errors import EXIT_ROLLED_BACK, EXIT_TIMEOUT, CliError
from ecs_rollback_cli.views import bake_left, first_line, good_expected_at, when

DEFAULT_TIMEOUT_SECONDS = 900
DEFAULT_POLL_SECONDS = 5
_ROLLBACKS_TO_READ = 10


@dataclass(frozen=True)
class Wait:
    """What the operator asked to wait for, and for how long."""

    steady_state: bool = False
    until_good: bool = False
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    poll_interval: float = DEFAULT_POLL_SECONDS

    @property
    def wanted(self) -> bool:
        return self.steady_state or self.until_good


class _Budget:
    """Polls left before ``timeout``: by the clock, and by count when sleeping is simulated."""

    def __init__(self, cli: Cli, wait: Wait) -> None:
        self.cli = cli
        self.wait = wait
        self.deadline = time.monotonic() + wait.timeout
        self.polls = max(1, math.ceil(wait.timeout / max(wait.poll_interval, 0.001))) + 1
        self.poll = 0

    @property
    def elapsed(self) -> int:
        return int(self.poll * self.wait.poll_interval)

    def next(self) -> bool:
        """Sleep until the next poll; False when the budget is spent."""
        if time.monotonic() >= self.deadline or self.poll >= self.polls - 1:
            return False
        self.cli.runtime.sleep(self.wait.poll_interval)
        self.poll += 1
        return True


@dataclass
class Follower:
    """One deployment of ``task_definition_arn`` on ``cluster``/``service``, as the operator named them."""

    cli: Cli
    cluster: str
    service: str
    task_definition_arn: str
    wait: Wait

    def __post_init__(self) -> None:
        self.revision = str(RevisionId.from_arn(self.task_definition_arn))
        self.budget = _Budget(self.cli, self.wait)
        self._last_line = ""

    @property
    def _where(self) -> str:
        return f"{self.cluster}/{self.service}"

    @property
    def _see_history(self) -> str:
        return f"see `ecs-rollback history {self.cluster} {self.service}`"

    def run(self) -> int:
        with self.cli.err.status(f"waiting for {self._where} to reach steady state ...") as spinner:
            self._steady_state(spinner)
            if self.wait.until_good:
                self._good(spinner)
        return 0

    def _next_poll(self, spinner: Spinner, line: str, meanwhile: str, goal: str = "") -> None:
        """Show where it stands, then sleep until the next poll, or time out saying what goes on."""
        self._say(spinner, line)
        if not self.budget.next():
            raise CliError(
                f"timed out after {self.wait.timeout:g}s waiting for {self.revision} on {self._where}"
                f"{' ' + goal if goal else ''}; {meanwhile}",
                EXIT_TIMEOUT,
            )

    def _say(self, spinner: Spinner, line: str) -> None:
        if line != self._last_line:
            self.cli.err.print(f"[{self.budget.elapsed:>4}s] {line}", markup=False, soft_wrap=True)
            self._last_line = line
        spinner.update(f"{line} ({self.budget.elapsed}s)")

    # -- ECS: steady state -------------------------------------------------------------------

    def _steady_state(self, spinner: Spinner) -> None:
        seen = False
        while True:
            raw = self.cli.aws.describe_service(self.cluster, self.service)
            deployments: list[dict[str, Any]] = raw.get("deployments", [])
            primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
            if primary is not None and primary.get("taskDefinition") == self.task_definition_arn:
                seen = True
                state = primary.get("rolloutState") or "IN_PROGRESS"
                line = (
                    f"{self.revision} {state}: {primary.get('runningCount', 0)}/{primary.get('desiredCount', 0)} "
                    f"running, {primary.get('pendingCount', 0)} pending, {primary.get('failedTasks', 0)} failed"
                )
                if state == "FAILED":
                    reason = primary.get("rolloutStateReason", "no reason given")
                    raise self._did_not_stick(f"the deployment of {self.revision} FAILED: {reason}")
                if state == "COMPLETED":
                    self._say(spinner, line)
                    self.cli.err.print(
                        f"{self._where} reached steady state on {self.revision}", style="bold green"
                    )
                    return
            elif raw.get("taskDefinition") != self.task_definition_arn or seen:
                moved = str(raw.get("taskDefinition")).rsplit("/", 1)[-1]
                raise self._did_not_stick(
                    f"{self._where} moved from {self.revision} to {moved} while waiting"
                )
            else:
                line = f"{self.revision}: waiting for ECS to start the deployment"
            self._next_poll(
                spinner,
                line,
                f"ECS goes on deploying, follow it with `ecs-rollback history {self.cluster} {self.service}`",
            )

    # -- the ledger: the bake ----------------------------------------------------------------

    def _good(self, spinner: Spinner) -> None:
        bake = self.cli.aws.bake_time
        if bake.seconds is None:
            self.cli.err.print(f"warning: no bake countdown: {bake.problem}", markup=False, soft_wrap=True)
        while True:
            now = self.cli.runtime.now()
            recorded = self.cli.aws.ledger.find_revision(
                self._service_id, RevisionId.from_arn(self.task_definition_arn)
            )
            if recorded is None or recorded.task_definition_arn != self.task_definition_arn:
                line = f"{self.revision}: waiting for the ledger to record the deployment"
            elif recorded.status == Status.GOOD:
                self._say(spinner, f"{self.revision} GOOD")
                self.cli.err.print(f"{self._where}: {self.revision} is GOOD", style="bold green")
                return
            elif recorded.status.is_bad:
                raise self._did_not_stick(f"the ledger marks {self.revision} {recorded.status.value} (BAD)")
            elif recorded.status == Status.COMPLETED:
                due = good_expected_at(recorded, bake.seconds)
                line = f"{self.revision} COMPLETED, baking" + (
                    f": {bake_left(now, due)} ({when(due)})" if due else ""
                )
            else:
                line = f"{self.revision} {recorded.status.value}: waiting for the ledger to see steady state"
            self._next_poll(
                spinner, line, "it goes on baking, follow it with `ecs-rollback status`", "to become GOOD"
            )

    # -- who undid it ------------------------------------------------------------------------

    @property
    def _service_id(self) -> ServiceId:
        return self.cli.aws.service_id(self.cluster, self.service)

    def _did_not_stick(self, what: str) -> CliError:
        who = self._who_rolled_back()
        return CliError(f"{what}{'; ' + who if who else ''}; {self._see_history}", EXIT_ROLLED_BACK)

    def _who_rolled_back(self) -> str | None:
        """The ledger's account of it: this service's rollback record, or ECS's own rollback."""
        try:
            service_id = self._service_id
            for record in self.cli.aws.ledger.rollbacks(service_id, limit=_ROLLBACKS_TO_READ).items:
                source = record.from_deployment
                if (
                    record.outcome == Outcome.ROLLED_BACK
                    and source
                    and source.task_definition_arn == self.task_definition_arn
                ):
                    target = record.to_release.revision if record.to_release else "?"
                    kind = (
                        "manual"
                        if record.trigger == TriggerKind.MANUAL
                        else f"automatic, on {record.trigger.value.replace('_', ' ')}"
                    )
                    return (
                        f"the auto-rollback service rolled it back to {target} "
                        f"(rollback {record.rollback_id}, {kind}: {first_line(record.reason, 80)})"
                    )
            state = self.cli.aws.ledger.load(service_id)
        except (CliError, ClientError, BotoCoreError):  # no ledger to ask: ECS's answer stands alone
            return None
        if state is not None and state.current is not None and state.current.origin == Origin.ECS_ROLLBACK:
            return (
                f"ECS rolled it back to {state.current.revision} (its circuit breaker or deployment alarms)"
            )
        return None
