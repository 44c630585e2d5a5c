"""Manual rollback: the public request/response contract (see docs/manual-rollback.md)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ecs_rollback.composition import from_environment
from ecs_rollback.domain.errors import RollbackError
from ecs_rollback.handlers._edge import Edge
from ecs_rollback.observability import logger
from ecs_rollback.ports import Dependencies
from ecs_rollback.services.manual import error_response, handle_manual_request

edge = Edge()


def handle(event: object, deps: Dependencies, *, request_id: str, function_arn: str) -> dict[str, Any]:
    try:
        return handle_manual_request(deps, event, request_id=request_id, function_arn=function_arn)
    except RollbackError as error:
        logger.exception("manual rollback failed")
        return error_response(error.code, f"{error}; nothing was changed that the ledger does not show")
    except Exception:  # the contract promises an answer, never a stack trace
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
