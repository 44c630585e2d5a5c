"""The sandbox's second account (``--accounts 2``): the stack deployed as a central installation,
the member stack deployed in a member account with the central stack's output as its parameter,
and a story there: the member's demo/web deploys a bad release, its alarm fires in the member
account, and the central functions roll it back through the member role.

Each event of the member account goes the way EventBridge would take it: the member stack's own
forwarding rule must match it (to the central bus), then the central stack's rules route it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from ecs_rollback_sandbox.cloudwatch_simulator import CloudWatchSimulator
from ecs_rollback_sandbox.deploy import DeployedStack, deploy_stack
from ecs_rollback_sandbox.ecs_simulator import EcsSimulator
from ecs_rollback_sandbox.emulator import ACCOUNT, Emulator
from ecs_rollback_sandbox.fleet import revision_of
from ecs_rollback_sandbox.stack import CLUSTER, LINKED_ALARM, SERVICE, STACK_NAME
from ecs_rollback_sandbox.timeline import Timeline
from ecs_rollback_sandbox.world import World

MEMBER_ACCOUNT = "222222222222"
MEMBER_STACK_NAME = f"{STACK_NAME}Member"
DEPLOYMENT_TIME = timedelta(minutes=3)


class MemberStoryError(RuntimeError):
    """A step of the member account's story failed."""


def members_setting() -> dict[str, Any]:
    """The ``members`` key the sandbox synthesizes with for two accounts."""
    return {"accounts": [{"account": MEMBER_ACCOUNT}]}


@dataclass
class MemberAccount:
    emulator: Emulator  # the emulator as the member account sees it
    forwarding: DeployedStack  # the member stack, as deployed there
    ecs: EcsSimulator
    cloudwatch: CloudWatchSimulator


def provision_member(emulator: Emulator, cdk_out: Path, central: DeployedStack, clock: Any) -> MemberAccount:
    """Deploy the member stack in the member account, as its StackSet instance would be."""
    member = emulator.in_account(MEMBER_ACCOUNT)
    forwarding = deploy_stack(
        member,
        cdk_out,
        MEMBER_STACK_NAME,
        stack_parameters={
            "CentralAccountId": ACCOUNT,
            "CentralRegion": emulator.region,
            "CentralFunctionRoleArns": central.outputs["MemberTrustedRoleArns"],
        },
    )
    return MemberAccount(
        member,
        forwarding,
        EcsSimulator(member, clock, account=MEMBER_ACCOUNT),
        CloudWatchSimulator(member, clock, account=MEMBER_ACCOUNT),
    )


@dataclass(frozen=True)
class MemberStoryResult:
    service_arn: str
    rolled_back_to: str
    calls: dict[str, int]
    notifications: list[dict[str, Any]]


def run_member_story(world: World, member: MemberAccount, timeline: Timeline) -> MemberStoryResult:
    """v1 then a bad v2 in the member account; v2's alarm fires there; back to v1, centrally."""
    timeline.heading(f"5. A second account: {MEMBER_ACCOUNT} runs its own {CLUSTER}/{SERVICE}")
    trust = member.emulator.client("iam").get_role(RoleName=_role_name(world))["Role"][
        "AssumeRolePolicyDocument"
    ]
    timeline.say(
        "sandbox",
        f"member stack {MEMBER_STACK_NAME} CREATE_COMPLETE in {MEMBER_ACCOUNT}: two rules forward ECS and alarm "
        f"events to the central bus; role {_role_name(world)} trusts only "
        f"{len(trust['Statement'][0]['Principal']['AWS'])} central function roles",
    )
    ecs = member.emulator.client("ecs")
    v1, v2 = (_register(ecs, label) for label in ("v1", "v2"))
    service = member.ecs.create_service(CLUSTER, SERVICE, v1)
    member.cloudwatch.create_service_alarm(LINKED_ALARM, CLUSTER, SERVICE)
    timeline.say(
        "deploy",
        f"{MEMBER_ACCOUNT}: {CLUSTER}/{SERVICE} running {revision_of(v1)} (adopted as the baseline on its "
        "first deployment event)",
    )

    world.clock.advance(timedelta(minutes=20))
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=v2)
    timeline.say("deploy", f"{MEMBER_ACCOUNT}: UpdateService {CLUSTER}/{SERVICE} -> {revision_of(v2)}")
    _play_ecs(world, member, timeline)

    world.clock.advance(timedelta(minutes=4))
    first_call = len(world.calls)
    member.cloudwatch.set_state(LINKED_ALARM, "OK")
    _deliver(world, member, timeline, member.cloudwatch.set_state(LINKED_ALARM, "ALARM"))
    calls = Counter(world.calls[first_call:])
    running = _task_definition(member, service.cluster, service.name)
    if running != v1:
        raise MemberStoryError(f"after the alarm the member's service runs {running}, not {v1}")
    timeline.say(
        "check",
        f"{MEMBER_ACCOUNT}'s {CLUSTER}/{SERVICE} now runs {revision_of(running)}: the alarm function assumed "
        f"the member role ({calls['sts.AssumeRole']} AssumeRole) and made {calls['ecs.UpdateService']} "
        "UpdateService there; the ledger keeps it under its own service ARN",
        calls=dict(calls),
    )
    _play_ecs(world, member, timeline)
    notes = world.notifications()
    for note in notes:
        timeline.say("sns", str(note["subject"]), body=note["body"])
    return MemberStoryResult(service.arn, running, dict(calls), notes)


def _role_name(world: World) -> str:
    members = world.settings["alarm_events"].members
    assert members is not None, "the sandbox synthesized the stack with members"
    return members.role_name


def _register(ecs: Any, label: str) -> str:
    digest = "sha256:" + (label.encode().hex() * 32)[:64]
    answer = ecs.register_task_definition(
        family=SERVICE,
        networkMode="bridge",
        containerDefinitions=[
            {"name": "app", "image": f"public.ecr.aws/demo/web@{digest}", "memory": 256, "essential": True}
        ],
    )
    return str(answer["taskDefinition"]["taskDefinitionArn"])


def _task_definition(member: MemberAccount, cluster: str, service: str) -> str:
    (described,) = member.emulator.client("ecs").describe_services(cluster=cluster, services=[service])[
        "services"
    ]
    return str(described["taskDefinition"])


def _deliver(
    world: World, member: MemberAccount, timeline: Timeline, event: dict[str, Any]
) -> dict[str, Any]:
    """EventBridge's path: the member's forwarding rule to the central bus, then the central rules."""
    forwarded = member.forwarding.rules_for(event)
    if not forwarded:
        raise MemberStoryError(f"no forwarding rule of the member stack matches {event['detail-type']}")
    timeline.say(
        "events",
        f"{MEMBER_ACCOUNT}: {event['detail-type']} forwarded to the central bus ({ACCOUNT})",
        event=event,
    )
    return world.deliver(event)


def _play_ecs(world: World, member: MemberAccount, timeline: Timeline) -> None:
    for service in member.ecs.pending_services():
        running = _task_definition(member, service.cluster, service.name)
        timeline.say("ecs", f"{MEMBER_ACCOUNT}: {CLUSTER}/{SERVICE} deploying {revision_of(running)}")
        _deliver(world, member, timeline, member.ecs.start_deployment(service))
        world.clock.advance(DEPLOYMENT_TIME)
        _deliver(world, member, timeline, member.ecs.complete(service))
