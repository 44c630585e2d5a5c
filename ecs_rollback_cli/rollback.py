"""Rolling back by hand through the manual rollback Lambda.

The CLI never calls UpdateService itself: the function takes the service's lock, pins images to
their recorded digests, writes the ledger and notifies, exactly as for an automatic rollback.
The CLI builds the contract's request, shows what it is about to ask, and prints the answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import typer
from botocore.exceptions import ClientError
from questionary import Choice
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table
from rich.text import Text

from ecs_rollback.domain.errors import InvalidRequest
from ecs_rollback.domain.model import Deployment, ServiceId, ServiceState
from ecs_rollback.domain.targets import GitShaTarget, LastGood, RevisionTarget, TargetSpec, parse_target
from ecs_rollback_cli.context import Cli
from ecs_rollback_cli.errors import EXIT_ERROR, EXIT_REFUSED, EXIT_USAGE, CliError
from ecs_rollback_cli.runtime import Prompter
from ecs_rollback_cli.views import (
    NONE,
    REMINDER,
    ago,
    answer_renderable,
    first_line,
    image_tags,
    short_sha,
    status_text,
)

HISTORY_CHOICES = 25
REASON_QUESTION = "Why roll back? (recorded in the ledger and the notification)"
REASON_REQUIRED = "a reason is required"


@dataclass(frozen=True)
class Plan:
    """One service's rollback as the operator asked for it, with what the ledger says about it."""

    service: ServiceId
    target: str  # as the contract takes it: last-good, family:revision, ARN or git SHA
    force: bool
    current: Deployment | None
    to: Deployment | None

    def request(self, reason: str, dry_run: bool, requested_by: str) -> dict[str, Any]:
        return {
            "cluster": self.service.cluster,
            "service": self.service.name,
            "target": self.target,
            "reason": reason,
            "dry_run": dry_run,
            "force": self.force,
            "requested_by": requested_by,
        }


def parse_to(text: str) -> TargetSpec:
    try:
        return parse_target(text)
    except InvalidRequest as error:
        raise CliError(f"--to: {error.message}", EXIT_USAGE) from error


def exit_code(answer: dict[str, Any]) -> int:
    if "error" in answer or answer.get("outcome") == "FAILED":
        return EXIT_ERROR
    if answer.get("outcome") == "REFUSED":
        return EXIT_REFUSED
    return 0


