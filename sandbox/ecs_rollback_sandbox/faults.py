"""Faults in the emulator's request path: what AWS sends when it throttles, fails, refuses, or
drops a connection, delivered to the product's real boto3 clients over HTTP.

``attach(emulator)`` wraps the running moto server's WSGI application (``emulator._server._server``,
werkzeug's threaded server) in a :class:`FaultInjector`; ``detach()`` puts moto's own application
back. Each request is classified by AWS service and operation, counted, and matched against the
rules added with :meth:`FaultInjector.add`:

- ``throttle``, ``server_error``, ``access_denied``: the request never reaches moto; the answer is
  the error in the protocol's own shape (JSON ``__type``, REST-JSON ``x-amzn-ErrorType``, query XML
  ``<ErrorResponse>``, RPC v2 CBOR), with the status and code the service uses, so botocore parses
  it as the service's own error and its retry logic decides as it would in AWS.
- ``connection_error``: the request is not carried out; the connection is closed with no answer.
- ``lost_answer``: moto carries the request out (its effect is committed), then the connection is
  closed with no answer, so the client retries a request that already happened.

Both drops shut the socket down (``environ["werkzeug.socket"]``) and raise ``ConnectionAbortedError``,
which werkzeug's server treats as a dropped connection: nothing is written, nothing is logged, and
the client reads end-of-stream at once (botocore: ``ConnectionClosedError``), never a timeout.

No rule sleeps and nothing blocks: a rule is decided under one lock, moto runs outside it.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from types import TracebackType
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from botocore.model import ServiceModel

    from ecs_rollback_sandbox.emulator import Emulator

FaultKind = Literal["throttle", "server_error", "access_denied", "connection_error", "lost_answer"]
FAULT_KINDS: tuple[FaultKind, ...] = (
    "throttle",
    "server_error",
    "access_denied",
    "connection_error",
    "lost_answer",
)
ALWAYS: Literal["always"] = "always"

Protocol = Literal["json", "rest-json", "rest-xml", "query", "smithy-rpc-v2-cbor", "unknown"]

# X-Amz-Target prefixes, before the signing name: DynamoDB Streams signs as "dynamodb" too.
_TARGET_PREFIXES = {
    "DynamoDB_20120810": "dynamodb",
    "DynamoDBStreams_20120810": "dynamodbstreams",
    "AmazonEC2ContainerServiceV20141113": "ecs",
    "AmazonEC2ContainerRegistry_V20150921": "ecr",
    "GraniteServiceVersion20100801": "cloudwatch",
    "AmazonSQS": "sqs",
    "AWSEvents": "events",
    "Logs_20140328": "logs",
    "AmazonSSM": "ssm",
    "AWSStepFunctions": "stepfunctions",
}
# Signing names (credential scope) that are not the boto3 client's name.
_SIGNING_NAMES = {"monitoring": "cloudwatch", "states": "stepfunctions", "execute-api": "apigateway"}
_CREDENTIAL = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
_CBOR_PATH = re.compile(r"^/service/([^/]+)/operation/([^/]+)$")

Predicate = Callable[[Any], bool]


@dataclass(frozen=True)
class ErrorShape:
    """One error as the service sends it. ``query_code``: for query-compatible JSON services
    (``awsQueryCompatible``), the code the ``x-amzn-query-error`` header carries."""

    status: int
    code: str
    message: str
    sender_fault: bool = True
    query_code: str | None = None


_DENIED = (
    "User: arn:aws:sts::123456789012:assumed-role/ecs-rollback/fn is not authorized to perform: {action}"
)

# What each service sends, where it differs from the protocol's defaults below. DynamoDB namespaces
# its codes; CloudWatch (JSON 1.0, query-compatible) adds the query code for the faults it models.
_SERVICE_ERRORS: dict[tuple[str, FaultKind], ErrorShape] = {
    ("dynamodb", "throttle"): ErrorShape(
        400,
        "com.amazonaws.dynamodb.v20120810#ThrottlingException",
        "Rate of requests exceeds the allowed throughput.",
    ),
    ("dynamodb", "server_error"): ErrorShape(
        500, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error", False
    ),
    ("dynamodb", "access_denied"): ErrorShape(400, "com.amazon.coral.service#AccessDeniedException", _DENIED),
    ("ecs", "server_error"): ErrorShape(500, "ServerException", "Service encountered an error.", False),
    ("ecr", "server_error"): ErrorShape(500, "ServerException", "Service encountered an error.", False),
    ("cloudwatch", "server_error"): ErrorShape(
        500, "InternalServiceFault", "Internal service error", False, "InternalServiceError"
    ),
    ("scheduler", "throttle"): ErrorShape(429, "ThrottlingException", "Rate exceeded"),
    ("scheduler", "server_error"): ErrorShape(500, "InternalServerException", "Internal failure", False),
    ("scheduler", "access_denied"): ErrorShape(403, "AccessDeniedException", _DENIED),
    ("sns", "server_error"): ErrorShape(500, "InternalError", "Internal error", False),
    ("sns", "access_denied"): ErrorShape(403, "AuthorizationError", _DENIED),
    ("sqs", "throttle"): ErrorShape(400, "ThrottlingException", "Rate exceeded", True, "RequestThrottled"),
}
_PROTOCOL_ERRORS: dict[tuple[str, FaultKind], ErrorShape] = {
    ("json", "throttle"): ErrorShape(400, "ThrottlingException", "Rate exceeded"),
    ("json", "server_error"): ErrorShape(500, "InternalFailure", "Internal failure", False),
    ("json", "access_denied"): ErrorShape(400, "AccessDeniedException", _DENIED),
    ("rest-json", "throttle"): ErrorShape(429, "ThrottlingException", "Rate exceeded"),
    ("rest-json", "server_error"): ErrorShape(500, "InternalFailure", "Internal failure", False),
    ("rest-json", "access_denied"): ErrorShape(403, "AccessDeniedException", _DENIED),
    ("query", "throttle"): ErrorShape(400, "Throttling", "Rate exceeded"),
    ("query", "server_error"): ErrorShape(500, "InternalFailure", "Internal failure", False),
    ("query", "access_denied"): ErrorShape(403, "AccessDenied", _DENIED),
    ("rest-xml", "throttle"): ErrorShape(503, "SlowDown", "Please reduce your request rate."),
    ("rest-xml", "server_error"): ErrorShape(500, "InternalError", "Internal failure", False),
    ("rest-xml", "access_denied"): ErrorShape(403, "AccessDenied", "Access Denied"),
}


@dataclass(frozen=True)
class Request:
    """One HTTP request as the injector classified it. ``body`` is the parsed payload: a dict for
    JSON, CBOR and query (form fields, one value each), else the raw bytes."""

    service: str
    operation: str
    protocol: Protocol
    method: str
    path: str
    headers: Mapping[str, str]
    raw_body: bytes
    body: Any
    json_version: str = "1.0"


@dataclass
class Rule:
    """Inject ``fault`` into requests for ``service``/``operation`` (``"*"``: any) that ``when``
    accepts (given the parsed body), ``times`` times (an int) or ``"always"``."""

    service: str
    operation: str
    fault: FaultKind
    times: int | Literal["always"] = 1
    when: Predicate | None = None
    error: ErrorShape | None = None
    injected: int = 0

    def matches(self, request: Request) -> bool:
        if self.service != request.service or self.operation not in ("*", request.operation):
            return False
        if self.exhausted:
            return False
        return self.when is None or bool(self.when(request.body))

    @property
    def exhausted(self) -> bool:
        """Injected as many times as asked (never, for ``"always"``)."""
        return self.times != ALWAYS and self.injected >= self.times


@dataclass(frozen=True)
class Call:
    """One request that reached the emulator, and what became of it. ``fault`` is None when it
    passed through; ``carried_out``: moto executed it; ``backend_status``: moto's answer, whether
    or not the client received it."""

    service: str
    operation: str
    fault: FaultKind | None
    carried_out: bool
    backend_status: int | None
    attempt: int
    body: Any = field(repr=False, default=None)


class _Drop(ConnectionAbortedError):
    """Raised from the application after the socket is shut down: werkzeug's server takes it for
    a dropped connection, writes nothing and logs nothing."""


class FaultInjector:
    """WSGI middleware around moto's application; thread-safe (werkzeug serves each request on
    its own thread)."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._calls: list[Call] = []
        self._attempts: Counter[tuple[str, str]] = Counter()
        self._detach: Callable[[], None] | None = None
        self.predicate_errors: list[Exception] = []

    # -- the test's side ------------------------------------------------------------------

    def add(
        self,
        service: str,
        operation: str,
        fault: FaultKind,
        *,
        times: int | Literal["always"] = 1,
        when: Predicate | None = None,
        error: ErrorShape | None = None,
    ) -> Rule:
        """Add a rule; earlier rules win. ``service`` is the boto3 client's name (``"cloudwatch"``,
        not ``"monitoring"``); ``operation`` the API name (``"TransactWriteItems"``) or ``"*"``;
        ``error`` replaces the service's own error shape for the error faults."""
        if fault not in FAULT_KINDS:
            raise ValueError(f"unknown fault {fault!r}; one of {', '.join(FAULT_KINDS)}")
        if times != ALWAYS and (not isinstance(times, int) or times < 1):
            raise ValueError(f"times must be a positive int or 'always', not {times!r}")
        rule = Rule(_SIGNING_NAMES.get(service, service), operation, fault, times, when, error)
        with self._lock:
            self._rules.append(rule)
        return rule

    def lift(self) -> None:
        """Stop injecting: forget the rules, keep counting and recording every request."""
        with self._lock:
            self._rules.clear()

    def clear(self) -> None:
        """Forget every rule, call and count."""
        with self._lock:
            self._rules.clear()
            self._calls.clear()
            self._attempts.clear()
            self.predicate_errors.clear()

    def calls(self, service: str, operation: str) -> int:
        """Requests that reached the emulator for this operation, retries included, faulted or not."""
        with self._lock:
            return self._attempts[(_SIGNING_NAMES.get(service, service), operation)]

    def carried_out(self, service: str, operation: str) -> int:
        """Requests moto executed for this operation (passed through, or ``lost_answer``)."""
        service = _SIGNING_NAMES.get(service, service)
        with self._lock:
            return sum(
                1 for c in self._calls if c.carried_out and (c.service, c.operation) == (service, operation)
            )

    @property
    def counts(self) -> dict[tuple[str, str], int]:
        """Every (service, operation) seen, with its number of requests."""
        with self._lock:
            return dict(self._attempts)

    @property
    def log(self) -> list[Call]:
        """Every request that a rule matched, in order, with the fault injected."""
        with self._lock:
            return [c for c in self._calls if c.fault is not None]

    @property
    def history(self) -> list[Call]:
        """Every request, in order."""
        with self._lock:
            return list(self._calls)

    def detach(self) -> None:
        """Put moto's own application back (idempotent)."""
        if self._detach is not None:
            self._detach()
            self._detach = None

    def __enter__(self) -> FaultInjector:
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.detach()

    # -- the server's side ----------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = classify(environ)
        rule, call = self._decide(request)
        if rule is None:
            return self.app(environ, start_response)
        if rule.fault == "connection_error":
            _drop(environ)
        if rule.fault == "lost_answer":
            status = _run_and_discard(self.app, environ)
            with self._lock:
                index = next(i for i, seen in enumerate(self._calls) if seen is call)
                self._calls[index] = replace(call, backend_status=status)
            _drop(environ)
        error = rule.error or error_shape(request, rule.fault)
        status_line, headers, body = render_error(request, error)
        start_response(status_line, headers)
        return [body]

    def _decide(self, request: Request) -> tuple[Rule | None, Call]:
        """Count the request and pick the first rule that takes it (at most one fault each)."""
        with self._lock:
            key = (request.service, request.operation)
            self._attempts[key] += 1
            rule = next((r for r in self._rules if self._takes(r, request)), None)
            if rule is not None:
                rule.injected += 1
            fault = rule.fault if rule is not None else None
            # Recorded before moto runs: a test reading the counts after its call returned sees it.
            call = Call(
                request.service,
                request.operation,
                fault,
                fault in (None, "lost_answer"),
                None,
                self._attempts[key],
                request.body,
            )
            self._calls.append(call)
            return rule, call

    def _takes(self, rule: Rule, request: Request) -> bool:
        try:
            return rule.matches(request)
        except Exception as error:  # a predicate that cannot read this body does not match it
            self.predicate_errors.append(error)
            return False


