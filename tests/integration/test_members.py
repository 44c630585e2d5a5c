"""A central installation and its member accounts, on the emulator (which keeps each account's
resources apart, and lets STS AssumeRole into another account id): a member's alarm rolls back
the member's service through the member role; an account that is not a member is refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from ecs_rollback.domain.model import ServiceId
from ecs_rollback_sandbox.cloudwatch_simulator import CloudWatchSimulator
from ecs_rollback_sandbox.ecs_simulator import EcsSimulator
from ecs_rollback_sandbox.emulator import ACCOUNT, Emulator
from ecs_rollback_sandbox.world import World

MEMBER = "222222222222"
STRANGER = "444444444444"
ROLE_NAME = "EcsAutoRollbackMember"
MEMBERS = {"roleName": ROLE_NAME, "accounts": [{"account": MEMBER}]}


@dataclass
class Account:
    """One account's ECS and CloudWatch on the emulator, played as ECS and CloudWatch would."""

    world: World
    emulator: Emulator
    ecs: EcsSimulator
    cloudwatch: CloudWatchSimulator

    def register(self, label: str, git_sha: str | None = None) -> str:
        digest = "sha256:" + (label.encode().hex() * 64)[:64]
        answer = self.emulator.client("ecs").register_task_definition(
            family="web",
            networkMode="bridge",
            containerDefinitions=[
                {"name": "app", "image": f"public.ecr.aws/web/app@{digest}", "memory": 256, "essential": True}
            ],
            **({"tags": [{"key": "ecs-rollback:git-sha", "value": git_sha}]} if git_sha else {}),
        )
        return str(answer["taskDefinition"]["taskDefinitionArn"])

    def run_ecs(self) -> list[dict[str, Any]]:
        """ECS's part for this account's services: deploy what UpdateService changed, to COMPLETED."""
        results = []
        for service in self.ecs.pending_services():
            results.append(self.world.deliver(self.ecs.start_deployment(service)))
            results.append(self.world.deliver(self.ecs.complete(service)))
        return results

    def deploy(self, service: ServiceId, task_definition_arn: str) -> list[dict[str, Any]]:
        self.world.clock.advance(timedelta(minutes=1))
        self.emulator.client("ecs").update_service(
            cluster=service.cluster, service=service.name, taskDefinition=task_definition_arn
        )
        return self.run_ecs()

    def task_definition(self, service: ServiceId) -> str:
        (described,) = self.emulator.client("ecs").describe_services(
            cluster=service.cluster, services=[service.name]
        )["services"]
        return str(described["taskDefinition"])


def _account(world: World, aws: Emulator, account: str) -> Account:
    emulator = aws.in_account(account)
    return Account(
        world,
        emulator,
        EcsSimulator(emulator, world.clock, account=account),
        CloudWatchSimulator(emulator, world.clock, account=account),
    )


@pytest.fixture
def central(make_world: Any) -> World:
    """A central installation (scope: cluster prod) whose one member is MEMBER."""
    return make_world(members=MEMBERS)  # type: ignore[no-any-return]


def _running_web(account: Account) -> tuple[ServiceId, str, str]:
    """prod/web in the account on v1, v2 deployed and COMPLETED, its CPU alarm in place."""
    v1, v2 = account.register("v1"), account.register("v2")
    service = account.ecs.create_service("prod", "web", v1)
    account.cloudwatch.create_service_alarm("web-cpu-high", "prod", "web")
    account.deploy(service, v2)
    return service, v1, v2


def test_an_alarm_in_a_member_account_rolls_back_that_accounts_service_through_the_member_role(
    central: World, aws: Emulator
) -> None:
    # Given prod/web in the member account, v2 just deployed (recorded in the central ledger)
    member = _account(central, aws, MEMBER)
    service, v1, v2 = _running_web(member)
    assert service.account == MEMBER
    assert member.task_definition(service) == v2
    assert central.ledger.load(service) is not None
    central.clock.advance(timedelta(minutes=2))
    central.notifications()

    # When its alarm fires in the member account
    member.cloudwatch.set_state("web-cpu-high", "OK")
    result = central.deliver(member.cloudwatch.set_state("web-cpu-high", "ALARM"))

    # Then the member's service is rolled back to v1, by calls made as the member role
    (decision,) = result["decisions"]
    assert decision["outcome"] == "ROLLED_BACK", decision
    assert member.task_definition(service) == v1
    assert central.count("sts.AssumeRole") >= 1
    assert central.count("ecs.UpdateService") == 1
    # ... recorded in the one ledger under the member's service ARN, and notified centrally
    state = central.ledger.load(service)
    assert state is not None and state.service.arn.startswith(f"arn:aws:ecs:us-east-1:{MEMBER}:service/")
    assert [note["body"]["outcome"] for note in central.notifications()] == ["ROLLED_BACK"]
    # ... and nothing of the kind exists in the central account itself
    assert central.emulator.client("ecs").list_clusters()["clusterArns"] == []