def invoke(cli: Cli, request: dict[str, Any]) -> dict[str, Any]:
    """One synchronous Invoke of the manual rollback function; its answer, or a clear error."""
    name = cli.aws.function_name
    client = cli.aws.client("lambda", invoke=True)
    try:
        response = client.invoke(
            FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps(request).encode()
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise CliError(
                f"Lambda function {name!r} not found in {cli.aws.region}; check --function-name or --stack"
            ) from error
        raise
    raw = response["Payload"].read()
    try:
        answer = json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CliError(
            f"the rollback function {name} answered with something that is not JSON: {raw[:200]!r}"
        ) from error
    if response.get("FunctionError"):
        detail = answer if isinstance(answer, dict) else {}
        raise CliError(
            f"the rollback function {name} failed ({detail.get('errorType', response['FunctionError'])}: "
            f"{detail.get('errorMessage', 'no message')}); see its CloudWatch logs"
        )
    if not isinstance(answer, dict):
        raise CliError(f"the rollback function {name} answered {raw[:200]!r}, not a JSON object")
    return answer


def resolve(cli: Cli, service: ServiceId, state: ServiceState | None, spec: TargetSpec) -> Deployment | None:
    """What the target names in the ledger now, for the confirmation (the function decides)."""
    current_arn = state.current.task_definition_arn if state and state.current else None
    if isinstance(spec, LastGood):
        return state.newest_good_except(current_arn) if state else None
    if isinstance(spec, RevisionTarget):
        return cli.aws.ledger.find_revision(service, spec.revision)
    if isinstance(spec, GitShaTarget):
        found = cli.aws.ledger.find_git_sha(service, spec.prefix)
        return max(found, key=lambda deployment: deployment.started_at) if found else None
    return None


def _describe(deployment: Deployment | None, now: Any) -> Text:
    if deployment is None:
        return Text(NONE)
    text = Text(f"{deployment.revision} ")
    text.append_text(status_text(deployment.status, spell_bad=True))
    text.append(f"  {image_tags(deployment)}  git {short_sha(deployment.git_sha)}")
    if deployment.commit_message:
        text.append(f'  "{first_line(deployment.commit_message, 40)}"', style="italic")
    text.append(f"  {ago(now, deployment.deployed_at)}", style="dim")
    return text


def summary_table(cli: Cli, plans: list[Plan], reason: str) -> Table:
    table = Table(
        title=f"Rollback plan (reason: {reason})",
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
    )
    for column in ("SERVICE", "FROM", "TO", "FORCE"):
        table.add_column(column, overflow="fold")
    now = cli.runtime.now()
    for plan in plans:
        to = _describe(plan.to, now) if plan.to else Text(f"{plan.target} (resolved by the function)")
        table.add_row(str(plan.service), _describe(plan.current, now), to, "yes" if plan.force else "no")
    return table


def run(cli: Cli, plans: list[Plan], reason: str, dry_run: bool, requested_by: str, as_json: bool) -> int:
    """Invoke once per service, showing progress; the exit code is the worst outcome's."""
    answers: list[dict[str, Any]] = []
    console = cli.err if as_json else cli.out
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("rolling back", total=len(plans))
        for plan in plans:
            verb = "dry run" if dry_run else "rolling back"
            progress.update(task, description=f"{plan.service}: {verb} to {plan.target} ...")
            try:
                answer = invoke(cli, plan.request(reason, dry_run, requested_by))
            except CliError as error:
                answer = {"error": "invoke_failed", "message": error.message, "service": str(plan.service)}
            answers.append(answer)
            if not as_json:
                progress.console.print(answer_renderable(answer))
            progress.advance(task)
    if as_json:
        typer.echo(json.dumps(answers if len(answers) > 1 else answers[0], indent=2))
    codes = [exit_code(answer) for answer in answers]
    return EXIT_ERROR if EXIT_ERROR in codes else max(codes)


# -- rollback CLUSTER SERVICE ---------------------------------------------------------------


def direct(
    cli: Cli,
    cluster: str,
    service_name: str,
    *,
    to: str,
    reason: str | None,
    dry_run: bool,
    force: bool,
    yes: bool,
    requested_by: str | None,
    as_json: bool,
) -> int:
    spec = parse_to(to)
    if not reason:
        if yes or not cli.runtime.can_prompt:
            raise CliError(
                "--reason is required: say why you roll back (it goes to the ledger and the notification)",
                EXIT_USAGE,
            )
        reason = cli.runtime.prompts("pass --reason").text(REASON_QUESTION, required=REASON_REQUIRED)
    service = cli.aws.service_id(cluster, service_name)
    plan = Plan(service, to.strip(), force, None, None)
    who = requested_by or cli.aws.identity["arn"]
    if not (dry_run or yes):
        prompter = cli.runtime.prompts(
            "pass --yes to roll back without confirming (or --dry-run to see what would happen)"
        )
        state = cli.aws.ledger.load(service)
        if state is None:
            raise CliError(
                f"{service} is not in the ledger (table {cli.aws.table_name}); run `ecs-rollback adopt {cluster} {service_name}` "
                "to record its running revision as good, or check --region/--profile"
            )
        plan = Plan(service, plan.target, force, state.current, resolve(cli, service, state, spec))
        _confirm(cli, prompter, [plan], reason)
    with cli.err.status(f"invoking {cli.aws.function_name} for {service} ..."):
        answer = invoke(cli, plan.request(reason, dry_run, who))
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
    elif "error" not in answer:
        cli.out.print(answer_renderable(answer))
    if "error" in answer:
        raise CliError(
            f"the rollback function rejected the request ({answer['error']}): {answer.get('message')}"
        )
    if answer.get("outcome") == "REFUSED":
        cli.err.print(
            f"refused ({answer.get('code')}): {answer.get('message')}", markup=False, soft_wrap=True
        )
    return exit_code(answer)


def _confirm(cli: Cli, prompter: Prompter, plans: list[Plan], reason: str) -> None:
    cli.out.print(summary_table(cli, plans, reason))
    cli.out.print(Text(REMINDER, style="bold yellow"))
    if not prompter.confirm("Roll back now?", default=False):
        raise CliError("cancelled; nothing was changed")


# -- rollback (the dialog) ------------------------------------------------------------------


def dialog(
    cli: Cli,
    cluster: str | None,
    *,
    reason: str | None,
    dry_run: bool,
    force: bool,
    requested_by: str | None,
    as_json: bool,
) -> int:
    """Cluster, services, a revision for each, a reason, the plan, then run with progress."""
    prompter = cli.runtime.prompts("give CLUSTER SERVICE, --reason and --yes to roll back without a dialog")
    states = cli.all_services()
    if not states:
        raise CliError(
            "the ledger has no services yet; deploy one, or run `ecs-rollback adopt CLUSTER SERVICE`"
        )
    clusters = sorted({state.service.cluster for state in states})
    if cluster is None:
        if len(clusters) == 1:
            cluster = clusters[0]
            cli.out.print(f"Cluster: [bold]{cluster}[/bold] (the only one in the ledger)")
        else:
            cluster = prompter.select(
                "Which cluster?",
                [Choice(f"{name}  ({_count(states, name)})", name) for name in clusters],
            )
    in_cluster = [state for state in states if state.service.cluster == cluster]
    if not in_cluster:
        raise CliError(
            f"no service of cluster {cluster!r} is in the ledger; known clusters: {', '.join(clusters)}"
        )
    now = cli.runtime.now()
    picked = prompter.checkbox(
        "Which services? (space selects, enter confirms)",
        [Choice(_service_label(state, now), str(index)) for index, state in enumerate(in_cluster)],
        at_least_one="select at least one service with the space bar",
    )
    chosen = [_choose_revision(cli, prompter, in_cluster[int(index)], force) for index in picked]
    plans = [plan for plan in chosen if plan is not None]
    if not plans:
        raise CliError("none of the selected services has a revision to roll back to; nothing was changed")
    reason = reason or prompter.text(REASON_QUESTION, required=REASON_REQUIRED)
    cli.out.print(summary_table(cli, plans, reason))
    cli.out.print(Text(REMINDER, style="bold yellow"))
    action = prompter.select(
        "Go ahead?",
        [
            Choice(f"Roll back {len(plans)} service(s) now", "run"),
            Choice("Dry run only: show what would happen, change nothing", "dry-run"),
            Choice("Cancel", "cancel"),
        ],
        default="dry-run" if dry_run else "run",
    )
    if action == "cancel":
        raise CliError("cancelled; nothing was changed")
    return run(cli, plans, reason, action == "dry-run", requested_by or cli.aws.identity["arn"], as_json)


def _count(states: list[ServiceState], cluster: str) -> str:
    count = sum(1 for state in states if state.service.cluster == cluster)
    return f"{count} service" + ("" if count == 1 else "s")


def _service_label(state: ServiceState, now: Any) -> str:
    current = state.current
    if current is None:
        return f"{state.service.name}  (nothing recorded yet)"
    flight = "  ROLLBACK IN FLIGHT" if state.in_flight and state.in_flight.active(now) else ""
    return (
        f"{state.service.name}  running {current.revision} {current.status.value} "
        f"{image_tags(current)} git {short_sha(current.git_sha)}{flight}"
    )


def _revision_label(deployment: Deployment, now: Any) -> str:
    status = deployment.status.value + (
        " ✓" if deployment.status.value == "GOOD" else " ✗ BAD" if deployment.status.is_bad else ""
    )
    return (
        f"{deployment.revision!s:<12} {status:<17} {image_tags(deployment)[:16]:<16} "
        f"{short_sha(deployment.git_sha):<7}  {ago(now, deployment.deployed_at):>11}  "
        f"{first_line(deployment.commit_message, 44)}"
    )


def _choose_revision(cli: Cli, prompter: Prompter, state: ServiceState, force: bool) -> Plan | None:
    now = cli.runtime.now()
    seen: set[str] = set()
    revisions: list[Deployment] = []
    for deployment in cli.aws.ledger.history(state.service, limit=HISTORY_CHOICES).items:
        if deployment.task_definition_arn not in seen:
            seen.add(deployment.task_definition_arn)
            revisions.append(deployment)
    current_arn = state.current.task_definition_arn if state.current else None
    if not [d for d in revisions if d.task_definition_arn != current_arn]:
        cli.out.print(f"[yellow]{state.service}: the ledger holds no other revision; skipped[/yellow]")
        return None
    # A rollback runs a pinned copy of its target: that target is what runs, not a way back.
    running_source = state.current.source_task_definition_arn if state.current else None
    choices = [
        Choice(
            _revision_label(deployment, now)
            + ("  (runs now as a pinned copy)" if deployment.task_definition_arn == running_source else ""),
            str(index),
            disabled="running now" if deployment.task_definition_arn == current_arn else None,
        )
        for index, deployment in enumerate(revisions)
    ]
    enabled = [str(i) for i, d in enumerate(revisions) if d.task_definition_arn != current_arn]
    preferences = (
        lambda d: d.status.value == "GOOD" and d.task_definition_arn != running_source,
        lambda d: not d.status.is_bad and d.task_definition_arn != running_source,
        lambda d: not d.status.is_bad,
    )
    default = next(
        (index for prefer in preferences for index in enabled if prefer(revisions[int(index)])), enabled[0]
    )
    while True:
        index = prompter.select(f"{state.service}: roll back to which revision?", choices, default=default)
        chosen = revisions[int(index)]
        if not chosen.status.is_bad or force:
            return Plan(state.service, str(chosen.revision), force, state.current, chosen)
        if prompter.confirm(
            f"{chosen.revision} is recorded as {chosen.status.value} (BAD). Roll back to it anyway (force)?",
            default=False,
        ):
            return Plan(state.service, str(chosen.revision), True, state.current, chosen)
