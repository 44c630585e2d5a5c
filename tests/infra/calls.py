"""What each function's code can call through its ports, read from the source of ``ecs_rollback``.

A name-based call graph over the package: from a handler module, every module-level function it
names (called or passed, like ``event_handler(Model, _answer)``) is followed, across the
package's own imports, and every call on a port (``deps.ecs.update_service(...)``,
``ledger.get_release(...)``) is collected. Classes are not entered: the adapters sit behind the
ports, and the domain is pure. It over-approximates (a function reachable on any path counts),
which is what a permission needs.

One call is not a port method: ``alarm_seen``, the keyword that makes the executor's ledger
transaction add the alarm to the service's alarm set (an ``Update`` item, so ``UpdateItem``),
counts where a caller hands the executor an alarm name, not where the executor forwards it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

PACKAGE = "ecs_rollback"
SOURCE = Path(__file__).resolve().parents[2] / "lambdas" / PACKAGE
# The names the services give their ports: ``Dependencies`` fields and the parameters that take one.
PORTS = frozenset({"ledger", "ecs", "registry", "alarms", "notifier", "bake_timer", "codedeploy"})
ALARM_SEEN = ("ledger", "alarm_seen")


@dataclass
class Module:
    name: str
    tree: ast.Module
    functions: dict[str, ast.FunctionDef] = field(default_factory=dict)
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # alias -> (module, name)


@cache
def modules() -> dict[str, Module]:
    found = {}
    for path in sorted(SOURCE.rglob("*.py")):
        parts = path.relative_to(SOURCE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        module = Module(name, ast.parse(path.read_text(encoding="utf-8")))
        for node in module.tree.body:
            if isinstance(node, ast.FunctionDef):
                module.functions[node.name] = node
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
                for alias in node.names:
                    module.imports[alias.asname or alias.name] = (node.module, alias.name)
        found[name] = module
    return found


def _target(module: Module, name: str) -> tuple[str, str | None] | None:
    """What a bare name in ``module`` stands for: one of its functions, or an imported one or module."""
    if name in module.functions:
        return (module.name, name)
    if name in module.imports:
        source, imported = module.imports[name]
        if f"{source}.{imported}" in modules():
            return (f"{source}.{imported}", None)  # a module: ``executor.execute``
        return (source, imported)
    return None


def _references(module: Module, node: ast.AST) -> Iterator[tuple[str, str]]:
    """The package functions ``node`` names: ``f``, ``imported_f`` and ``module.f``."""
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            target = _target(module, child.id)
            if target is not None and target[1] is not None:
                yield (target[0], target[1])
        elif isinstance(child, ast.Attribute) and isinstance(child.value, ast.Name):
            target = _target(module, child.value.id)
            if target is not None and target[1] is None:
                yield (target[0], child.attr)


def _port_of(call: ast.Call) -> tuple[str, str] | None:
    function = call.func
    if not isinstance(function, ast.Attribute):
        return None
    receiver = function.value
    name = receiver.id if isinstance(receiver, ast.Name) else getattr(receiver, "attr", None)
    return (name, function.attr) if name in PORTS else None


def _port_calls(node: ast.AST) -> Iterator[tuple[str, str]]:
    for child in ast.walk(node):
        if not isinstance(child, ast.Call):
            continue
        port = _port_of(child)
        if port is not None:
            yield port
        for keyword in child.keywords:
            # a caller that names the alarm, not the executor forwarding its ``seen``
            if keyword.arg == "alarm_seen" and not isinstance(keyword.value, ast.Name):
                yield ALARM_SEEN


def port_calls(handler_module: str) -> set[tuple[str, str]]:
    """Every (port, method) the handler in ``ecs_rollback.handlers.<handler_module>`` can reach."""
    index = modules()
    root = index[f"{PACKAGE}.handlers.{handler_module}"]
    calls = set(_port_calls(root.tree))
    seen: set[tuple[str, str]] = set()
    pending = list(_references(root, root.tree))
    while pending:
        key = pending.pop()
        module = index.get(key[0])
        if key in seen or module is None or key[1] not in module.functions:
            continue
        seen.add(key)
        body = module.functions[key[1]]
        calls.update(_port_calls(body))
        pending.extend(_references(module, body))
    return calls


# -- the adapters: what each port method asks AWS -------------------------------------------

# The adapter behind each port (``composition.build``), in the module it lives in, and the IAM
# prefix of its client.
ADAPTERS = {
    "ledger": ("adapters.ledger_dynamodb", "DynamoDBLedger", "dynamodb"),
    "ecs": ("adapters.ecs", "EcsAdapter", "ecs"),
    "registry": ("adapters.ecr", "EcrRegistry", "ecr"),
    "alarms": ("adapters.alarms", "CloudWatchAlarms", "cloudwatch"),
    "notifier": ("adapters.notifier_sns", "SnsNotifier", "sns"),
    "bake_timer": ("adapters.scheduler", "SchedulerBakeTimer", "scheduler"),
    "codedeploy": ("adapters.codedeploy", "CodeDeployAdapter", "codedeploy"),
}
# TransactWriteItems is authorized item by item, as the action each item performs.
TRANSACT_ITEMS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
# Operations that need more than their own action: IAM authorizes the tags and roles they carry.
IMPLIED = {
    "ecs:RegisterTaskDefinition": ("ecs:TagResource", "iam:PassRole"),
    "scheduler:CreateSchedule": ("iam:PassRole",),
    # CodeDeploy reads the deployment group's deployment configuration to create a deployment, and
    # registers the revision the deployment carries with the application (the permission AWS's
    # own ECS deploy action lists for CreateDeployment with AppSpecContent).
    "codedeploy:CreateDeployment": (
        "codedeploy:GetDeploymentConfig",
        "codedeploy:RegisterApplicationRevision",
    ),
}
INDEX_QUERY = "dynamodb:Query@index"  # a Query with IndexName: granted on table/<name>/index/*


def _camel(operation: str) -> str:
    return "".join(part.capitalize() for part in operation.split("_"))


def _class(module: str, name: str) -> ast.ClassDef:
    tree = modules()[f"{PACKAGE}.{module}"].tree
    (found,) = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == name]
    return found


def _where(action: str, call: ast.Call) -> str:
    """A Query with an ``IndexName`` goes to the indexes, one without to the table."""
    if action == "dynamodb:Query" and any(k.arg == "IndexName" for k in call.keywords):
        return INDEX_QUERY
    return action


def _operations(prefix: str, method: ast.FunctionDef) -> set[str]:
    """The IAM actions of the client calls in ``method`` (``self._client.<operation>(...)``)."""
    actions: set[str] = set()
    for node in ast.walk(method):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            if isinstance(receiver, ast.Attribute) and receiver.attr == "_client":
                operation = node.func.attr
                if operation == "transact_write_items":
                    continue  # authorized by its items, below
                if operation == "query" and any(k.arg is None for k in node.keywords):
                    continue  # ``query(**request)``: where it goes is said where the request is built
                action = f"{prefix}:{_camel(operation)}"
                actions.add(_where(action, node))
                actions.update(IMPLIED.get(action, ()))
            elif isinstance(receiver, ast.Name) and receiver.id == "self" and node.func.attr == "_query":
                actions.add(_where(f"{prefix}:Query", node))
        elif isinstance(node, ast.Dict):
            for key in node.keys:
                if isinstance(key, ast.Constant) and key.value in TRANSACT_ITEMS:
                    actions.add(TRANSACT_ITEMS[key.value])
    return actions


@cache
def adapter_actions(port: str) -> dict[str, frozenset[str]]:
    """Port method -> the IAM actions its adapter's calls need (following ``self.<method>``)."""
    module, name, prefix = ADAPTERS[port]
    methods = {node.name: node for node in _class(module, name).body if isinstance(node, ast.FunctionDef)}

    def reached(method: str) -> set[str]:
        seen, pending = set(), [method]
        while pending:
            current = pending.pop()
            if current in seen or current not in methods:
                continue
            seen.add(current)
            for node in ast.walk(methods[current]):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "self"
                ):
                    pending.append(node.attr)
        return seen

    actions = {}
    for method in methods:
        if not method.startswith("_"):
            found: set[str] = set()
            for helper in reached(method):
                found |= _operations(prefix, methods[helper])
            actions[method] = frozenset(found)
    return actions


def port_methods() -> dict[str, set[str]]:
    """Every method of every port Protocol in ``ports.py``, by the port's name in the services."""
    protocols = {
        "ledger": "Ledger",
        "ecs": "EcsGateway",
        "registry": "ImageRegistry",
        "alarms": "AlarmGateway",
        "notifier": "Notifier",
        "bake_timer": "BakeTimer",
        "codedeploy": "CodeDeployGateway",
    }
    return {
        port: {node.name for node in _class("ports", protocol).body if isinstance(node, ast.FunctionDef)}
        for port, protocol in protocols.items()
    }


def required_actions(handler_module: str) -> set[str]:
    """The IAM actions a function needs, from what its code calls and what the adapters ask AWS.

    The ledger's Update items (alarms added to a service's set) count only where ``alarm_seen``
    is handed to the executor; every other transaction holds Put items only.
    """
    required: set[str] = set()
    called = port_calls(handler_module)
    for port, method in called:
        if (port, method) == ALARM_SEEN:
            required.add(TRANSACT_ITEMS["Update"])
            continue
        actions = set(adapter_actions(port)[method])
        if (port, method) == ("ledger", "commit"):
            actions.discard(TRANSACT_ITEMS["Update"])
        required |= actions
    return required
