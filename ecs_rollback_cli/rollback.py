"""Rolling back by hand through the manual rollback Lambda.

The CLI never calls UpdateService itself: the function takes the service's lock, pins images to
their recorded digests, writes the ledger and notifies, exactly as for an automatic rollback.
Nor does it choose the target: before asking, it sends the function the same request with
``"dry_run": true`` and shows that answer's from and to, so what the operator confirms is what
the function decided. Then, if confirmed, the same request again, with ``dry_run`` as asked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import typer
from questionary import Choice
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ecs_rollback.domain.errors import InvalidRequest
from ecs_rollback.domain.model import Deployment, Outcome, ServiceId
from ecs_rollback.domain.state import ServiceState
from ecs_rollback.domain.targets import TargetSpec, parse_target
from ecs_rollback_cli.context import Cli
from ecs_rollback_cli.errors import (
    EXIT_ERROR,
    EXIT_REFUSED,
    EXIT_USAGE,
    CliError,
    print_error,
    when_aws_says,
    with_hint,
)
from ecs_rollback_cli.follow import Follower, Wait
from ecs_rollback_cli.runtime import Prompter
from ecs_rollback_cli.views import (
    REMINDER,
    ago,
    answer_renderable,
    first_line,
    image_tags,
    revision_lines,
    short_sha,
)

HISTORY_CHOICES = 25
REASON_QUESTION = "Why roll back? (recorded in the ledger and the notification)"
REASON_REQUIRED = "a reason is required"

Answer = dict[str, Any]


@dataclass(frozen=True)
class RollbackOptions:
    """The ``rollback`` command's options, as the operator gave them."""

    to: str = "last-good"
    reason: str | None = None
    dry_run: bool = False
    force: bool = False
    yes: bool = False
    requested_by: str | None = None
    as_json: bool = False
    wait: Wait = field(default_factory=Wait)


