"""Domain exceptions. Handlers map them to responses by type, never by message text."""

from __future__ import annotations


class RollbackError(Exception):
    """Base class: every error the service raises on purpose."""

    code = "internal_error"


class ConfigurationError(RollbackError):
    code = "configuration_error"


class InvalidRequest(RollbackError):
    """A manual request or event that cannot be acted on as given."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ConcurrentUpdate(RollbackError):
    """The service's ledger state changed between read and write; retry from a fresh read."""

    code = "concurrent_update"


class DuplicateTrigger(RollbackError):
    """This trigger (event id) was already decided: EventBridge delivered it again."""

    code = "duplicate_trigger"


class TaskDefinitionUnavailable(RollbackError):
    """The target revision cannot be described and the ledger holds no copy to register again."""

    code = "task_definition_unavailable"


class ImageMissing(RollbackError):
    """A pinned image digest no longer exists in its repository (for example a lifecycle rule)."""

    code = "image_missing"

    def __init__(self, images: list[str]) -> None:
        super().__init__(
            "the recorded image digest(s) no longer exist in their repository: "
            + ", ".join(images)
            + "; restore the image or choose another target revision"
        )
        self.images = images


class EcsUpdateFailed(RollbackError):
    """ECS refused the UpdateService or RegisterTaskDefinition call."""

    code = "ecs_update_failed"


class CodeDeployRefused(RollbackError):
    """CodeDeploy refused the CreateDeployment or StopDeployment call (or the service has no load
    balancer an ECS AppSpec can name)."""

    code = "codedeploy_refused"


class TransientFault(RollbackError):
    """AWS throttled, failed (5xx), timed out, dropped the connection or lost its answer after the
    SDK's own retries. Nothing is recorded as failed: the function fails so the platform retries it
    (and the reconciler finishes what a retry does not)."""

    code = "aws_unavailable"