def test_with_an_organization_an_unlisted_accounts_alarm_rolls_its_service_back(
    make_world: Any, aws: Emulator
) -> None:
    # Given an installation for an organisation, and prod/web of an account it does not list
    central = make_world(members={"roleName": ROLE_NAME, "organizationId": "o-a1b2c3d4e5"})
    other = _account(central, aws, "333333333333")
    service, v1, _v2 = _running_web(other)
    central.clock.advance(timedelta(minutes=2))

    # When its alarm fires
    other.cloudwatch.set_state("web-cpu-high", "OK")
    result = central.deliver(other.cloudwatch.set_state("web-cpu-high", "ALARM"))

    # Then it is rolled back there, through that account's member role
    (decision,) = result["decisions"]
    assert decision["outcome"] == "ROLLED_BACK", decision
    assert other.task_definition(service) == v1
    assert central.count("sts.AssumeRole") >= 1


def test_the_member_role_is_assumed_once_per_account_while_its_credentials_last(
    central: World, aws: Emulator
) -> None:
    # Given a member's service whose deployment events the central functions recorded
    member = _account(central, aws, MEMBER)
    service, _v1, _v2 = _running_web(member)
    assumed = central.count("sts.AssumeRole")

    # When more of its events arrive (a later deployment)
    v3 = member.register("v3")
    member.deploy(service, v3)

    # Then the warm functions use the credentials they hold (no new AssumeRole)
    assert assumed >= 1
    assert central.count("sts.AssumeRole") == assumed
    assert member.task_definition(service) == v3


def test_a_members_release_bakes_against_the_members_alarms(make_world: Any, aws: Emulator) -> None:
    # Given a member whose alarm is linked in its own configuration, and v2 of its prod/web
    # COMPLETED while that alarm fires in the member account (its event lost: the bake must look)
    link = {"alarm": "web-cpu-high", "cluster": "prod", "service": "web"}
    central = make_world(
        members={"roleName": ROLE_NAME, "accounts": [{"account": MEMBER, "alarmLinks": [link]}]}
    )
    member = _account(central, aws, MEMBER)
    service, _v1, v2 = _running_web(member)
    member.cloudwatch.set_state("web-cpu-high", "ALARM")

    # When its bake time ends
    central.clock.advance(timedelta(seconds=central.settings["bake_timer"].bake_time_seconds + 1))
    (answer,) = central.fire_timers()

    # Then the bake timer read the member's alarm (through the member role) and did not promote v2
    assert answer["status"] == "rescheduled", answer
    assert member.task_definition(service) == v2


def test_an_event_from_an_account_that_is_not_a_member_is_refused(central: World, aws: Emulator) -> None:
    # Given prod/web in an account that is not a member (its events reached the bus anyway)
    stranger = _account(central, aws, STRANGER)
    v1, v2 = stranger.register("v1"), stranger.register("v2")
    service = stranger.ecs.create_service("prod", "web", v1)
    stranger.cloudwatch.create_service_alarm("web-cpu-high", "prod", "web")

    # When its deployment and its alarm are delivered to the central functions
    stranger.emulator.client("ecs").update_service(cluster="prod", service="web", taskDefinition=v2)
    recorded = [central.deliver(stranger.ecs.start_deployment(service))]
    stranger.cloudwatch.set_state("web-cpu-high", "OK")
    alarmed = central.deliver(stranger.cloudwatch.set_state("web-cpu-high", "ALARM"))

    # Then nothing is recorded, no role is assumed and ECS is not changed
    assert [r.get("action", r.get("status")) for r in recorded] == ["other_account_or_region"]
    assert alarmed.get("decisions", []) == []
    assert central.ledger.load(service) is None
    assert central.count("sts.AssumeRole") == 0
    assert central.count("ecs.UpdateService") == 0
    assert stranger.task_definition(service) == v2


