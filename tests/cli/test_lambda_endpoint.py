"""The sandbox's Lambda Invoke endpoint speaks the wire protocol boto3 expects, and nothing more."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from ecs_rollback_sandbox.lambda_endpoint import LambdaEndpoint


def _echo(payload: Any) -> dict[str, Any]:
    return {"got": payload}


def _boom(_payload: Any) -> dict[str, Any]:
    raise ValueError("no good revision")


@pytest.fixture
def endpoint() -> Iterator[LambdaEndpoint]:
    server = LambdaEndpoint({"echo": _echo, "boom": _boom})
    server.start()
    yield server
    server.stop()


def _client(url: str) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


def test_invoke_runs_the_function_by_name_or_arn(endpoint: LambdaEndpoint) -> None:
    # When
    by_name = _client(endpoint.url).invoke(FunctionName="echo", Payload=json.dumps({"a": 1}).encode())
    by_arn = _client(endpoint.url).invoke(
        FunctionName="arn:aws:lambda:us-east-1:123456789012:function:echo:$LATEST", Payload=b'"x"'
    )
    # Then
    assert by_name["StatusCode"] == 200 and by_name["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in by_name
    assert json.loads(by_name["Payload"].read()) == {"got": {"a": 1}}
    assert json.loads(by_arn["Payload"].read()) == {"got": "x"}
    assert endpoint.invocations == [("echo", {"a": 1}), ("echo", "x")]


def test_a_raising_function_is_a_function_error(endpoint: LambdaEndpoint) -> None:
    # When
    response = _client(endpoint.url).invoke(FunctionName="boom", Payload=b"{}")
    # Then
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    body = json.loads(response["Payload"].read())
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "no good revision"


def test_unknown_function_and_other_paths_are_404(endpoint: LambdaEndpoint) -> None:
    client = _client(endpoint.url)
    # When / Then
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="missing", Payload=b"{}")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(f"{endpoint.url}/2015-03-31/functions/echo", timeout=5)
    assert raised.value.code == 404
    assert json.loads(raised.value.read())["__type"] == "UnknownOperationException"


def test_invalid_json_is_rejected_like_lambda(endpoint: LambdaEndpoint) -> None:
    client = _client(endpoint.url)
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName="echo", Payload=b"{not json")
    assert endpoint.invocations == []


def test_context_manager_gives_the_url_and_stops() -> None:
    with LambdaEndpoint({"echo": _echo}) as url:
        assert json.loads(_client(url).invoke(FunctionName="echo", Payload=b"1")["Payload"].read()) == {
            "got": 1
        }
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)
