"""The eight functions, from one private factory: every function gets the same runtime,
architecture, JSON logs, tracing, log retention, failure queue and alarms; a spec says the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from ecs_rollback_cdk.config import RollbackConfig
from ecs_rollback_cdk.constructs.code_asset import code_asset
from ecs_rollback_cdk.constructs.monitoring import Monitoring
from ecs_rollback_cdk.context_keys import LOG_RETENTION

PYTHON_RUNTIME = lambda_.Runtime.PYTHON_3_13
POWERTOOLS_PARAMETER = "/aws/service/powertools/python/arm64/{python}/{version}"
# Asynchronous invocations (rules and schedules): two retries, then the failure queue.
ASYNC_MAX_EVENT_AGE = Duration.hours(1)
ASYNC_RETRY_ATTEMPTS = 2


@dataclass(frozen=True)
class FunctionSpec:
    """What differs between the functions (their descriptions are in ``DESCRIPTIONS``).

    Sizing: 512 MB for the functions on the rollback path (about a third of a vCPU, so the cold
    start importing boto3, Powertools and pydantic stays near a second and the rollback lands
    within seconds) with 60 s to cover a worst-case sequence of SDK calls with retries (describe,
    register a pinned copy, update the service, ledger transaction, notify). The bake timer and
    the image events are off the rollback path and make a few calls each (alarms, one pinned copy,
    a few ledger pages and writes): 256 MB and 30 s. So does the release gate, which ECS calls
    synchronously and which reads at most a service revision, a task definition, one ledger item
    and the alarm states.
    """

    name: str
    module: str  # under ecs_rollback.handlers
    memory_mb: int = 512
    timeout_seconds: int = 60


BAKE_TIMER = FunctionSpec("BakeTimer", "bake_timer", memory_mb=256, timeout_seconds=30)
DEPLOYMENT_EVENTS = FunctionSpec("DeploymentEvents", "deployment_events")
ALARM_EVENTS = FunctionSpec("AlarmEvents", "alarm_events")
MANUAL_ROLLBACK = FunctionSpec("ManualRollback", "manual_rollback")
IMAGE_EVENTS = FunctionSpec("ImageEvents", "image_events", memory_mb=256, timeout_seconds=30)
NOTIFIER = FunctionSpec("Notifier", "notifier", memory_mb=256, timeout_seconds=30)
RECONCILER = FunctionSpec("Reconciler", "reconciler")
RELEASE_GATE = FunctionSpec("ReleaseGate", "release_gate", memory_mb=256, timeout_seconds=30)
# The functions that take a service's lock and call UpdateService: the lease a run holds on a
# rollback outlasts the longest of them.
ROLLBACK_PATH = (DEPLOYMENT_EVENTS, ALARM_EVENTS, MANUAL_ROLLBACK, RECONCILER)
DESCRIPTIONS = {
    "BakeTimer": "Promotes a COMPLETED revision to GOOD when its bake time passes with no alarm",
    "DeploymentEvents": (
        "Records ECS deployments in the ledger, schedules the bake, rolls back failed and known-BAD ones"
    ),
    "AlarmEvents": "Rolls a service back to its last good revision when a linked alarm enters ALARM",
    "ManualRollback": "Operator-invoked rollback to the last good revision, a revision or a git SHA",
    "ImageEvents": "Marks the releases whose image ECR deleted as no longer restorable",
    "Notifier": "Publishes the rollback decisions the ledger's outbox holds, from the ledger's stream",
    "Reconciler": (
        "Every minute: resumes stalled rollbacks, records lost deployments and bakes, publishes unsent notices"
    ),
    "ReleaseGate": (
        "ECS deployment lifecycle hook: fails a known-BAD release before scale-up, and a deployment "
        "whose linked alarm fires after a traffic shift"
    ),
}


@dataclass
class FunctionFactory:
    """The one place a function is defined; ``functions`` holds them by name, in creation order."""

    scope: Construct
    config: RollbackConfig
    monitoring: Monitoring
    code: lambda_.Code
    layer: lambda_.ILayerVersion
    functions: dict[str, lambda_.Function] = field(default_factory=dict)

    def function(self, spec: FunctionSpec, environment: Mapping[str, str]) -> lambda_.Function:
        group = Construct(self.scope, spec.name)
        role = iam.Role(
            group,
            "Role",
            description=f"Execution role of the {spec.name} function",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        log_group = logs.LogGroup(
            group,
            "Logs",
            retention=LOG_RETENTION[self.config.log_retention_days],
            removal_policy=RemovalPolicy.DESTROY,
        )
        log_group.grant_write(role)
        failures = self.monitoring.dead_letter_queue(
            group,
            "FailedInvocations",
            f"{spec.name} invocations that failed after retries",
            name=f"{spec.name}FailedInvocations",
        )
        function = lambda_.Function(
            group,
            "Function",
            description=DESCRIPTIONS[spec.name],
            runtime=PYTHON_RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=f"ecs_rollback.handlers.{spec.module}.handler",
            code=self.code,
            layers=[self.layer],
            role=role,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            environment=dict(environment),
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel(_lambda_log_level(self.config.log_level)),
            system_log_level_v2=lambda_.SystemLogLevel.INFO,
            log_group=log_group,
            max_event_age=ASYNC_MAX_EVENT_AGE,
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            on_failure=destinations.SqsDestination(failures),
        )
        self.monitoring.watch_function(group, spec.name, function)
        self.functions[spec.name] = function
        return function


def lambda_code() -> lambda_.Code:
    """The ``ecs_rollback`` package and nothing beside it, with bytecode for the runtime when it can.

    boto3 comes from the Lambda runtime; Powertools, pydantic and the X-Ray SDK from the layer.
    The asset's contents are ``constructs/code_asset.py``'s.
    """
    return code_asset(PYTHON_RUNTIME).code


def powertools_layer(scope: Construct, config: RollbackConfig) -> lambda_.ILayerVersion:
    """The layer ``config`` names, else the public one, resolved from SSM at deploy time."""
    arn = config.powertools_layer_arn or ssm.StringParameter.value_for_string_parameter(
        scope, POWERTOOLS_PARAMETER.format(python=PYTHON_RUNTIME.name, version=config.powertools_version)
    )
    return lambda_.LayerVersion.from_layer_version_arn(scope, "PowertoolsLayer", arn)


def _lambda_log_level(level: str) -> str:
    return "WARN" if level == "WARNING" else level
