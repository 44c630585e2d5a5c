"""The ``ecs-rollback`` command: status, history, rollback, deploy, adopt and timeline.

Works against any AWS account through the standard credential chain (``--profile``,
``--region``), and against the local sandbox through ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_LAMBDA``. See docs/cli.md.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer
from rich.text import Text

from ecs_rollback.domain.errors import InvalidRequest
from ecs_rollback.domain.model import Status
from ecs_rollback.services.adoption import adopt_running
from ecs_rollback_cli import deploy as deploying
from ecs_rollback_cli import group as group_rollback
from ecs_rollback_cli import rollback as rolling_back
from ecs_rollback_cli.aws import DEFAULT_STACK, FUNCTION_ENV, STACK_ENV, TABLE_ENV, Aws, AwsOptions
from ecs_rollback_cli.context import Cli, cli_of
from ecs_rollback_cli.errors import EXIT_CODES, EXIT_USAGE, CliError, GuardedGroup, with_hint
from ecs_rollback_cli.follow import DEFAULT_POLL_SECONDS, DEFAULT_TIMEOUT_SECONDS, Wait
from ecs_rollback_cli.params import argument, value
from ecs_rollback_cli.runtime import Runtime
from ecs_rollback_cli.timeline import timeline_command
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
    epilog="Exit codes: " + ", ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES) + ".",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


PACKAGE = "ecs-auto-rollback"


def _print_version(value: bool) -> None:
    if value:
        try:
            installed = version(PACKAGE)
        except PackageNotFoundError:
            installed = "unknown (the package is not installed)"
        typer.echo(f"ecs-rollback {installed}")
        raise typer.Exit()


ClusterArg = Annotated[str, argument("CLUSTER", "ECS cluster name (or ARN).")]
ServiceArg = Annotated[str, argument("SERVICE", "ECS service name.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print plain JSON on stdout, for scripts.")]
WaitOpt = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="Follow the deployment to steady state, progress on stderr; exit 4 if it FAILED or is rolled "
        "back (by ECS or by this service), 5 on timeout.",
    ),
]
UntilGoodOpt = Annotated[
    bool,
    typer.Option(
        "--until-good",
        help="With --wait, also wait for the ledger to mark the release GOOD (its bake time passed with no "
        "alarm); implies --wait.",
    ),
]
TimeoutOpt = Annotated[
    float, value("--timeout", "SECONDS", "Seconds --wait waits at most, bake included.", min=1)
]
PollOpt = Annotated[
    float, value("--poll-interval", "SECONDS", "Seconds between checks with --wait.", min=0.1)
]
ProfileOpt = Annotated[
    str | None, value("--profile", "NAME", "AWS profile (default: the credential chain's).")
]
RegionOpt = Annotated[
    str | None, value("--region", "REGION", "AWS region (default: the profile's or AWS_REGION).")
]
StackOpt = Annotated[
    str,
    value(
        "--stack",
        "NAME",
        "CloudFormation stack whose outputs name the ledger table and the function.",
        envvar=STACK_ENV,
    ),
]
TableOpt = Annotated[
    str | None,
    value("--table-name", "NAME", "Ledger table name; skips the stack lookup.", envvar=TABLE_ENV),
]
FunctionOpt = Annotated[
    str | None,
    value(
        "--function-name",
        "NAME",
        "Manual rollback function name or ARN; skips the stack lookup.",
        envvar=FUNCTION_ENV,
    ),
]
VersionOpt = Annotated[
    bool,
    typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
]
ImageOpt = Annotated[
    str,
    value(
        "--image",
        "REPO",
        "Image repository without a tag, e.g. ACCOUNT.dkr.ecr.REGION.amazonaws.com/web.",
    ),
]
TagOpt = Annotated[
    str | None, value("--tag", "TAG", "Immutable image tag (default: the short SHA of the git HEAD).")
]
ContainerOpt = Annotated[
    str | None, value("--container", "NAME", "Container to update when the task definition has several.")
]


@app.callback()
def main(
    ctx: typer.Context,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    stack: StackOpt = DEFAULT_STACK,
    table_name: TableOpt = None,
    function_name: FunctionOpt = None,
    _version: VersionOpt = False,
) -> None:
    """Operate the ECS auto-rollback service."""
    runtime = ctx.obj if isinstance(ctx.obj, Runtime) else Runtime()
    options = AwsOptions(
        profile=profile, region=region, stack=stack, table_name=table_name, function_name=function_name
    )
    ctx.obj = Cli(aws=Aws(options), runtime=runtime)


AccountFilter = Annotated[
    str | None,
    value(
        "--account",
        "ACCOUNT",
        "Only the services of this account (a central installation's ledger holds several).",
    ),
]
RegionFilter = Annotated[
    str | None,
    value(
        "--region",
        "REGION",
        "Only the services of this region (the ledger's own region is the global --region).",
    ),
]
ServiceAccountOpt = Annotated[
    str | None,
    value("--account", "ACCOUNT", "The service's account, for a member's service (default: the caller's)."),
]
ServiceRegionOpt = Annotated[
    str | None,
    value("--region", "REGION", "The service's region, for a member's service (default: the ledger's)."),
]


@app.command()
def status(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    account: AccountFilter = None,
    in_region: RegionFilter = None,
) -> None:
    """Every service in the ledger: current and last-good revision, commit, rollback in flight, bake left.

    A COMPLETED release shows how long it still bakes before it is GOOD (the bake time is read from
    the manual rollback function's configuration). With --account and --region, only the services
    of that account and region.
    """
    cli = cli_of(ctx)
    states = [
        state
        for state in cli.all_services()
        if account in (None, state.service.account) and in_region in (None, state.service.region)
    ]
    now = cli.runtime.now()
    bake_time_seconds = None
    if any(state.current and state.current.status == Status.COMPLETED for state in states):
        bake = cli.aws.bake_time
        bake_time_seconds = bake.seconds
        if bake.seconds is None:
            cli.err.print(f"warning: no bake countdown: {bake.problem}", markup=False, soft_wrap=True)
    if as_json:
        services = [state_json(state, now, bake_time_seconds) for state in states]
        typer.echo(json.dumps({"services": services}, indent=2))
        return
    if not states:
        cli.out.print(
            f"The ledger {cli.aws.table_name} holds no service yet: deploy one, or run `ecs-rollback adopt`."
        )
        return
    cli.out.print(status_table(states, now, bake_time_seconds))


@app.command()
def history(
    ctx: typer.Context,
    cluster: ClusterArg,
    service: ServiceArg,
    limit: Annotated[int, value("--limit", "N", "Deployments per page.", "-n", min=1, max=1000)] = 20,
    cursor: Annotated[
        str | None, value("--cursor", "TOKEN", "Page token printed at the end of the previous page.")
    ] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Read every page, not just one.")] = False,
    as_json: JsonOpt = False,
    account: ServiceAccountOpt = None,
    in_region: ServiceRegionOpt = None,
) -> None:
    """A service's deployments, newest first: revision, image tag and digest, git SHA, commit, status, times, trigger, actor."""
    cli = cli_of(ctx)
    state = cli.ledger_state(cluster, service, account=account, region=in_region)
    service_id = state.service
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
            f"More: ecs-rollback history {cluster} {service} --limit {limit} --cursor {cursor}"
            + (f" --account {account}" if account else "")
            + (f" --region {in_region}" if in_region else ""),
            markup=False,
            soft_wrap=True,
        )


