"""Which AWS errors a retry can cure. One owner: every adapter that catches an AWS error asks here.

Transient: throttling, the service's own failures (HTTP 5xx), timeouts and dropped connections
(which include an answer lost after the request was carried out). Everything else (access denied,
validation, a missing resource) is permanent: retrying it changes nothing.
"""

from __future__ import annotations

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

# Error codes AWS services use for throttling (botocore's standard retry mode knows the same set).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)


def error_code(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return type(error).__name__


def is_transient(error: BaseException) -> bool:
    """True when the same request may well succeed if it is simply tried again later."""
    if isinstance(error, (ConnectionError, HTTPClientError)):
        return True  # connection refused or dropped, read or connect timeout, lost answer
    if isinstance(error, ClientError):
        code = error_code(error).rsplit("#", 1)[-1]
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code in THROTTLING_CODES or status >= 500 or code in ("InternalServerError", "ServerException")
    return False


# Codes AWS services use when the caller's role (or an SCP, or a key policy) refuses the call.
ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "AuthorizationError", "UnauthorizedOperation"}
)


def is_access_denied(error: BaseException) -> bool:
    """True when AWS refused the call to this function's role: a deployment problem, not a fault."""
    return isinstance(error, ClientError) and error_code(error).rsplit("#", 1)[-1] in ACCESS_DENIED_CODES


def describe(error: BaseException) -> str:
    """One line for logs and records: the call, the code and AWS's own message, bounded."""
    if isinstance(error, ClientError):
        message = str(error.response.get("Error", {}).get("Message", ""))
        operation = getattr(error, "operation_name", "") or ""
        return f"{operation + ' ' if operation else ''}{error_code(error)}: {message}"[:500]
    return f"{type(error).__name__}: {error}"[:500]
