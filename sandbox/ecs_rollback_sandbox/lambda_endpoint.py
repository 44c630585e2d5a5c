"""The Lambda ``Invoke`` API on loopback, served by the project's real handler code.

The emulator can create functions but cannot run them (that needs Docker). The sandbox still
has to roll back for real when an operator runs ``ecs-rollback rollback``, so this server
answers exactly one REST call, ``POST /2015-03-31/functions/{FunctionName}/invocations``, by
running the handler in this process, and replies as Lambda does: the handler's JSON as the
body, ``X-Amz-Executed-Version``, and ``X-Amz-Function-Error`` when the handler raised. The CLI
is pointed at it with ``AWS_ENDPOINT_URL_LAMBDA`` while every other service goes to the emulator
through ``AWS_ENDPOINT_URL``; the CLI's own code path is the one it uses against AWS.

    with LambdaEndpoint({"manual-fn": lambda payload: world.invoke("manual_rollback", payload)}) as url:
        ...  # AWS_ENDPOINT_URL_LAMBDA=url ecs-rollback rollback prod web --function-name manual-fn ...
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

logger = logging.getLogger(__name__)

Function = Callable[[Any], Any]
INVOKE_PREFIX = "/2015-03-31/functions/"
INVOKE_SUFFIX = "/invocations"
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous request limit


class LambdaEndpoint:
    """A loopback HTTP server answering Lambda ``Invoke`` for the functions it is given."""

    def __init__(
        self,
        functions: Mapping[str, Function],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "us-east-1",
        account: str = "123456789012",
    ) -> None:
        self.functions = dict(functions)
        self.host = host
        self.port = port
        self.region = region
        self.account = account
        self.invocations: list[tuple[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        """Serve on a free loopback port (or the one given); returns the endpoint URL."""
        if self._server is not None:
            return self.url
        endpoint = self

        class Handler(_InvokeHandler):
            owner = endpoint

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="lambda-endpoint", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def resolve(self, name: str) -> tuple[str, Function] | None:
        """A function by name, ARN or partial ARN (``name:qualifier`` included), as Lambda accepts."""
        candidate = name
        if candidate.startswith("arn:"):
            parts = candidate.split(":")
            candidate = parts[6] if len(parts) > 6 else ""
        elif ":function:" in candidate:
            candidate = candidate.split(":function:", 1)[1]
        candidate = candidate.split(":", 1)[0]
        function = self.functions.get(candidate)
        return (candidate, function) if function is not None else None

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"


class _InvokeHandler(BaseHTTPRequestHandler):
    owner: LambdaEndpoint
    protocol_version = "HTTP/1.1"
    server_version = "ecs-rollback-sandbox-lambda"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("lambda endpoint: " + format, *args)

    def do_POST(self) -> None:
        body = self._read_body()
        if body is None:
            return
        path = self.path.split("?", 1)[0]
        if not (path.startswith(INVOKE_PREFIX) and path.endswith(INVOKE_SUFFIX)):
            self._error(404, "UnknownOperationException", f"{path} is not an operation this endpoint serves")
            return
        name = unquote(path[len(INVOKE_PREFIX) : -len(INVOKE_SUFFIX)])
        found = self.owner.resolve(name)
        if found is None:
            self._error(
                404,
                "ResourceNotFoundException",
                f"Function not found: {self.owner.function_arn(name)}",
            )
            return
        function_name, function = found
        try:
            payload = json.loads(body) if body.strip() else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            self._error(
                400,
                "InvalidRequestContentException",
                "Could not parse request body into json: the payload must be valid JSON",
            )
            return
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":
            self._reply(204, b"", {})
            return
        if invocation_type == "Event":
            threading.Thread(target=self._run, args=(function_name, function, payload), daemon=True).start()
            self._reply(202, b"", {})
            return
        result, failed = self._run(function_name, function, payload)
        headers = {"X-Amz-Function-Error": "Unhandled"} if failed else {}
        self._reply(200, json.dumps(result, default=str).encode(), headers)

    def do_GET(self) -> None:
        self._error(404, "UnknownOperationException", f"{self.path} is not an operation this endpoint serves")

    do_PUT = do_DELETE = do_GET

    def _run(self, name: str, function: Function, payload: Any) -> tuple[Any, bool]:
        self.owner.invocations.append((name, payload))
        try:
            return function(payload), False
        except Exception as error:  # Lambda reports a raising handler as a function error
            logger.exception("sandbox lambda %s raised", name)
            return (
                {
                    "errorMessage": str(error),
                    "errorType": type(error).__name__,
                    "requestId": str(uuid.uuid4()),
                    "stackTrace": traceback.format_exception(error)[-5:],
                },
                True,
            )

    def _read_body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            self._error(413, "RequestTooLargeException", "Request must be smaller than 6291456 bytes")
            return None
        return self.rfile.read(length) if length else b""

    def _error(self, status: int, error_type: str, message: str) -> None:
        body = json.dumps({"Type": "User", "message": message, "__type": error_type}).encode()
        self._reply(status, body, {"x-amzn-ErrorType": error_type})

    def _reply(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Amzn-RequestId", str(uuid.uuid4()))
        if status == 200:
            self.send_header("X-Amz-Executed-Version", "$LATEST")
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
