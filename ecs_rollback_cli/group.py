"""Rolling a group of services back together, to one git SHA: ``rollback --group NAME --to SHA``.

The function checks every member first and does nothing unless all can go; the CLI shows its
dry run of the group as the plan, asks, then sends the same request for real.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from ecs_rollback.config import Group
from ecs_rollback.domain.model import Outcome, ServiceId
from ecs_rollback.domain.targets import RevisionTarget
from ecs_rollback_cli.context import Cli
from ecs_rollback_cli.errors import EXIT_USAGE, CliError
from ecs_rollback_cli.rollback import (
    REASON_QUESTION,
    REASON_REQUIRED,
    Answer,
    Plan,
    RollbackOptions,
    exit_code,
    follow,
    invoke,
    parse_to,
    print_json,
    worst,
)
from ecs_rollback_cli.runtime import Prompter
from ecs_rollback_cli.views import OUTCOME_STYLE, REMINDER, revision_lines


def request(
    name: str, options: RollbackOptions, reason: str, dry_run: bool, requested_by: str
) -> dict[str, Any]:
    return {
        "group": name,
        "target": options.to,
        "reason": reason,
        "dry_run": dry_run,
        "force": options.force,
        "requested_by": requested_by,
    }


def forming(groups: Sequence[Group], services: Sequence[ServiceId]) -> Group | None:
    """The configured group whose members are exactly ``services``, if any."""
    chosen = {(service.cluster, service.name) for service in services}
    return next((group for group in groups if set(group.pairs()) == chosen), None)


def roll_back(cli: Cli, name: str, options: RollbackOptions, prompter: Prompter | None = None) -> int:
    """The group's dry run as the plan, confirmed unless ``--yes`` or ``--dry-run``, then the group."""
    if isinstance(parse_to(options.to), RevisionTarget):
        raise CliError(
            "--group goes back to one git SHA (--to SHA) or to last-good; a revision belongs to one "
            "service: give CLUSTER SERVICE --to REV for that",
            EXIT_USAGE,
        )
    reason = options.reason
    if not reason:
        if options.yes or not cli.runtime.can_prompt:
            raise CliError("--reason is required: say why you roll the group back", EXIT_USAGE)
        reason = (prompter or cli.runtime.prompts("pass --reason")).text(
            REASON_QUESTION, required=REASON_REQUIRED
        )
    who = options.requested_by or cli.aws.identity["arn"]
    console = cli.err if options.as_json else cli.out
    answer: Answer | None = None
    if not (options.dry_run or options.yes):
        ask = prompter or cli.runtime.prompts("pass --yes to roll the group back without confirming")
        with cli.err.status(f"group {name}: dry run to {options.to} ({cli.aws.function_name}) ..."):
            preview = invoke(cli, request(name, options, reason, True, who))
        if preview.get("outcome") == Outcome.DRY_RUN:
            console.print(renderable(preview))
            console.print(Text(REMINDER, style="bold yellow"))
            if not ask.confirm(f"Roll back the {len(preview.get('members', []))} services of {name} now?"):
                raise CliError("cancelled; nothing was changed")
        else:
            answer = preview  # refused, skipped or an error: nothing to confirm, nothing to call again
    if answer is None:
        verb = "dry run" if options.dry_run else "rolling back"
        with cli.err.status(f"group {name}: {verb} to {options.to} ({cli.aws.function_name}) ..."):
            answer = invoke(cli, request(name, options, reason, options.dry_run, who))
    if options.as_json:
        print_json([answer])
    if "error" in answer:
        raise CliError(
            f"the rollback function rejected the request ({answer['error']}): {answer.get('message')}"
        )
    if not options.as_json:
        console.print(renderable(answer))
    plans = [
        (
            Plan(
                member["service"].split("/")[0],
                ServiceId.from_arn(member["service_arn"]),
                options.to,
                options.force,
            ),
            member,
        )
        for member in answer.get("members", [])
        if member.get("service_arn")
    ]
    return worst([exit_code(answer), follow(cli, plans, options.wait)])


def renderable(answer: Answer) -> RenderableType:
    """The group's answer: its message, then one row per member (from, to, or why not)."""
    outcome = str(answer.get("outcome", "?"))
    table = Table(
        title=Text(
            f"{outcome}  group {answer.get('group')} -> {answer.get('target')}",
            style=OUTCOME_STYLE.get(outcome, "bold"),
        ),
        title_justify="left",
        caption=str(answer.get("message", "")),
        caption_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
    )
    for column in ("SERVICE", "OUTCOME", "FROM", "TO / WHY"):
        table.add_column(column, overflow="fold")
    for member in answer.get("members", []):
        state = member.get("outcome") or ("ready" if member.get("ready") else "BLOCKED")
        to = member.get("to")
        table.add_row(
            str(member.get("service")),
            Text(str(state), style=OUTCOME_STYLE.get(str(state), "bold red" if state == "BLOCKED" else "")),
            revision_lines(member.get("from") or {}, spell_bad=True, registry=False)
            if member.get("from")
            else "",
            revision_lines(to, spell_bad=True, registry=False) if to else str(member.get("message", "")),
        )
    return table


def offer(
    cli: Cli, prompter: Prompter, console: Console, services: Sequence[ServiceId], options: RollbackOptions
) -> int | None:
    """In the dialog: when the chosen services form a configured group, offer to roll them back
    together; None when they do not, or the operator prefers one by one."""
    group = forming(cli.aws.groups, services)
    if group is None:
        return None
    together = prompter.confirm(
        f"{', '.join(group.services)} form group {group.name!r}: roll them back together to one git SHA?",
        default=True,
    )
    if not together:
        return None
    sha = prompter.text(
        "Which git SHA? (7+ hex characters, or last-good: the newest commit GOOD on all of them)",
        required="give a git SHA or last-good",
    )
    console.print(f"Group [bold]{group.name}[/bold] to {sha.strip()}")
    return roll_back(cli, group.name, replace(options, to=sha.strip()), prompter)
