"""Deploy a synthesized CDK stack into the AWS emulator and describe what was created.

It plays the part of ``cdk bootstrap`` + ``cdk deploy`` with nothing but boto3: the bootstrap
asset bucket with each file asset under its object key, the bootstrap version parameter, the SSM
parameters the template resolves at deploy time, then ``CreateStack`` and a wait. The result
names every function with its resolved environment and every rule with its pattern and target,
so the sandbox can route events to handlers exactly as the deployed rules would.

What the emulator lacks is stood in for, never removed from the template:

- the public Powertools layer: a stand-in layer version (an empty zip) is published in the
  emulator, and its ARN is placed under the public parameter name the template reads
  (``/aws/service/powertools/...``). ``PutParameter`` refuses ``/aws/`` names, in AWS as in moto,
  so it is written into the emulator's parameter store the way moto loads its own public
  ``/aws/service/...`` parameters: this needs the emulator in this process (``Emulator`` is);
- moto's CloudFormation passes ``AWS::KMS::Key`` ``Tags`` to its KMS tagger, which expects
  ``TagKey``/``TagValue`` and fails on CloudFormation's ``Key``/``Value``: the emulator's copy
  of the template renames those two fields (same tags, same key); see ``adapt_for_emulator``;
- resource types moto's CloudFormation does not implement (``EMULATOR_SKIPS``: CloudWatch
  alarms, SNS subscriptions and topic policies, SQS queue policies, Lambda event-invoke configs,
  the scheduler group) are skipped by moto with a warning; ``DeployedStack.skipped`` lists them;
- the ledger stream's event source mapping is left out of the emulator's copy (moto would run
  the Notifier in Docker on each write, and print its failure to stdout): the sandbox's World
  reads the stream and invokes the Notifier as the mapping would (``HARNESS_PLAYS``);
  A ``Fn::GetAtt`` on one of them (the dashboard's alarm-status widget reads the alarms' ARNs)
  makes moto reject the whole template, so the emulator's copy puts a placeholder string there.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from moto.core.utils import utcnow
from moto.events.models import EventPattern
from moto.ssm.models import Parameter, ssm_backends

BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION = "21"
BOOTSTRAP_VERSION_PARAMETER = f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version"
POWERTOOLS_PARAMETER_PREFIX = "/aws/service/powertools/"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
_SSM_PARAMETER_TYPE = "AWS::SSM::Parameter::Value<String>"
# Resource types of this stack that moto 5.2's CloudFormation does not create (it warns and skips).
EMULATOR_SKIPS = frozenset(
    {
        "AWS::CloudWatch::Alarm",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::SNS::Subscription",
        "AWS::SNS::TopicPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::Scheduler::ScheduleGroup",
        "AWS::Events::EventBusPolicy",  # a central installation's: the harness delivers events itself
        # Removed from the emulator's copy (``HARNESS_PLAYS``): moto would try to run the
        # Notifier in Docker on every ledger write; the sandbox's World plays the mapping.
        "AWS::Lambda::EventSourceMapping",
    }
)
HARNESS_PLAYS = frozenset({"AWS::Lambda::EventSourceMapping"})


@dataclass(frozen=True)
class FunctionInfo:
    logical_id: str
    name: str
    arn: str
    handler: str
    environment: dict[str, str]


@dataclass(frozen=True)
class RuleInfo:
    logical_id: str
    name: str
    pattern: dict[str, Any]
    target_function_name: str | None
    target_arn: str
    dead_letter_arn: str | None
    retry_policy: dict[str, Any]
    schedule: str | None = None  # a scheduled rule's expression; it has no pattern and matches no event


@dataclass
class DeployedStack:
    name: str
    outputs: dict[str, str]
    functions: dict[str, FunctionInfo]  # by logical id
    rules: list[RuleInfo]
    skipped: dict[str, str] = field(default_factory=dict)  # logical id -> type moto did not create

    def function_by_handler(self, handler: str) -> FunctionInfo:
        for function in self.functions.values():
            if function.handler == handler:
                return function
        raise KeyError(f"no deployed function has handler {handler!r}")

    def rules_for(self, event: Mapping[str, Any]) -> list[RuleInfo]:
        """The deployed rules whose pattern matches ``event`` (EventBridge semantics, via moto)."""
        return [
            rule
            for rule in self.rules
            if rule.schedule is None
            and EventPattern.load(json.dumps(rule.pattern)).matches_event(cast(Any, dict(event)))
        ]


@dataclass(frozen=True)
class SynthesizedApp:
    cdk_out: Path
    artifact: str  # the stack's artifact id: <artifact>.template.json in cdk_out
    stack_name: str


def synthesize_app(outdir: str | Path, *, context: Mapping[str, Any]) -> SynthesizedApp:
    """Synthesize the project's app with ``context`` into ``outdir``.

    The same path as ``python app.py``, cdk-nag included, so the sandbox deploys exactly what a
    real deploy would.
    """
    # Imported here: aws-cdk-lib starts a Node runtime, which deploying a ready assembly does not need.
    from ecs_rollback_cdk.app import build_app

    app, stack = build_app(context=dict(context), outdir=str(outdir))
    app.synth()
    return SynthesizedApp(
        cdk_out=Path(outdir), artifact=str(stack.artifact_id), stack_name=str(stack.stack_name)
    )


class DeployError(RuntimeError):
    """The stack did not reach CREATE_COMPLETE; the message carries CloudFormation's reasons."""