def attach(emulator: Emulator) -> FaultInjector:
    """Wrap the running emulator's WSGI application; ``detach()`` (or leaving ``with``) undoes it."""
    server = getattr(emulator._server, "_server", None)
    if server is None or not hasattr(server, "app"):
        raise RuntimeError("the emulator is not running: start it before attaching faults")
    if isinstance(server.app, FaultInjector):
        raise RuntimeError("a FaultInjector is attached already: detach it first")
    injector = FaultInjector(server.app)

    def restore() -> None:
        if server.app is not injector:
            raise RuntimeError("the emulator's application changed since attach: cannot detach")
        server.app = injector.app

    injector._detach = restore
    server.app = injector  # werkzeug reads ``server.app`` for each request
    return injector


# -- classifying a request -------------------------------------------------------------------


def classify(environ: WSGIEnvironment) -> Request:
    """Service, operation, protocol and parsed body; replaces ``wsgi.input`` with a re-readable copy."""
    raw = _read_body(environ)
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    method = str(environ.get("REQUEST_METHOD", "GET"))
    path = str(environ.get("PATH_INFO", "/"))
    content_type = headers.get("content-type", "")
    target = headers.get("x-amz-target", "")
    signed = _CREDENTIAL.search(headers.get("authorization", ""))
    service = _service(target, signed.group(1) if signed else None, headers.get("host", ""))

    if target and "." in target:
        version = content_type.rsplit("-", 1)[-1] if "x-amz-json-" in content_type else "1.0"
        return Request(
            service, target.rsplit(".", 1)[1], "json", method, path, headers, raw, _json(raw), version
        )
    cbor = _CBOR_PATH.match(path)
    if cbor and headers.get("smithy-protocol") == "rpc-v2-cbor":
        return Request(service, cbor.group(2), "smithy-rpc-v2-cbor", method, path, headers, raw, _cbor(raw))
    query = str(environ.get("QUERY_STRING", ""))
    form = _form(raw) if "x-www-form-urlencoded" in content_type else {}
    action = form.get("Action") or _form(query.encode()).get("Action")
    if action:
        return Request(service, action, "query", method, path, headers, raw, form)
    if path.startswith("/moto-api"):
        return Request("moto-api", path, "unknown", method, path, headers, raw, raw)
    protocol, operation = _rest_operation(service, method, path, query)
    body = _json(raw) if protocol == "rest-json" else raw
    return Request(service, operation, protocol, method, path, headers, raw, body)


