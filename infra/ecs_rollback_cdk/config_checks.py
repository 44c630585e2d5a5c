"""The configuration's cross-field checks of the fleet's keys (``members``, ``codeDeploy``,
``groups``): each problem belongs to one context key and says how to fix it (``KeyedError``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecs_rollback.config import SERVICE_ARN_RE, Member

if TYPE_CHECKING:
    from ecs_rollback_cdk.config import RollbackConfig


def check_member(config: RollbackConfig, index: int, member: Member) -> None:
    """A member's alarm links name its services in scope, and its service ARNs are its own."""
    key = f"members.accounts.{index}"
    scope = member.scope or config.scope
    for number, ref in enumerate(scope.services if member.scope is not None else ()):
        if SERVICE_ARN_RE.match(ref) and ref.split(":")[4] != member.account:
            raise KeyedError(
                f"{key}.scope.services.{number}",
                f"{ref!r} is a service of another account than {member.account}",
                "name the member's own services ('cluster/service' or its service ARNs)",
            )
    for number, link in enumerate(member.alarm_links):
        if not (link.cluster in scope.clusters or (link.cluster, link.service) in scope.service_names()):
            raise KeyedError(
                f"{key}.alarmLinks.{number}",
                f"links alarm {link.alarm!r} to {link.cluster}/{link.service}, which is not in the member's scope",
                "add the service (or its cluster) to the member's scope (or the installation's), or remove the link",
            )


def check_code_deploy(config: RollbackConfig) -> None:
    """Each CodeDeploy entry names a service in scope, once."""
    seen: set[tuple[str, str]] = set()
    for index, group in enumerate(config.code_deploy or ()):
        pair = group.pair()
        if not config.scope_contains(pair):
            raise KeyedError(
                f"codeDeploy.{index}.service",
                f"{group.service!r} is not in scope",
                "add the service (or its cluster) to scope, or remove its codeDeploy entry",
            )
        if pair in seen:
            raise KeyedError(
                f"codeDeploy.{index}.service",
                f"{group.service!r} has more than one codeDeploy entry",
                "name one deployment group per service",
            )
        seen.add(pair)


def check_groups(config: RollbackConfig) -> None:
    """Each group has a name of its own and only services in scope (a member out of scope could
    never be rolled back, so the whole group never could)."""
    names = [group.name for group in config.groups]
    for group in config.groups:
        if names.count(group.name) > 1:
            raise KeyedError(f"groups.{group.name}", "is defined twice", "give each group one entry")
        for number, pair in enumerate(group.pairs()):
            if not config.scope_contains(pair) and not _in_a_member_scope(config, group.services[number]):
                raise KeyedError(
                    f"groups.{group.name}.{number}",
                    f"{group.services[number]!r} is not in scope",
                    "add the service (or its cluster) to scope, or remove it from the group",
                )


def _in_a_member_scope(config: RollbackConfig, ref: str) -> bool:
    match = SERVICE_ARN_RE.match(ref)
    if match is None or config.members is None:
        return False
    account = ref.split(":")[4]
    for member in config.members.accounts:
        if member.account == account:
            scope = member.scope or config.scope
            return (
                match["cluster"] in scope.clusters
                or (match["cluster"], match["service"]) in scope.service_names()
            )
    return False


class KeyedError(ValueError):
    """A cross-field problem that belongs to one context key."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        super().__init__(f"{problem}. Fix: {fix}")
        self.key = key
        self.problem = problem
        self.fix = fix
