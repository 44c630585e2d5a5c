"""The AWS emulator (moto's server) on a free loopback port, owned by whoever starts it.

boto3 talks to it over HTTP, exactly as it talks to AWS. Credentials are fake and set
explicitly on every session, so nothing here can fall back to real credentials.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

ACCOUNT = "123456789012"
REGION = "us-east-1"
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass
class Emulator:
    """A running moto server; use as a context manager or call ``start``/``stop``."""

    region: str = REGION
    host: str = "127.0.0.1"
    port: int = 0
    # Whose calls these are: the fake credentials of ACCOUNT, or a role's in another account.
    credentials: dict[str, str] = field(default_factory=lambda: dict(FAKE_CREDENTIALS), repr=False)
    _server: Any = field(default=None, init=False, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def start(self) -> Emulator:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        from ecs_rollback_sandbox import codedeploy_deployments, emulator_fixes, service_deployments

        emulator_fixes.apply()  # the same corrected emulator for every test, whatever runs first
        service_deployments.apply()  # and the ECS APIs it lacks
        codedeploy_deployments.apply()  # and CodeDeploy's deployments on ECS services
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access line per call is noise here
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        self.host, self.port = self._server.get_host_and_port()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def environment(self) -> dict[str, str]:
        """Variables that point the AWS CLI, boto3 and this project's CLI at the emulator."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def session(self) -> boto3.Session:
        return boto3.Session(
            aws_access_key_id=self.credentials["aws_access_key_id"],
            aws_secret_access_key=self.credentials["aws_secret_access_key"],
            aws_session_token=self.credentials.get("aws_session_token"),
            region_name=self.region,
        )

    def in_account(self, account: str, role_name: str = "OrganizationAccountAccessRole") -> Emulator:
        """The same emulator as seen from another account: its calls carry the credentials of a
        role there (STS AssumeRole; the emulator keeps each account's resources apart by them)."""
        answer = self.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/{role_name}", RoleSessionName="harness"
        )["Credentials"]
        credentials = {
            "aws_access_key_id": answer["AccessKeyId"],
            "aws_secret_access_key": answer["SecretAccessKey"],
            "aws_session_token": answer["SessionToken"],
        }
        return dataclasses.replace(self, credentials=credentials)

    def client(self, service: str) -> Any:
        """A client for the harness's own calls, made once per service (clients are thread-safe)."""
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self.session().client(
                    service,  # type: ignore[call-overload]
                    endpoint_url=self.endpoint,
                    config=Config(retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=50),
                )
            return self._clients[service]

    def reset(self) -> None:
        """Forget every resource (moto's own reset API)."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", data=b"", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()