@app.command()
def rollback(
    ctx: typer.Context,
    cluster: Annotated[
        str | None,
        argument("CLUSTER", "ECS cluster; leave out CLUSTER and SERVICE for the interactive dialog."),
    ] = None,
    service: Annotated[str | None, argument("SERVICE", "ECS service; leave out for the dialog.")] = None,
    to: Annotated[
        str,
        value(
            "--to",
            "TARGET",
            "Target: last-good, a revision (web:42), a task definition ARN, or a git SHA (7+ hex characters).",
        ),
    ] = "last-good",
    reason: Annotated[
        str | None,
        value(
            "--reason",
            "TEXT",
            "Why you roll back; required without the dialog, recorded in the ledger.",
            "-r",
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
        value("--requested-by", "WHO", "Who asks (default: your identity's ARN from sts:GetCallerIdentity)."),
    ] = None,
    wait: WaitOpt = False,
    until_good: UntilGoodOpt = False,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT_SECONDS,
    poll_interval: PollOpt = DEFAULT_POLL_SECONDS,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the function's raw JSON answer on stdout.")
    ] = False,
    group: Annotated[
        str | None,
        value(
            "--group",
            "NAME",
            "Roll a configured group of services back together to one git SHA (--to SHA or last-good): "
            "all of them, or none.",
            "-g",
        ),
    ] = None,
    account: ServiceAccountOpt = None,
    in_region: ServiceRegionOpt = None,
) -> int:
    """Roll back through the manual rollback Lambda and print its answer; no arguments opens a dialog.

    Before asking, the function's own dry run of the same request is shown: what you confirm is
    what the function decided. Exits 3 when the function REFUSED (for example a BAD target without
    --force), 1 on errors; with --wait, 4 if the rollback's deployment FAILED, 5 on timeout.
    """
    cli = cli_of(ctx)
    options = rolling_back.RollbackOptions(
        to=to,
        reason=reason,
        dry_run=dry_run,
        force=force,
        yes=yes,
        requested_by=requested_by,
        as_json=as_json,
        wait=Wait(wait, until_good, timeout, poll_interval),
    )
    if group is not None:
        if cluster is not None:
            raise CliError("--group names the services itself; leave out CLUSTER and SERVICE", EXIT_USAGE)
        return group_rollback.roll_back(cli, group, options)
    if service is not None:
        assert cluster is not None
        if account or in_region:  # a member's service: the function takes it by its cluster ARN
            if cluster.startswith("arn:"):
                raise CliError(
                    "--account and --region name the cluster's place; a cluster ARN has one", EXIT_USAGE
                )
            place = cli.aws.service_id(cluster, service, account=account, region=in_region)
            cluster = f"arn:{place.partition}:ecs:{place.region}:{place.account}:cluster/{place.cluster}"
        return rolling_back.direct(cli, cluster, service, options)
    if account or in_region:
        raise CliError("--account and --region need CLUSTER and SERVICE", EXIT_USAGE)
    if yes:
        raise CliError("--yes needs CLUSTER and SERVICE: the dialog always asks before it acts", EXIT_USAGE)
    if to != "last-good":
        raise CliError("--to needs CLUSTER and SERVICE; the dialog asks for the revision", EXIT_USAGE)
    return rolling_back.dialog(
        cli,
        cluster,
        options,
        together=lambda prompter, console, services: group_rollback.offer(
            cli, prompter, console, services, options
        ),
    )


