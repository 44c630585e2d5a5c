"""The AWS side of the CLI: one boto3 session, and the stack outputs resolved only when needed.

The session follows the standard credential chain, ``--profile`` and ``--region``; boto3 itself
honours ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``, which is how the CLI is pointed
at the local sandbox. Nothing here is read at import time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ecs_rollback.adapters.ecr import EcrRegistry
from ecs_rollback.adapters.ecs import EcsAdapter
from ecs_rollback.adapters.ledger_dynamodb import DynamoDBLedger
from ecs_rollback.config import Group
from ecs_rollback.contract import Env
from ecs_rollback.domain.model import ServiceId
from ecs_rollback_cli.errors import EXIT_USAGE, CliError, explain, when_aws_says

DEFAULT_STACK = "EcsAutoRollback"
STACK_ENV = "ECS_ROLLBACK_STACK"
TABLE_ENV = "ECS_ROLLBACK_TABLE"
FUNCTION_ENV = "ECS_ROLLBACK_FUNCTION"
TABLE_OUTPUT = "LedgerTableName"
FUNCTION_OUTPUT = "ManualRollbackFunctionName"

_READ_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=30)
# A rollback must not run twice because a slow answer was retried: one attempt, a long wait.
_INVOKE_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=180)


@dataclass(frozen=True)
class AwsOptions:
    profile: str | None = None
    region: str | None = None
    stack: str = DEFAULT_STACK
    table_name: str | None = None
    function_name: str | None = None


@dataclass(frozen=True)
class BakeTime:
    """How long a COMPLETED release bakes before it is GOOD; ``problem`` says why it is unknown."""

    seconds: int | None
    problem: str | None = None


class Aws:
    """Lazily built clients and lookups; a command only pays for what it uses."""

    def __init__(self, options: AwsOptions) -> None:
        self.options = options

    @cached_property
    def session(self) -> boto3.Session:
        return boto3.Session(profile_name=self.options.profile, region_name=self.options.region)

    @property
    def region(self) -> str:
        region = self.session.region_name
        if not region:
            raise CliError("no AWS region configured; pass --region or set AWS_REGION", EXIT_USAGE)
        return region

    def client(self, service: str, *, invoke: bool = False) -> Any:
        return self.session.client(  # type: ignore[call-overload]
            service, region_name=self.region, config=_INVOKE_CONFIG if invoke else _READ_CONFIG
        )

    # -- the stack --------------------------------------------------------------------------

    @cached_property
    def stack_outputs(self) -> dict[str, str]:
        stack = self.options.stack
        with when_aws_says(
            "ValidationError",
            f"no CloudFormation stack {stack!r} in {self.region}; deploy it, pass --stack NAME or "
            f"--region, or name the resources with --table-name and --function-name",
        ):
            response = self.client("cloudformation").describe_stacks(StackName=stack)
        stacks = response.get("Stacks", [])
        if not stacks:
            raise CliError(f"no CloudFormation stack {stack!r} in {self.region}; pass --stack NAME")
        return {
            output["OutputKey"]: output["OutputValue"]
            for output in stacks[0].get("Outputs", [])
            if "OutputKey" in output and "OutputValue" in output
        }

    def _output(self, key: str, flag: str) -> str:
        value = self.stack_outputs.get(key)
        if not value:
            raise CliError(
                f"stack {self.options.stack!r} has no output {key}; is it the ECS auto-rollback stack? "
                f"Pass --stack NAME or {flag}"
            )
        return value

    @cached_property
    def table_name(self) -> str:
        return self.options.table_name or self._output(TABLE_OUTPUT, "--table-name")

    @cached_property
    def function_name(self) -> str:
        return self.options.function_name or self._output(FUNCTION_OUTPUT, "--function-name")

    @cached_property
    def _function_environment(self) -> tuple[dict[str, str], str | None]:
        """The manual function's environment (what the functions run with), or why it is unknown."""
        try:
            configuration = self.client("lambda").get_function_configuration(FunctionName=self.function_name)
        except (CliError, ClientError, BotoCoreError) as error:
            return {}, (explain(error) or CliError(str(error))).message
        return dict(configuration.get("Environment", {}).get("Variables", {})), None

    @cached_property
    def bake_time(self) -> BakeTime:
        """The bake time the functions run with, read from the manual function's environment."""
        variables, unknown = self._function_environment
        if unknown is not None:
            return BakeTime(None, unknown)
        value = str(variables.get(Env.BAKE_TIME_SECONDS, ""))
        if not value.isdigit():
            return BakeTime(None, f"{self.function_name} has no {Env.BAKE_TIME_SECONDS} in its environment")
        return BakeTime(int(value))

    @cached_property
    def groups(self) -> tuple[Group, ...]:
        """The groups the manual function rolls back together (none when its environment cannot
        be read: ``--group`` still works, the function resolves the name)."""
        raw = self._function_environment[0].get(Env.GROUPS)
        try:
            return tuple(Group.model_validate(item) for item in json.loads(raw)) if raw else ()
        except (ValueError, TypeError):
            return ()

    # -- identity and services -------------------------------------------------------------

    @cached_property
    def identity(self) -> dict[str, str]:
        response = self.client("sts").get_caller_identity()
        return {"account": response["Account"], "arn": response["Arn"]}

    @property
    def partition(self) -> str:
        return self.identity["arn"].split(":")[1]

    def service_id(
        self, cluster: str, service: str, *, account: str | None = None, region: str | None = None
    ) -> ServiceId:
        """The service's ledger key: a cluster ARN names its own account and region; else
        ``account`` and ``region`` (a central installation's member), or the caller's."""
        if cluster.startswith("arn:"):
            parts = cluster.split(":")
            if len(parts) != 6 or not parts[5].startswith("cluster/"):
                raise CliError(f"{cluster!r} is not an ECS cluster ARN or name", EXIT_USAGE)
            return ServiceId(parts[1], parts[3], parts[4], parts[5].removeprefix("cluster/"), service)
        return ServiceId(
            self.partition, region or self.region, account or self.identity["account"], cluster, service
        )

    @cached_property
    def ledger(self) -> DynamoDBLedger:
        return DynamoDBLedger(self.client("dynamodb"), self.table_name)

    @cached_property
    def ecs(self) -> Any:
        return self.client("ecs")

    @cached_property
    def ecs_gateway(self) -> EcsAdapter:
        return EcsAdapter(self.ecs)

    @cached_property
    def image_registry(self) -> EcrRegistry:
        return EcrRegistry(self.client("ecr"))

    def describe_service(self, cluster: str, service: str) -> dict[str, Any]:
        """The raw ECS service, or a clear error when ECS has no such active service."""
        with when_aws_says(
            "ClusterNotFoundException",
            f"ECS has no cluster {cluster!r} in {self.region}; check the name, --region and --profile",
        ):
            response = self.ecs.describe_services(cluster=cluster, services=[service])
        for found in response.get("services", []):
            if found.get("status") != "INACTIVE":
                return dict(found)
        raise CliError(
            f"ECS has no active service {cluster}/{service} in {self.region}; check the names, --region and --profile"
        )