@dataclass(frozen=True)
class Plan:
    """One service's rollback request; ``cluster`` is as the operator named it (name or ARN)."""

    cluster: str
    service: ServiceId
    target: str  # as the contract takes it: last-good, family:revision, ARN or git SHA
    force: bool

    def request(self, reason: str, dry_run: bool, requested_by: str) -> dict[str, Any]:
        return {
            # A cluster ARN names another account (a central installation's member) or region.
            "cluster": self.cluster if self.cluster.startswith("arn:") else self.service.cluster,
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


def exit_code(answer: Answer) -> int:
    if "error" in answer or answer.get("outcome") == Outcome.FAILED:
        return EXIT_ERROR
    if answer.get("outcome") == Outcome.REFUSED:
        return EXIT_REFUSED
    return 0


def worst(codes: Sequence[int]) -> int:
    """Any error wins; else the highest code (a refusal, a failed wait) over success."""
    return EXIT_ERROR if EXIT_ERROR in codes else max(codes, default=0)


def invoke(cli: Cli, request: dict[str, Any]) -> Answer:
    """One synchronous Invoke of the manual rollback function; its answer, or a clear error."""
    name = cli.aws.function_name
    client = cli.aws.client("lambda", invoke=True)
    with when_aws_says(
        "ResourceNotFoundException",
        f"Lambda function {name!r} not found in {cli.aws.region}; check --function-name or --stack",
    ):
        response = client.invoke(
            FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps(request).encode()
        )
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


def invoke_each(
    cli: Cli, plans: Sequence[Plan], reason: str, dry_run: bool, requested_by: str, *, keep_going: bool
) -> list[Answer]:
    """One Invoke per plan, a spinner on stderr meanwhile; with ``keep_going`` a failed Invoke
    becomes an ``invoke_failed`` answer instead of stopping the others."""
    answers: list[Answer] = []
    verb = "dry run" if dry_run else "rolling back"
    for number, plan in enumerate(plans, start=1):
        counter = f"[{number}/{len(plans)}] " if len(plans) > 1 else ""
        with cli.err.status(
            f"{counter}{plan.service}: {verb} to {plan.target} ({cli.aws.function_name}) ..."
        ):
            try:
                answers.append(invoke(cli, plan.request(reason, dry_run, requested_by)))
            except CliError as error:
                if not keep_going:
                    raise
                answers.append(
                    {"error": "invoke_failed", "message": error.message, "service": str(plan.service)}
                )
    return answers


def say_refused(cli: Cli, answer: Answer) -> None:
    """A refusal as one line on stderr, with the CLI flag that answers it when there is one."""
    if answer.get("outcome") == Outcome.REFUSED:
        cli.err.print(
            with_hint(f"refused ({answer.get('code')}): {answer.get('message')}", answer.get("code")),
            markup=False,
            soft_wrap=True,
        )


def show(cli: Cli, console: Console, answer: Answer) -> None:
    console.print(answer_renderable(answer))
    say_refused(cli, answer)


def print_json(answers: Sequence[Answer]) -> None:
    typer.echo(json.dumps(answers[0] if len(answers) == 1 else list(answers), indent=2))


def plan_table(previews: Sequence[tuple[Plan, Answer]], reason: str) -> Table:
    """From and to as the function's dry run answered them: revision, status, commit, images."""
    table = Table(
        title=f"Rollback plan (reason: {reason})",
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
    )
    for column in ("SERVICE", "FROM", "TO", "FORCE"):
        table.add_column(column, overflow="fold")
    for plan, preview in previews:
        table.add_row(
            str(plan.service),
            *(
                revision_lines(preview.get(side) or {}, spell_bad=True, registry=False)
                for side in ("from", "to")
            ),
            "yes" if plan.force else "no",
        )
    return table


def confirm_plan(
    cli: Cli, console: Console, prompter: Prompter, previews: Sequence[tuple[Plan, Answer]], reason: str
) -> None:
    console.print(plan_table(previews, reason))
    console.print(Text(REMINDER, style="bold yellow"))
    if not prompter.confirm("Roll back now?", default=False):
        raise CliError("cancelled; nothing was changed")


def warn_if_retargeted(cli: Cli, preview: Answer, answer: Answer) -> None:
    """The function decides again on the second call; say so if the ledger moved in between."""
    confirmed, done = (preview.get("to") or {}), (answer.get("to") or {})
    if answer.get("outcome") == Outcome.ROLLED_BACK and confirmed.get("task_definition_arn") != done.get(
        "task_definition_arn"
    ):
        cli.err.print(
            f"warning: {answer.get('service')}: the function rolled back to {done.get('revision')}, not to "
            f"{confirmed.get('revision')} as confirmed: the ledger changed between the dry run and the rollback",
            markup=False,
            soft_wrap=True,
        )


def follow(cli: Cli, done: Sequence[tuple[Plan, Answer]], wait: Wait) -> int:
    """``--wait``: each rollback's own deployment to steady state (and GOOD); the worst exit."""
    codes = [0]
    for plan, answer in done:
        deployed = answer.get("deployed_task_definition_arn")
        if not wait.wanted or answer.get("outcome") != Outcome.ROLLED_BACK or not deployed:
            continue
        try:
            codes.append(Follower(cli, plan.cluster, plan.service.name, str(deployed), wait).run())
        except CliError as error:
            print_error(error)
            codes.append(error.exit_code)
    return worst(codes)


# -- rollback CLUSTER SERVICE ---------------------------------------------------------------


def direct(cli: Cli, cluster: str, service_name: str, options: RollbackOptions) -> int:
    parse_to(options.to)
    if options.dry_run and options.wait.wanted:
        raise CliError(
            "--wait and --until-good follow a rollback's deployment; a --dry-run starts none", EXIT_USAGE
        )
    reason = options.reason
    if not reason:
        if options.yes or not cli.runtime.can_prompt:
            raise CliError(
                "--reason is required: say why you roll back (it goes to the ledger and the notification)",
                EXIT_USAGE,
            )
        reason = cli.runtime.prompts("pass --reason").text(REASON_QUESTION, required=REASON_REQUIRED)
    plan = Plan(cluster, cli.aws.service_id(cluster, service_name), options.to.strip(), options.force)
    who = options.requested_by or cli.aws.identity["arn"]
    console = cli.err if options.as_json else cli.out
    preview: Answer | None = None
    if not (options.dry_run or options.yes):
        prompter = cli.runtime.prompts(
            "pass --yes to roll back without confirming (or --dry-run to see what would happen)"
        )
        [preview] = invoke_each(cli, [plan], reason, True, who, keep_going=False)
        if preview.get("outcome") == Outcome.DRY_RUN:
            confirm_plan(cli, console, prompter, [(plan, preview)], reason)
    if preview is not None and preview.get("outcome") != Outcome.DRY_RUN:
        answer = preview  # refused, skipped or an error: nothing to confirm, nothing to call again
    else:
        [answer] = invoke_each(cli, [plan], reason, options.dry_run, who, keep_going=False)
    if options.as_json:
        print_json([answer])
    if "error" in answer:
        raise CliError(
            f"the rollback function rejected the request ({answer['error']}): {answer.get('message')}"
        )
    if options.as_json:
        say_refused(cli, answer)
    else:
        show(cli, console, answer)
    if preview is not None and answer is not preview:
        warn_if_retargeted(cli, preview, answer)
    return worst([exit_code(answer), follow(cli, [(plan, answer)], options.wait)])


# -- rollback (the dialog) ------------------------------------------------------------------


# Offered the chosen services: rolls them back as their group and gives the exit code, or None.
Together = Callable[[Prompter, Console, list[ServiceId]], "int | None"]


def dialog(cli: Cli, cluster: str | None, options: RollbackOptions, together: Together | None = None) -> int:
    """Cluster, services, a revision for each, a reason; the function's dry run as the plan; then run.
    When the chosen services form a configured group, ``together`` may roll them back as one."""
    prompter = cli.runtime.prompts("give CLUSTER SERVICE, --reason and --yes to roll back without a dialog")
    console = cli.err if options.as_json else cli.out
    states = cli.all_services()
    if not states:
        raise CliError(
            "the ledger has no services yet; deploy one, or run `ecs-rollback adopt CLUSTER SERVICE`"
        )
    clusters = sorted({state.service.cluster for state in states})
    if cluster is None:
        if len(clusters) == 1:
            cluster = clusters[0]
            console.print(f"Cluster: [bold]{cluster}[/bold] (the only one in the ledger)")
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
    if together is not None:
        as_group = together(prompter, console, [in_cluster[int(index)].service for index in picked])
        if as_group is not None:
            return as_group
    chosen = [_choose_revision(cli, prompter, in_cluster[int(index)], options.force) for index in picked]
    plans = [plan for plan in chosen if plan is not None]
    if not plans:
        raise CliError("none of the selected services has a revision to roll back to; nothing was changed")
    reason = options.reason or prompter.text(REASON_QUESTION, required=REASON_REQUIRED)
    who = options.requested_by or cli.aws.identity["arn"]

    previews = invoke_each(cli, plans, reason, True, who, keep_going=True)
    ready = [
        (plan, preview) for plan, preview in zip(plans, previews, strict=True) if _would_roll_back(preview)
    ]
    settled = [preview for preview in previews if not _would_roll_back(preview)]
    for answer in settled:  # refused, skipped or failed: shown, never called again
        show(cli, console, answer)
    answers = list(settled)
    done: list[tuple[Plan, Answer]] = []
    if ready:
        console.print(plan_table(ready, reason))
        console.print(Text(REMINDER, style="bold yellow"))
        action = prompter.select(
            "Go ahead?",
            [
                Choice(f"Roll back {len(ready)} service(s) now", "run"),
                Choice("Dry run only: show what would happen, change nothing", "dry-run"),
                Choice("Cancel", "cancel"),
            ],
            default="dry-run" if options.dry_run else "run",
        )
        if action == "cancel":
            raise CliError("cancelled; nothing was changed")
        if action == "dry-run":  # the dry run has run: its answers are the result
            done = ready
        else:
            finals = invoke_each(cli, [plan for plan, _ in ready], reason, False, who, keep_going=True)
            done = list(zip([plan for plan, _ in ready], finals, strict=True))
            for (_, preview), answer in zip(ready, finals, strict=True):
                warn_if_retargeted(cli, preview, answer)
        for _, answer in done:
            show(cli, console, answer)
        answers += [answer for _, answer in done]
    if options.as_json:
        print_json(answers)
    return worst([*(exit_code(answer) for answer in answers), follow(cli, done, options.wait)])


def _cluster_of(cli: Cli, service: ServiceId) -> str:
    """How a request names the service's cluster: by name in the caller's account and region, by
    its ARN elsewhere (a member account's service, which the central function acts on there)."""
    if (service.account, service.region) == (cli.aws.identity["account"], cli.aws.region):
        return service.cluster
    return f"arn:{service.partition}:ecs:{service.region}:{service.account}:cluster/{service.cluster}"


def _would_roll_back(preview: Answer) -> bool:
    return preview.get("outcome") == Outcome.DRY_RUN


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
    # Revisions of the release that runs now (its pinned copy, say) are what runs, not a way back.
    running = state.current.release if state.current else None
    current_arn = state.current.task_definition_arn if state.current else None
    if not [d for d in revisions if d.release != running]:
        cli.err.print(f"[yellow]{state.service}: the ledger holds no other release; skipped[/yellow]")
        return None
    choices = [
        Choice(
            _revision_label(deployment, now)
            + (
                "  (its release runs now)"
                if deployment.release == running and deployment.task_definition_arn != current_arn
                else ""
            ),
            str(index),
            disabled="running now" if deployment.release == running else None,
        )
        for index, deployment in enumerate(revisions)
    ]
    enabled = [str(i) for i, d in enumerate(revisions) if d.release != running]
    preferences = (
        lambda d: d.status.value == "GOOD",
        lambda d: not d.status.is_bad,
        lambda d: True,
    )
    default = next(
        (index for prefer in preferences for index in enabled if prefer(revisions[int(index)])), enabled[0]
    )
    while True:
        index = prompter.select(f"{state.service}: roll back to which revision?", choices, default=default)
        chosen = revisions[int(index)]
        if not chosen.status.is_bad or force:
            return Plan(_cluster_of(cli, state.service), state.service, str(chosen.revision), force)
        if prompter.confirm(
            f"{chosen.revision} is recorded as {chosen.status.value} (BAD). Roll back to it anyway (force)?",
            default=False,
        ):
            return Plan(_cluster_of(cli, state.service), state.service, str(chosen.revision), True)