def zip_directory(directory: Path) -> bytes:
    """A deterministic zip of a directory asset, laid out as the CDK CLI uploads it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(directory)), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _substitute(value: str, account: str, region: str) -> str:
    return (
        value.replace("${AWS::AccountId}", account)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", "aws")
    )


def upload_assets(s3: Any, cdk_out: Path, stack_artifact: str, *, account: str, region: str) -> list[str]:
    """Create the bootstrap bucket(s) and put every file asset of the stack; returns the keys."""
    manifest = json.loads((cdk_out / f"{stack_artifact}.assets.json").read_text())
    keys = []
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    for asset in manifest.get("files", {}).values():
        source = cdk_out / asset["source"]["path"]
        body = zip_directory(source) if asset["source"].get("packaging") == "zip" else source.read_bytes()
        for destination in asset["destinations"].values():
            bucket = _substitute(destination["bucketName"], account, region)
            if bucket not in existing:
                s3.create_bucket(Bucket=bucket)
                existing.add(bucket)
            key = _substitute(destination["objectKey"], account, region)
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            keys.append(key)
    return keys


def stand_in_powertools_layer(lambda_client: Any, parameter_name: str) -> str:
    """Publish an empty layer in the emulator for the public Powertools layer; returns its ARN."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/README.txt", f"stand-in for the layer named by {parameter_name}\n")
    response = lambda_client.publish_layer_version(
        LayerName="AWSLambdaPowertoolsPythonV3-stand-in",
        Description=f"Stand-in for {parameter_name}",
        Content={"ZipFile": buffer.getvalue()},
        CompatibleRuntimes=["python3.13"],
        CompatibleArchitectures=["arm64"],
    )
    return str(response["LayerVersionArn"])


def put_public_parameter(account: str, region: str, name: str, value: str) -> None:
    """Provide an AWS-owned public parameter (``/aws/service/...``) in the in-process emulator."""
    parameters = ssm_backends[account][region]._parameters
    parameters[name].append(
        Parameter(  # type: ignore[abstract]  # moto builds its own public parameters the same way
            account_id=account,
            name=name,
            value=value,
            parameter_type="String",
            description="public parameter provided by the sandbox",
            allowed_pattern=None,
            keyid=None,
            last_modified_date=utcnow(),
            version=len(parameters[name]) + 1,
            data_type="text",
        )
    )


def put_deploy_parameters(
    emulator: Any, template: Mapping[str, Any], overrides: Mapping[str, str] | None = None, *, account: str
) -> dict[str, str]:
    """Write the SSM parameters the template's ``AWS::SSM::Parameter::Value`` parameters read."""
    ssm, lambda_client = emulator.client("ssm"), emulator.client("lambda")
    written = {}
    for parameter in template.get("Parameters", {}).values():
        if parameter.get("Type") != _SSM_PARAMETER_TYPE or "Default" not in parameter:
            continue
        name = parameter["Default"]
        if overrides and name in overrides:
            value = overrides[name]
        elif name == BOOTSTRAP_VERSION_PARAMETER:
            value = BOOTSTRAP_VERSION
        elif name.startswith(POWERTOOLS_PARAMETER_PREFIX):
            value = stand_in_powertools_layer(lambda_client, name)
        else:
            raise DeployError(f"the template reads SSM parameter {name}; pass its value in parameters=")
        if name.startswith("/aws/"):
            put_public_parameter(account, emulator.region, name, value)
        else:
            ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
        written[name] = value
    return written


