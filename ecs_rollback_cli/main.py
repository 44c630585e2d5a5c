"""The ``ecs-rollback`` command: status, history, rollback, deploy and adopt.

Works against any AWS account through the standard credential chain (``--profile``,
``--region``), and against the local sandbox through ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_LAMBDA``. See docs/cli.md.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.text import Text

from ecs_rollback.domain.errors import InvalidRequest
from ecs_rollback.services.adoption import adopt_running
from ecs_rollback_cli import deploy as deploying
from ecs_rollback_cli import rollback as rolling_back
from ecs_rollback_cli.aws import DEFAULT_STACK, FUNCTION_ENV, TABLE_ENV, Aws, AwsOptions
from ecs_rollback_cli.context import Cli
from ecs_rollback_cli.errors import EXIT_USAGE, CliError, GuardedGroup
from ecs_rollback_cli.runtime import Runtime
from ecs_rollback_cli.views import (
    deployment_json,
    history_table,
    image_tags,
    short_digest,
    short_sha,
    state_json,
    status_table,
)

app = typer.Typer(
    name="ecs-rollback",
    cls=GuardedGroup,
    help=(
        "Operate the ECS auto-rollback service: see what runs where, read the deploy ledger, roll back "
        "by hand through the rollback Lambda, deploy with immutable git-SHA tags, and adopt a baseline."
    ),
    epilog="Exit codes: 0 done, 1 error, 2 usage error, 3 the rollback was REFUSED, 130 cancelled.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

ClusterArg = Annotated[
    str, typer.Argument(metavar="CLUSTER", help="ECS cluster name (or ARN).", show_default=False)
]
ServiceArg = Annotated[str, typer.Argument(metavar="SERVICE", help="ECS service name.", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print plain JSON on stdout, for scripts.")]


def _cli(ctx: typer.Context) -> Cli:
    cli = ctx.find_object(Cli)
    assert cli is not None, "the app callback builds the Cli object"
    return cli


@app.callback()
def main(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile", metavar="NAME", help="AWS profile to use (default: the standard credential chain)."
        ),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option("--region", metavar="REGION", help="AWS region (default: the profile's or AWS_REGION)."),
    ] = None,
    stack: Annotated[
        str,
        typer.Option(
            "--stack",
            metavar="NAME",
            help="CloudFormation stack whose outputs name the ledger table and the function.",
        ),
    ] = DEFAULT_STACK,
    table_name: Annotated[
        str | None,
        typer.Option(
            "--table-name",
            envvar=TABLE_ENV,
            metavar="NAME",
            help="Ledger table name; skips the stack lookup.",
        ),
    ] = None,
    function_name: Annotated[
        str | None,
        typer.Option(
            "--function-name",
            envvar=FUNCTION_ENV,
            metavar="NAME",
            help="Manual rollback function name or ARN; skips the stack lookup.",
        ),
    ] = None,
) -> None:
    """Operate the ECS auto-rollback service."""
    runtime = ctx.obj if isinstance(ctx.obj, Runtime) else Runtime()
    options = AwsOptions(
        profile=profile, region=region, stack=stack, table_name=table_name, function_name=function_name
    )
    ctx.obj = Cli(aws=Aws(options), runtime=runtime)


@app.command()
def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every service in the ledger: current and last-good revision, image tag, git SHA, rollback in flight."""
    cli = _cli(ctx)
    states = cli.all_services()
    now = cli.runtime.now()
    if as_json:
        typer.echo(json.dumps({"services": [state_json(state, now) for state in states]}, indent=2))
        return
    if not states:
        cli.out.print(
            f"The ledger {cli.aws.table_name} holds no service yet: deploy one, or run `ecs-rollback adopt`."
        )
        return
    cli.out.print(status_table(states, now))


