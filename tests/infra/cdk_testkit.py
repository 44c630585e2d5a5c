"""Helpers shared by the infrastructure tests: build apps once, read templates, resolve intrinsics."""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment

from ecs_rollback_cdk.app import build_app, cdk_json_context
from ecs_rollback_cdk.stack import EcsAutoRollbackStack

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "tests" / "events"

HANDLERS = {
    "DeploymentEvents": "ecs_rollback.handlers.deployment_events.handler",
    "AlarmEvents": "ecs_rollback.handlers.alarm_events.handler",
    "ManualRollback": "ecs_rollback.handlers.manual_rollback.handler",
    "BakeTimer": "ecs_rollback.handlers.bake_timer.handler",
    "ImageEvents": "ecs_rollback.handlers.image_events.handler",
    "Notifier": "ecs_rollback.handlers.notifier.handler",
    "Reconciler": "ecs_rollback.handlers.reconciler.handler",
    "ReleaseGate": "ecs_rollback.handlers.release_gate.handler",
}
EXECUTORS = ("DeploymentEvents", "AlarmEvents", "ManualRollback", "Reconciler")


@dataclass(frozen=True)
class Synthesized:
    app: App
    stack: EcsAutoRollbackStack
    template: dict[str, Any]
    outdir: Path

    @property
    def artifact(self) -> str:
        return str(self.stack.artifact_id)

    @property
    def zip_assets(self) -> list[Path]:
        return zip_assets(self.outdir, self.artifact)


def zip_assets(outdir: Path, artifact: str) -> list[Path]:
    """The staged directories of a stack's zip file assets (its Lambda code), from its asset manifest."""
    manifest = json.loads((outdir / f"{artifact}.assets.json").read_text())
    return [
        outdir / asset["source"]["path"]
        for asset in manifest["files"].values()
        if asset["source"].get("packaging") == "zip"
    ]


_CACHE: dict[str, Synthesized] = {}


def example_context() -> dict[str, Any]:
    """The context committed in cdk.json (a fresh copy)."""
    return copy.deepcopy(cdk_json_context(REPO / "cdk.json"))


def with_config(**overrides: Any) -> dict[str, Any]:
    """The example context with some ``ecsRollback`` keys replaced (``None`` removes a key)."""
    context = example_context()
    config = context["ecsRollback"]
    for key, value in overrides.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    return context


def synthesize(
    context: Mapping[str, Any],
    *,
    outdir: Path | None = None,
    account: str | None = None,
    region: str | None = None,
) -> Synthesized:
    """Build and synthesize one app (cached per context and environment for the session)."""
    key = json.dumps([context, account, region], sort_keys=True)
    if key not in _CACHE:
        env = Environment(account=account, region=region) if account or region else None
        directory = outdir or Path(tempfile.mkdtemp(prefix="cdk.out-"))
        app, stack = build_app(context=context, outdir=str(directory), env=env, nag=False)
        assembly = app.synth()
        template = json.loads(
            Path(assembly.get_stack_artifact(stack.artifact_id).template_full_path).read_text()
        )
        _CACHE[key] = Synthesized(app=app, stack=stack, template=template, outdir=directory)
    return _CACHE[key]


def resources(template: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def functions_by_name(template: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Function name (DeploymentEvents, ...) -> (logical id, resource), found by handler."""
    by_handler = {
        resource["Properties"]["Handler"]: (logical_id, resource)
        for logical_id, resource in resources(template, "AWS::Lambda::Function").items()
    }
    return {name: by_handler[handler] for name, handler in HANDLERS.items()}


def role_policy_statements(template: Mapping[str, Any], role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of the policies attached to one role (inline or AWS::IAM::Policy)."""
    statements = []
    role = template["Resources"][role_logical_id]
    for policy in role["Properties"].get("Policies", []):
        statements.extend(policy["PolicyDocument"]["Statement"])
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def iter_policy_documents(template: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(logical id, kind, statement) for every identity and resource policy in the template."""
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        kind = resource["Type"]
        documents = []
        if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(properties["PolicyDocument"])
        elif kind == "AWS::IAM::Role":
            documents.extend(policy["PolicyDocument"] for policy in properties.get("Policies", []))
        elif kind in ("AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"):
            documents.append(properties["PolicyDocument"])
        elif kind == "AWS::KMS::Key":
            documents.append(properties["KeyPolicy"])
        for document in documents:
            for statement in document["Statement"]:
                yield logical_id, kind, statement


def resolve(
    node: Any, *, account: str, region: str, partition: str = "aws", refs: Mapping[str, str] | None = None
) -> Any:
    """Resolve the intrinsics CDK writes into event patterns and ARNs (Ref, Fn::Join)."""
    pseudo = {"AWS::Partition": partition, "AWS::Region": region, "AWS::AccountId": account, **(refs or {})}
    if isinstance(node, list):
        return [
            resolve(item, account=account, region=region, partition=partition, refs=refs) for item in node
        ]
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return pseudo[node["Ref"]]
        if set(node) == {"Fn::Join"}:
            delimiter, parts = node["Fn::Join"]
            return delimiter.join(
                str(resolve(part, account=account, region=region, partition=partition, refs=refs))
                for part in parts
            )
        return {
            key: resolve(value, account=account, region=region, partition=partition, refs=refs)
            for key, value in node.items()
        }
    return node


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())