def test_a_single_account_installation_refuses_a_members_events(make_world: Any, aws: Emulator) -> None:
    # Given an installation with no members, and prod/web in another account
    world = make_world()
    other = _account(world, aws, MEMBER)
    v1, v2 = other.register("v1"), other.register("v2")
    service = other.ecs.create_service("prod", "web", v1)

    # When that account's deployment event is delivered
    other.emulator.client("ecs").update_service(cluster="prod", service="web", taskDefinition=v2)
    result = world.deliver(other.ecs.start_deployment(service))

    # Then it is refused as before
    assert result.get("action", result.get("status")) == "other_account_or_region"
    assert world.count("sts.AssumeRole") == 0
    assert ACCOUNT != MEMBER


def test_an_operator_rolls_a_members_service_back_by_its_cluster_arn(central: World, aws: Emulator) -> None:
    # Given prod/web of the member account on v2 (recorded centrally)
    member = _account(central, aws, MEMBER)
    service, v1, _v2 = _running_web(member)
    central.clock.advance(timedelta(minutes=2))

    # When an operator asks the central manual function for it, by its cluster ARN
    answer = central.manual(cluster=f"arn:aws:ecs:us-east-1:{MEMBER}:cluster/prod", service="web")

    # Then the member's service runs v1, through the member role, recorded under its ARN
    assert answer["outcome"] == "ROLLED_BACK", answer
    assert answer["service_arn"] == service.arn
    assert member.task_definition(service) == v1
    assert central.count("sts.AssumeRole") >= 1


def test_a_cluster_arn_of_an_account_that_is_not_a_member_is_refused(central: World, aws: Emulator) -> None:
    answer = central.manual(cluster=f"arn:aws:ecs:us-east-1:{STRANGER}:cluster/prod", service="web")

    assert answer["error"] == "cluster_other_account", answer
    assert "members" in answer["message"]
    assert central.count("sts.AssumeRole") == 0


def test_a_group_spans_the_central_and_a_member_account(make_world: Any, aws: Emulator) -> None:
    # Given a group of prod/web in the member account and prod/web in the central one, both built
    # from commit A (v1, adopted GOOD) then commit B (v2, running)
    member_web = f"arn:aws:ecs:us-east-1:{MEMBER}:service/prod/web"
    central = make_world(members=MEMBERS, groups={"checkout": [member_web, "prod/web"]})
    commit_a, commit_b = "a1" * 20, "b2" * 20
    running = []
    for account in (_account(central, aws, MEMBER), _account(central, aws, ACCOUNT)):
        v1, v2 = account.register("v1", commit_a), account.register("v2", commit_b)
        service = account.ecs.create_service("prod", "web", v1)
        account.deploy(service, v2)
        running.append((account, service, v1))
    central.clock.advance(timedelta(minutes=2))

    # When the group is rolled back to last-good
    answer = central.manual(group="checkout")

    # Then both accounts' services run commit A again, one through the member role
    assert answer["outcome"] == "ROLLED_BACK", answer
    assert answer["git_sha"] == commit_a
    assert [member["service_arn"] for member in answer["members"]] == [
        member_web,
        f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/prod/web",
    ]
    for account, service, v1 in running:
        assert account.task_definition(service) == v1
    assert central.count("sts.AssumeRole") >= 1


def test_the_reconciler_decides_a_members_lost_alarm_through_the_member_role(
    central: World, aws: Emulator
) -> None:
    # Given prod/web of the member on v2, and its alarm in ALARM whose event never arrived
    from ecs_rollback.services.reconciler import ALARM_GRACE

    member = _account(central, aws, MEMBER)
    service, v1, _v2 = _running_web(member)
    central.clock.advance(timedelta(minutes=2))
    member.cloudwatch.set_state("web-cpu-high", "OK")
    member.cloudwatch.set_state("web-cpu-high", "ALARM")  # not delivered
    central.clock.advance(ALARM_GRACE + timedelta(seconds=1))

    # When the reconciler runs
    answer = central.reconcile()

    # Then it read the member's alarms and rolled the member's service back, once
    assert any(str(service) in line for line in answer["lost_alarms"]), answer
    assert member.task_definition(service) == v1
    assert central.count("ecs.UpdateService") == 1
    again = central.reconcile()
    assert again["lost_alarms"] == [] and central.count("ecs.UpdateService") == 1