def adapt_for_emulator(template: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the template with the emulator's known misreadings worked around (see module doc)."""
    adapted: dict[str, Any] = json.loads(json.dumps(template))
    resources = adapted.get("Resources", {})
    for logical_id in [k for k, r in resources.items() if r.get("Type") in HARNESS_PLAYS]:
        del resources[logical_id]
    for resource in resources.values():
        if resource.get("Type") == "AWS::KMS::Key":
            tags = resource.get("Properties", {}).get("Tags", [])
            resource["Properties"]["Tags"] = [
                {"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in tags
            ]
    skipped = {
        logical_id for logical_id, resource in resources.items() if resource.get("Type") in EMULATOR_SKIPS
    }

    def placeholder(node: Any) -> Any:
        if isinstance(node, dict):
            get_att = node.get("Fn::GetAtt")
            if isinstance(get_att, list) and len(node) == 1 and get_att[0] in skipped:
                return f"emulator-skipped:{get_att[0]}.{get_att[1]}"
            return {key: placeholder(value) for key, value in node.items()}
        if isinstance(node, list):
            return [placeholder(item) for item in node]
        return node

    for logical_id, resource in resources.items():
        resources[logical_id] = placeholder(resource)
    if "Outputs" in adapted:
        adapted["Outputs"] = placeholder(adapted["Outputs"])
    return adapted


def _wait(cloudformation: Any, stack_name: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        stack: dict[str, Any] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            return stack
        if status.endswith("FAILED") or "ROLLBACK" in status:
            events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
            reasons = [
                f"{event['LogicalResourceId']}: {event.get('ResourceStatusReason')}"
                for event in events
                if event.get("ResourceStatusReason")
            ]
            raise DeployError(
                f"stack {stack_name} ended in {status}: {'; '.join(reasons) or 'no reason given'}"
            )
        if time.monotonic() > deadline:
            raise DeployError(f"stack {stack_name} still {status} after {timeout_s:.0f} s")
        time.sleep(0.1)


def deploy_stack(
    emulator: Any,
    cdk_out_dir: str | Path,
    stack_name: str,
    *,
    artifact: str | None = None,
    parameters: Mapping[str, str] | None = None,
    stack_parameters: Mapping[str, str] | None = None,
    timeout_s: float = 60,
) -> DeployedStack:
    """Deploy ``<artifact>.template.json`` from ``cdk_out_dir`` as ``stack_name`` and describe it.

    ``parameters``: values of the SSM parameters the template reads; ``stack_parameters``: the
    template's own parameters (the member stack's central account, region and role ARNs)."""
    cdk_out = Path(cdk_out_dir)
    artifact = artifact or stack_name
    template = json.loads((cdk_out / f"{artifact}.template.json").read_text())
    account = emulator.client("sts").get_caller_identity()["Account"]
    upload_assets(emulator.client("s3"), cdk_out, artifact, account=account, region=emulator.region)
    put_deploy_parameters(emulator, template, parameters, account=account)

    cloudformation = emulator.client("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(adapt_for_emulator(template)),
        Capabilities=CAPABILITIES,
        Parameters=[
            {"ParameterKey": key, "ParameterValue": value} for key, value in (stack_parameters or {}).items()
        ],
    )
    stack = _wait(cloudformation, stack_name, timeout_s)
    return describe_deployed(emulator, stack_name, template, stack)


def describe_deployed(
    emulator: Any, stack_name: str, template: Mapping[str, Any], stack: Mapping[str, Any] | None = None
) -> DeployedStack:
    cloudformation = emulator.client("cloudformation")
    stack = stack or cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    resources: dict[str, tuple[str, str]] = {}
    paginator = cloudformation.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack_name):
        for summary in page["StackResourceSummaries"]:
            resources[summary["LogicalResourceId"]] = (summary["ResourceType"], summary["PhysicalResourceId"])
    skipped = {
        logical_id: resource["Type"]
        for logical_id, resource in template.get("Resources", {}).items()
        if logical_id not in resources
    }

    lambda_client, events = emulator.client("lambda"), emulator.client("events")
    functions: dict[str, FunctionInfo] = {}
    names_by_arn: dict[str, str] = {}
    for logical_id, (resource_type, physical_id) in resources.items():
        if resource_type != "AWS::Lambda::Function":
            continue
        configuration = lambda_client.get_function_configuration(FunctionName=physical_id)
        functions[logical_id] = FunctionInfo(
            logical_id=logical_id,
            name=configuration["FunctionName"],
            arn=configuration["FunctionArn"],
            handler=configuration["Handler"],
            environment=dict(configuration.get("Environment", {}).get("Variables", {})),
        )
        names_by_arn[configuration["FunctionArn"]] = configuration["FunctionName"]

    rules = []
    for logical_id, (resource_type, physical_id) in resources.items():
        if resource_type != "AWS::Events::Rule":
            continue
        rule = events.describe_rule(Name=physical_id)
        for target in events.list_targets_by_rule(Rule=physical_id)["Targets"]:
            rules.append(
                RuleInfo(
                    logical_id=logical_id,
                    name=rule["Name"],
                    pattern=json.loads(rule.get("EventPattern") or "{}"),
                    target_function_name=names_by_arn.get(target["Arn"]),
                    target_arn=target["Arn"],
                    dead_letter_arn=target.get("DeadLetterConfig", {}).get("Arn"),
                    retry_policy=dict(target.get("RetryPolicy", {})),
                    schedule=rule.get("ScheduleExpression"),
                )
            )
    return DeployedStack(
        name=stack_name,
        outputs=outputs,
        functions=functions,
        rules=rules,
        skipped=skipped,
    )