@app.command()
def deploy(
    ctx: typer.Context,
    cluster: ClusterArg,
    service: ServiceArg,
    image: ImageOpt,
    tag: TagOpt = None,
    container: ContainerOpt = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before deploying an image that is already live.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Deploy even if the ledger records this release BAD (it is then not rolled back for it).",
        ),
    ] = False,
    wait: WaitOpt = False,
    until_good: UntilGoodOpt = False,
    timeout: TimeoutOpt = DEFAULT_TIMEOUT_SECONDS,
    poll_interval: PollOpt = DEFAULT_POLL_SECONDS,
) -> int:
    """Register a copy of the service's task definition with REPO:TAG, tag it with the commit, update the service.

    Refuses (exit 3) a release the ledger records BAD, saying when and why, unless --force. With
    --wait, exits 4 when the deployment FAILED or was rolled back (by ECS's circuit breaker or by
    this service), so a CI pipeline fails; 5 on timeout.
    """
    wanted = Wait(wait, until_good, timeout, poll_interval)
    return deploying.deploy(
        cli_of(ctx),
        cluster,
        service,
        image=image,
        tag=tag,
        container=container,
        yes=yes,
        force=force,
        wait=wanted,
    )


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
    cli = cli_of(ctx)
    cli.aws.describe_service(cluster, service)  # a clear error for a service ECS does not have
    service_id = cli.aws.service_id(cluster, service)
    try:
        adopted = adopt_running(
            cli.aws.ledger,
            cli.aws.ecs_gateway,
            cli.aws.image_registry,
            service_id,
            cli.runtime.now(),
            cli.aws.identity["arn"],
            force=force,
        )
    except InvalidRequest as error:
        raise CliError(with_hint(error.message, error.code)) from error
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


app.command("timeline")(timeline_command)