def _service(target: str, signing_name: str | None, host: str) -> str:
    prefix = target.split(".", 1)[0]
    if prefix in _TARGET_PREFIXES:
        return _TARGET_PREFIXES[prefix]
    if signing_name:
        return _SIGNING_NAMES.get(signing_name, signing_name)
    label = host.split(".", 1)[0].split(":", 1)[0]
    return label if label and not label[0].isdigit() and label != "localhost" else "unknown"


def _read_body(environ: WSGIEnvironment) -> bytes:
    stream = environ.get("wsgi.input")
    length = str(environ.get("CONTENT_LENGTH") or "")
    if stream is None:
        raw = b""
    elif length.isdigit():
        raw = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):
        raw = stream.read()
    else:
        raw = b""
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))
    environ.pop("wsgi.input_terminated", None)
    return bytes(raw)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return raw


def _form(raw: bytes) -> dict[str, str]:
    try:
        return {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
    except UnicodeDecodeError:
        return {}


def _cbor(raw: bytes) -> Any:
    if not raw:
        return {}
    from botocore.parsers import RpcV2CBORParser

    parser: Any = RpcV2CBORParser()
    try:
        return parser.parse_data_item(parser.get_peekable_stream_from_bytes(raw))
    except Exception:  # not CBOR after all: the predicate sees the bytes
        return raw


@cache
def _service_model(service: str) -> ServiceModel | None:
    import botocore.session
    from botocore.exceptions import UnknownServiceError

    try:
        return botocore.session.get_session().get_service_model(service)
    except UnknownServiceError:
        return None


@cache
def _rest_routes(service: str) -> tuple[tuple[str, re.Pattern[str], frozenset[str], int, str], ...]:
    """(method, path pattern, required query keys, literal length, operation) per operation."""
    model = _service_model(service)
    if model is None:
        return ()
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = str(http.get("requestUri", "/"))
        path, _, query = uri.partition("?")
        pattern = "".join(
            ".+" if part.endswith("+}") else "[^/]+" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}]+\})", path)
        )
        literal = len(re.sub(r"\{[^}]+\}", "", path))
        keys = frozenset(k.split("=", 1)[0] for k in query.split("&") if k)
        routes.append((str(http.get("method", "POST")), re.compile(f"^{pattern}/?$"), keys, literal, name))
    return tuple(sorted(routes, key=lambda route: (-len(route[2]), -route[3])))