@app.command()
def history(
    ctx: typer.Context,
    cluster: ClusterArg,
    service: ServiceArg,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=1000, metavar="N", help="Deployments per page.")
    ] = 20,
    cursor: Annotated[
        str | None,
        typer.Option("--cursor", metavar="TOKEN", help="Page token printed at the end of the previous page."),
    ] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Read every page, not just one.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """A service's deployments, newest first: revision, image tag and digest, git SHA, commit, status, times, trigger, actor."""
    cli = _cli(ctx)
    service_id = cli.aws.service_id(cluster, service)
    state = cli.aws.ledger.load(service_id)
    if state is None:
        raise CliError(
            f"{service_id} is not in the ledger (table {cli.aws.table_name}); check the names, --region and --profile, "
            f"or run `ecs-rollback adopt {cluster} {service}`"
        )
    items = []
    try:
        while True:
            page = cli.aws.ledger.history(service_id, limit=limit, cursor=cursor)
            items.extend(page.items)
            cursor = page.cursor
            if not (all_pages and cursor):
                break
    except ValueError as error:  # a cursor this ledger did not hand out
        raise CliError(f"--cursor: {error}", EXIT_USAGE) from error
    if as_json:
        payload = {
            "service": str(service_id),
            "service_arn": service_id.arn,
            "deployments": [deployment_json(item) for item in items],
            "next_cursor": cursor,
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    current_id = state.current.deployment_id if state.current else None
    cli.out.print(
        history_table(f"{service_id}: deployments, newest first", items, cli.runtime.now(), current_id)
    )
    if cursor:
        cli.out.print(
            f"More: ecs-rollback history {cluster} {service} --limit {limit} --cursor {cursor}",
            markup=False,
            soft_wrap=True,
        )


@app.command()
def rollback(
    ctx: typer.Context,
    cluster: Annotated[
        str | None,
        typer.Argument(
            metavar="CLUSTER",
            help="ECS cluster; leave out CLUSTER and SERVICE for the interactive dialog.",
            show_default=False,
        ),
    ] = None,
    service: Annotated[
        str | None,
        typer.Argument(metavar="SERVICE", help="ECS service; leave out for the dialog.", show_default=False),
    ] = None,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="TARGET",
            help="Target: last-good, a revision (web:42), a task definition ARN, or a git SHA (7+ hex characters).",
        ),
    ] = "last-good",
    reason: Annotated[
        str | None,
        typer.Option(
            "--reason",
            "-r",
            metavar="TEXT",
            help="Why you roll back; required without the dialog, recorded in the ledger.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Decide and record, change nothing in ECS.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Allow a target the ledger marks BAD (FAILED or ROLLED_BACK).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    requested_by: Annotated[
        str | None,
        typer.Option(
            "--requested-by",
            metavar="WHO",
            help="Who asks (default: your identity's ARN from sts:GetCallerIdentity).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the function's raw JSON answer on stdout.")
    ] = False,
) -> None:
    """Roll back through the manual rollback Lambda and print its answer; no arguments opens a dialog.

    Exits 3 when the function REFUSED (for example a BAD target without --force), 1 on errors.
    """
    cli = _cli(ctx)
    if service is None:
        if yes:
            raise CliError(
                "--yes needs CLUSTER and SERVICE: the dialog always asks before it acts", EXIT_USAGE
            )
        if to != "last-good":
            raise CliError("--to needs CLUSTER and SERVICE; the dialog asks for the revision", EXIT_USAGE)
        code = rolling_back.dialog(
            cli,
            cluster,
            reason=reason,
            dry_run=dry_run,
            force=force,
            requested_by=requested_by,
            as_json=as_json,
        )
    else:
        assert cluster is not None
        code = rolling_back.direct(
            cli,
            cluster,
            service,
            to=to,
            reason=reason,
            dry_run=dry_run,
            force=force,
            yes=yes,
            requested_by=requested_by,
            as_json=as_json,
        )
    if code:
        raise typer.Exit(code)


@app.command()
def deploy(
    ctx: typer.Context,
    cluster: ClusterArg,
    service: ServiceArg,
    image: Annotated[
        str,
        typer.Option(
            "--image",
            metavar="REPO",
            help="Image repository without a tag, e.g. ACCOUNT.dkr.ecr.REGION.amazonaws.com/web.",
        ),
    ],
    tag: Annotated[
        str | None,
        typer.Option(
            "--tag", metavar="TAG", help="Immutable image tag (default: the short SHA of the git HEAD)."
        ),
    ] = None,
    container: Annotated[
        str | None,
        typer.Option(
            "--container", metavar="NAME", help="Container to update when the task definition has several."
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before deploying an image that is already live.")
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="Show progress until steady state; exit 1 if the deployment fails.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, metavar="SECONDS", help="Seconds --wait waits at most.")
    ] = 900,
    poll_interval: Annotated[
        float,
        typer.Option(
            "--poll-interval", min=0.1, metavar="SECONDS", help="Seconds between checks with --wait."
        ),
    ] = 5,
) -> None:
    """Register a copy of the service's task definition with REPO:TAG, tag it with the commit, update the service."""
    code = deploying.deploy(
        _cli(ctx),
        cluster,
        service,
        image=image,
        tag=tag,
        container=container,
        yes=yes,
        wait=wait,
        timeout=timeout,
        poll_interval=poll_interval,
    )
    if code:
        raise typer.Exit(code)


@app.command()
def adopt(
    ctx: typer.Context,
    cluster: ClusterArg,
    service: ServiceArg,
    force: Annotated[
        bool, typer.Option("--force", help="Adopt even if the ledger marks the running revision BAD.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Record the revision the service runs now as its baseline GOOD, so a bad deploy has a target."""
    cli = _cli(ctx)
    cli.aws.describe_service(cluster, service)  # a clear error for a service ECS does not have
    service_id = cli.aws.service_id(cluster, service)
    try:
        adopted = adopt_running(
            cli.aws.ledger,
            cli.aws.ecs_gateway,
            service_id,
            cli.runtime.now(),
            cli.aws.identity["arn"],
            force=force,
        )
    except InvalidRequest as error:
        hint = "; pass --force to adopt it anyway" if error.code == "running_revision_is_bad" else ""
        raise CliError(error.message + hint) from error
    if as_json:
        typer.echo(json.dumps(deployment_json(adopted), indent=2))
        return
    text = Text()
    text.append(f"Adopted {adopted.revision} as the GOOD baseline of {service_id}\n", style="bold green")
    text.append(
        f"  image {image_tags(adopted)}  digest {', '.join(short_digest(i.digest) for i in adopted.images)}\n"
    )
    text.append(f"  git {short_sha(adopted.git_sha)}")
    if adopted.commit_message:
        text.append(f'  "{adopted.commit_message.splitlines()[0]}"', style="italic")
    cli.out.print(text)
