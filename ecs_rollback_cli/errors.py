"""Expected failures become one line on stderr and an exit code, never a traceback.

Exit codes: 0 done (ROLLED_BACK, DRY_RUN, or SKIPPED because the service already runs the
target), 1 error, 2 usage error, 3 the rollback function REFUSED, 4 under ``--wait`` the
deployment FAILED or was rolled back (by ECS or by this service), 5 ``--wait`` timed out,
130 cancelled at a prompt.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.exceptions
import typer
from typer.core import TyperGroup

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_ROLLED_BACK = 4
EXIT_TIMEOUT = 5
EXIT_CANCELLED = 130

EXIT_CODES = (
    (0, "done"),
    (EXIT_ERROR, "error"),
    (EXIT_USAGE, "usage error"),
    (EXIT_REFUSED, "the rollback was REFUSED"),
    (EXIT_ROLLED_BACK, "a deployment --wait followed FAILED or was rolled back"),
    (EXIT_TIMEOUT, "--wait timed out"),
    (EXIT_CANCELLED, "cancelled"),
)

# The function's answers name its request fields (force=true); an operator types flags. The
# answer's code, never its text, says which flag helps.
FLAG_HINTS = {
    "target_is_bad": "from this CLI: --force",
    "running_revision_is_bad": "pass --force to adopt it anyway",
    "no_known_good": "from this CLI: --to REVISION or --to GIT_SHA",
}


def with_hint(message: str, code: str | None) -> str:
    """The message, and the CLI flag that answers it when the code has one."""
    hint = FLAG_HINTS.get(code or "")
    return f"{message}; {hint}" if hint else message


_CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "RequestExpired",
    }
)


class CliError(Exception):
    """A failure the operator can act on: ``message`` says what is wrong and what to do."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def aws_code(error: botocore.exceptions.ClientError) -> str:
    details: Any = error.response.get("Error", {})
    return str(details.get("Code", "Unknown"))


@contextmanager
def when_aws_says(code: str, message: str) -> Iterator[None]:
    """Turn one AWS error code into the operator's one-line error; any other error goes on."""
    try:
        yield
    except botocore.exceptions.ClientError as error:
        if aws_code(error) == code:
            raise CliError(message) from error
        raise


def explain(error: BaseException) -> CliError | None:
    """The one-line explanation of an AWS or CLI error, or None for a real bug."""
    if isinstance(error, CliError):
        return error
    if isinstance(error, botocore.exceptions.NoCredentialsError):
        return CliError(
            "no AWS credentials found; configure them (aws configure, aws sso login) or pass --profile NAME"
        )
    if isinstance(error, botocore.exceptions.ProfileNotFound):
        return CliError(f"{error}; list profiles with `aws configure list-profiles`")
    if isinstance(error, botocore.exceptions.NoRegionError):
        return CliError("no AWS region configured; pass --region or set AWS_REGION")
    if isinstance(error, (botocore.exceptions.TokenRetrievalError, botocore.exceptions.SSOError)):
        return CliError(f"{error}; run `aws sso login` for this profile and try again")
    if isinstance(error, botocore.exceptions.EndpointConnectionError):
        return CliError(f"{error}; check the network, --region, and AWS_ENDPOINT_URL if you set it")
    if isinstance(error, botocore.exceptions.ClientError):
        return _client_error(error)
    if isinstance(error, botocore.exceptions.BotoCoreError):
        return CliError(f"AWS request failed: {error}")
    return None


def _client_error(error: botocore.exceptions.ClientError) -> CliError:
    details: Any = error.response.get("Error", {})
    code = aws_code(error)
    message = str(details.get("Message", "")).rstrip(".")
    what = f"{error.operation_name} failed: {code}" + (f": {message}" if message else "")
    if code in _CREDENTIAL_CODES:
        return CliError(f"{what}; your credentials are invalid or expired (check --profile, aws sso login)")
    if code.startswith("AccessDenied") or code in ("AccessDeniedException", "UnauthorizedOperation"):
        return CliError(f"{what}; your identity lacks this permission")
    if code == "ResourceNotFoundException":
        return CliError(f"{what}; check --region, --stack, --table-name and --function-name")
    return CliError(what)


def print_error(error: CliError) -> None:
    typer.echo(f"error: {' '.join(error.message.split())}", err=True)


def fail(error: CliError) -> typer.Exit:
    """Print the line and give the exit to raise."""
    print_error(error)
    return typer.Exit(error.exit_code)


class GuardedGroup(TyperGroup):
    """Every command's expected errors are turned into one line here, in one place; a command
    that returns a non-zero int exits with it."""

    def invoke(self, ctx: Any) -> Any:
        try:
            result = super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as error:
            explained = explain(error)
            if explained is None:
                raise
            raise fail(explained) from error
        if isinstance(result, int) and not isinstance(result, bool) and result:
            raise typer.Exit(result)
        return result
