"""The CLI on a central installation's ledger: every account and region in one table, and
``status``/``history`` narrowed by ``--account`` and ``--region``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from ecs_rollback_sandbox.ecs_simulator import EcsSimulator
from tests.cli.conftest import Fleet

MEMBER = "222222222222"


@pytest.fixture
def central_fleet(make_fleet: Callable[..., Fleet]) -> Fleet:
    """The fleet (prod/web in the central account), and prod/web in the member account on web:2."""
    fleet = make_fleet(members={"roleName": "EcsAutoRollbackMember", "accounts": [{"account": MEMBER}]})
    world = fleet.world
    member = world.emulator.in_account(MEMBER)
    ecs = EcsSimulator(member, world.clock, account=MEMBER)
    arns = [
        member.client("ecs").register_task_definition(
            family="web",
            networkMode="bridge",
            containerDefinitions=[
                {"name": "app", "image": f"public.ecr.aws/web/app:{n}", "memory": 256, "essential": True}
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        for n in (1, 2)
    ]
    service = ecs.create_service("prod", "web", arns[0])
    world.clock.advance(timedelta(minutes=5))
    member.client("ecs").update_service(cluster="prod", service="web", taskDefinition=arns[1])
    for pending in ecs.pending_services():
        world.deliver(ecs.start_deployment(pending))
        world.deliver(ecs.complete(pending))
    assert world.ledger.load(service) is not None
    return fleet


def test_status_lists_every_account_and_says_whose_each_service_is(central_fleet: Fleet) -> None:
    # When
    listed = central_fleet.run("status", "--json")
    table = central_fleet.run("status")

    # Then both prod/web services are listed, each with its account
    assert listed.exit_code == 0, listed.output
    services = json.loads(listed.stdout)["services"]
    assert sorted(s["account"] for s in services if s["service"] == "prod/web") == ["123456789012", MEMBER]
    assert MEMBER in table.stdout and "123456789012" in table.stdout


def test_status_account_and_region_filters(central_fleet: Fleet) -> None:
    # When
    member_only = central_fleet.run("status", "--json", "--account", MEMBER)
    elsewhere = central_fleet.run("status", "--json", "--region", "eu-west-1")

    # Then
    assert member_only.exit_code == 0, member_only.output
    assert [(s["account"], s["service"]) for s in json.loads(member_only.stdout)["services"]] == [
        (MEMBER, "prod/web")
    ]
    assert json.loads(elsewhere.stdout)["services"] == []


def test_history_of_a_members_service(central_fleet: Fleet) -> None:
    # When
    member = central_fleet.run("history", "prod", "web", "--account", MEMBER, "--json")
    own = central_fleet.run("history", "prod", "web", "--json")

    # Then each account's prod/web has its own history
    assert member.exit_code == 0, member.output
    page = json.loads(member.stdout)
    assert page["service_arn"] == f"arn:aws:ecs:us-east-1:{MEMBER}:service/prod/web"
    assert [d["revision"] for d in page["deployments"]] == ["web:2", "web:1"]
    assert json.loads(own.stdout)["service_arn"].startswith("arn:aws:ecs:us-east-1:123456789012:")


def test_rollback_of_a_members_service_by_account(central_fleet: Fleet) -> None:
    # When an operator rolls back the member's prod/web from the central CLI
    result = central_fleet.run(
        "rollback", "prod", "web", "--account", MEMBER, "--reason", "member 5xx", "--yes", "--json"
    )

    # Then the function was asked by the cluster's ARN, and rolled the member's service back
    assert result.exit_code == 0, result.output
    _, request = central_fleet.endpoint.invocations[-1]
    assert request["cluster"] == f"arn:aws:ecs:us-east-1:{MEMBER}:cluster/prod"
    answer = json.loads(result.stdout)
    assert answer["outcome"] == "ROLLED_BACK", answer
    assert answer["service_arn"] == f"arn:aws:ecs:us-east-1:{MEMBER}:service/prod/web"
    assert answer["to"]["revision"] == "web:1"
