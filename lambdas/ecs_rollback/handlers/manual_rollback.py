"""Manual rollback: the public request/response contract (see docs/manual-rollback.md)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ecs_rollback.adapters.aws_errors import describe, is_access_denied, is_transient
from ecs_rollback.composition import from_environment
from ecs_rollback.domain.errors import RollbackError, TransientFault
from ecs_rollback.handlers._edge import Edge
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies
from ecs_rollback.services.manual import error_response, handle_manual_request

edge = Edge()


def handle(event: object, deps: Dependencies, *, request_id: str, function_arn: str) -> dict[str, Any]:
    try:
        return handle_manual_request(deps, event, request_id=request_id, function_arn=function_arn)
    except Exception as error:  # the contract promises an answer, never a stack trace
        return _answer_for(error, request_id)


def _answer_for(error: Exception, request_id: str) -> dict[str, Any]:
    if isinstance(error, TransientFault) or is_transient(error):
        # A synchronous invoke has no platform retry: say what is known and how to go on.
        logger.warning("manual rollback hit a transient AWS fault", extra={"error": describe(error)})
        return error_response(
            TransientFault.code,
            f"AWS did not answer in time ({describe(error)}); if the ledger shows this rollback in "
            "flight, the reconciler finishes it within a few minutes; otherwise repeat the request "
            "(`ecs-rollback status` shows which)",
        )
    if is_access_denied(error):
        logger.exception("manual rollback was refused by AWS")
        return error_response(
            "access_denied",
            f"AWS refused this function a call ({describe(error)}); nothing was changed that the ledger "
            "does not show. Redeploy the stack so its role matches the code, or lift the SCP or key "
            "policy that denies it, then repeat the request",
        )
    if isinstance(error, RollbackError):
        logger.exception("manual rollback failed")
        return error_response(error.code, f"{error}; nothing was changed that the ledger does not show")
    logger.exception("manual rollback failed unexpectedly")
    return error_response(
        "internal_error",
        f"the rollback function failed unexpectedly; see its logs for request id {request_id}",
    )


def _handler(event: object, context: LambdaContext) -> dict[str, Any]:
    return handle(
        event,
        from_environment(edge.telemetry),
        request_id=context.aws_request_id,
        function_arn=context.invoked_function_arn,
    )


handler = edge.entry(_handler)