def _rest_operation(service: str, method: str, path: str, query: str) -> tuple[Protocol, str]:
    model = _service_model(service)
    protocol: Protocol = "unknown"
    if model is not None and model.protocol in ("rest-json", "rest-xml"):
        protocol = "rest-json" if model.protocol == "rest-json" else "rest-xml"
    present = {part.split("=", 1)[0] for part in query.split("&") if part}
    for route_method, pattern, keys, _, name in _rest_routes(service):
        if route_method == method and keys <= present and pattern.match(path):
            return protocol, name
    return protocol, f"{method} {path}"


# -- answering as the service would ----------------------------------------------------------


def error_shape(request: Request, fault: FaultKind) -> ErrorShape:
    """The error ``request``'s service sends for ``fault``: the service's own, else its protocol's."""
    protocol = "json" if request.protocol == "smithy-rpc-v2-cbor" else request.protocol
    shape = _SERVICE_ERRORS.get((request.service, fault)) or _PROTOCOL_ERRORS.get((protocol, fault))
    if shape is None:
        shape = _PROTOCOL_ERRORS[("json", fault)]
    if "{action}" in shape.message:
        action = f"{request.service}:{request.operation}"
        shape = replace(shape, message=shape.message.format(action=action))
    return shape


def render_error(request: Request, error: ErrorShape) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status line, headers and body of ``error`` in ``request``'s protocol."""
    request_id = str(uuid.uuid4())
    fault_type = "Sender" if error.sender_fault else "Receiver"
    headers = [("x-amzn-RequestId", request_id)]
    short_code = error.code.rsplit("#", 1)[-1]
    if request.protocol == "query":
        body = (
            f'<ErrorResponse xmlns="{_xml_namespace(request.service)}">'
            f"<Error><Type>{fault_type}</Type><Code>{escape(error.code)}</Code>"
            f"<Message>{escape(error.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers.append(("Content-Type", "text/xml"))
    elif request.protocol == "rest-xml":
        body = (
            f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers.append(("Content-Type", "application/xml"))
    elif request.protocol == "rest-json":
        body = json.dumps({"Message": error.message}).encode()
        headers += [("Content-Type", "application/json"), ("x-amzn-ErrorType", short_code)]
    elif request.protocol == "smithy-rpc-v2-cbor":
        body = _cbor_text_map({"__type": error.code, "message": error.message})
        headers += [("Content-Type", "application/cbor"), ("Smithy-Protocol", "rpc-v2-cbor")]
    else:
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
        headers.append(("Content-Type", f"application/x-amz-json-{request.json_version}"))
    if error.query_code and request.protocol in ("json", "smithy-rpc-v2-cbor"):
        headers.append(("x-amzn-query-error", f"{error.query_code};{fault_type}"))
    headers.append(("Content-Length", str(len(body))))
    return f"{error.status} {_REASONS.get(error.status, 'Error')}", headers, body


_REASONS = {400: "Bad Request", 403: "Forbidden", 429: "Too Many Requests", 500: "Internal Server Error"}
_REASONS |= {503: "Service Unavailable"}


def _xml_namespace(service: str) -> str:
    model = _service_model(service)
    namespace = model.metadata.get("xmlNamespace") if model is not None else None
    return str(namespace or f"http://{service}.amazonaws.com/doc/")


def _cbor_text_map(values: Mapping[str, str]) -> bytes:
    """A CBOR map of text strings (RFC 8949, major types 5 and 3), all an error body needs."""

    def head(major: int, length: int) -> bytes:
        if length < 24:
            return bytes([major << 5 | length])
        for info, size in ((24, 1), (25, 2), (26, 4)):
            if length < 1 << (8 * size):
                return bytes([major << 5 | info]) + length.to_bytes(size, "big")
        raise ValueError("too long for an error body")

    out = bytearray(head(5, len(values)))
    for key, value in values.items():
        for text in (key.encode(), value.encode()):
            out += head(3, len(text)) + text
    return bytes(out)


# -- dropping the connection -----------------------------------------------------------------


def _run_and_discard(app: WSGIApplication, environ: WSGIEnvironment) -> int | None:
    """Let moto carry the request out, read its whole answer, and keep only the status."""
    status: list[str] = []

    def start_response(
        line: str, _headers: list[tuple[str, str]], _exc: Any = None
    ) -> Callable[[bytes], object]:
        status.append(line)
        return lambda _data: None

    result = app(environ, start_response)
    try:
        for _chunk in result:
            pass
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return int(status[0].split(" ", 1)[0]) if status else None


def _drop(environ: WSGIEnvironment) -> None:
    """Close the connection with nothing written: the client reads end-of-stream."""
    connection = environ.get("werkzeug.socket")
    if isinstance(connection, socket.socket):
        with contextlib.suppress(OSError):  # the client went away first: dropped either way
            connection.shutdown(socket.SHUT_RDWR)
    raise _Drop("fault injected: connection dropped without an answer")
