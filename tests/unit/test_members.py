"""A central installation's members: where a function acts (``services/place.py``), each member's
settings, and the member role's credentials (assumed on first use, per account, renewed before
they expire)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ecs_rollback.composition import MemberRoles
from ecs_rollback.config import AlarmLink, Members, Scope
from ecs_rollback.domain.model import ServiceId
from ecs_rollback.ports import AccountPorts
from ecs_rollback.services import place
from tests.fakes import FakeEcs, FakeRegistry, Fakes
from tests.unit.builders import ACCOUNT, REGION, FakeAlarms

MEMBER, SECOND, STRANGER = "222222222222", "333333333333", "444444444444"
WEB = ServiceId("aws", REGION, MEMBER, "prod", "web")
MEMBERS = Members.model_validate(
    {
        "roleName": "EcsAutoRollbackMember",
        "accounts": [
            {"account": MEMBER, "alarmLinks": [{"alarm": "web-cpu", "cluster": "prod", "service": "web"}]},
            {"account": SECOND, "regions": ["eu-west-1"], "scope": {"clusters": ["team"]}},
        ],
    }
)


@dataclass
class FakeMembers:
    ports: dict[tuple[str, str], AccountPorts] = field(default_factory=dict)

    def ports_in(self, account: str, region: str) -> AccountPorts:
        return self.ports.setdefault((account, region), AccountPorts(FakeEcs(), FakeRegistry(), FakeAlarms()))


def test_the_home_account_acts_with_its_own_ports() -> None:
    fakes = Fakes()
    deps = fakes.deps(members=MEMBERS)
    deps.members = FakeMembers()

    assert place.acting_in(deps, ACCOUNT, REGION) is deps


def test_a_member_acts_with_its_ports_its_scope_and_its_alarm_links() -> None:
    # Given a central installation with two members, one with a scope of its own
    fakes = Fakes()
    deps = fakes.deps(
        members=MEMBERS, alarm_links=(AlarmLink(alarm="api-5xx", cluster="prod", service="api"),)
    )
    members = FakeMembers()
    deps.members = members

    # When it acts in each member's account and region
    first = place.acting_in(deps, MEMBER, REGION)
    second = place.acting_in(deps, SECOND, "eu-west-1")

    # Then each gets that account's ports, and its own view of the settings; the ledger is shared
    assert first is not None and second is not None
    assert first.ecs is members.ports[MEMBER, REGION].ecs
    assert second.alarms is members.ports[SECOND, "eu-west-1"].alarms
    assert first.ledger is deps.ledger and second.ledger is deps.ledger
    assert first.settings.scope == deps.settings.scope
    assert [link.alarm for link in first.settings.alarm_links] == ["api-5xx", "web-cpu"]
    assert second.settings.scope == Scope(clusters=("team",))
    assert second.settings.alarm_links == ()


@pytest.mark.parametrize(
    ("account", "region"),
    [(STRANGER, REGION), (MEMBER, "eu-west-1"), (SECOND, REGION), (ACCOUNT, "eu-west-1")],
)
def test_an_account_or_region_that_is_neither_home_nor_a_members_is_refused(
    account: str, region: str
) -> None:
    fakes = Fakes()
    deps = fakes.deps(members=MEMBERS)
    members = FakeMembers()
    deps.members = members

    assert place.acting_in(deps, account, region) is None
    assert fakes.telemetry.events == ["ForeignEvent"]
    assert members.ports == {}


def test_without_members_every_other_account_is_refused() -> None:
    fakes = Fakes()
    deps = fakes.deps()

    assert deps.settings.members is None
    assert place.acting_in(deps, MEMBER, REGION) is None


# -- the member role's credentials ----------------------------------------------------------------


@dataclass
class FakeSts:
    now: datetime
    assumed: list[str] = field(default_factory=list)
    lifetime: timedelta = timedelta(hours=1)

    def assume_role(self, **request: Any) -> dict[str, Any]:
        self.assumed.append(request["RoleArn"])
        number = len(self.assumed)
        return {
            "Credentials": {
                "AccessKeyId": f"ASIA{number}",
                "SecretAccessKey": "secret",
                "SessionToken": "token",
                "Expiration": self.now + self.lifetime,
            }
        }


@dataclass
class Made:
    service: str
    region: str
    key: str

    def describe_services(self, **_: Any) -> dict[str, Any]:
        return {"services": [], "failures": []}


def test_the_member_role_is_assumed_on_first_use_per_account_and_again_before_it_expires() -> None:
    # Given the member roles, nothing assumed yet
    clock = [datetime(2026, 12, 4, 12, 0, tzinfo=UTC)]
    sts = FakeSts(clock[0])
    made: list[Made] = []

    def make(service: str, region: str, credentials: dict[str, Any]) -> Made:
        made.append(Made(service, region, credentials["AccessKeyId"]))
        return made[-1]

    roles = MemberRoles(MEMBERS, "aws", sts, make, lambda: clock[0])
    ports = roles.ports_in(MEMBER, REGION)
    assert sts.assumed == []

    # When the member's ECS client is used twice, and a second region of the same account too
    ports.ecs.describe_services([WEB])
    ports.ecs.describe_services([WEB])
    roles.ports_in(MEMBER, "eu-west-1").ecs.describe_services([WEB])

    # Then the role was assumed once, by its exact ARN, and its credentials shared
    assert sts.assumed == ["arn:aws:iam::222222222222:role/EcsAutoRollbackMember"]
    assert {(m.service, m.region, m.key) for m in made} == {
        ("ecs", REGION, "ASIA1"),
        ("ecs", "eu-west-1", "ASIA1"),
    }

    # When the credentials are about to expire
    clock[0] += timedelta(minutes=56)
    sts.now = clock[0]
    ports.ecs.describe_services([WEB])

    # Then the role is assumed again and the client made with the new credentials
    assert len(sts.assumed) == 2
    assert made[-1].key == "ASIA2"
    assert roles.ports_in(MEMBER, REGION) is ports


def test_with_an_organization_any_other_account_in_the_home_region_is_a_member() -> None:
    # Given a central installation for an organisation, one account listed with its own scope
    members = Members.model_validate(
        {
            "roleName": "EcsAutoRollbackMember",
            "organizationId": "o-a1b2c3d4e5",
            "accounts": [{"account": SECOND, "regions": ["eu-west-1"], "scope": {"clusters": ["team"]}}],
        }
    )
    fakes = Fakes()
    deps = fakes.deps(members=members)
    deps.members = FakeMembers()

    # Then an unlisted account acts with the installation's scope, in the home region only
    anyone = place.acting_in(deps, STRANGER, REGION)
    assert anyone is not None and anyone.settings.scope == deps.settings.scope
    assert place.acting_in(deps, STRANGER, "eu-west-1") is None
    # ... and a listed account keeps its own regions and scope
    assert place.acting_in(deps, SECOND, REGION) is None
    listed = place.acting_in(deps, SECOND, "eu-west-1")
    assert listed is not None and listed.settings.scope == Scope(clusters=("team",))


def test_a_members_own_policy_replaces_the_installations_for_its_services_only() -> None:
    # Given a member that bakes for 30 minutes, watches for 2 hours, allows one rollback an hour
    # and only dry-runs
    members = Members.model_validate(
        {
            "roleName": "EcsAutoRollbackMember",
            "accounts": [
                {
                    "account": MEMBER,
                    "bakeTimeSeconds": 1800,
                    "watchWindowSeconds": 7200,
                    "loopGuardLimit": 1,
                    "dryRun": True,
                },
                {"account": SECOND, "regions": ["eu-west-1"]},
            ],
        }
    )
    deps = Fakes().deps(members=members)
    deps.members = FakeMembers()

    # When it acts in each member's account
    first = place.acting_in(deps, MEMBER, REGION)
    second = place.acting_in(deps, SECOND, "eu-west-1")

    # Then the first member's services follow its policy, the second's the installation's
    assert first is not None and second is not None
    assert (first.settings.bake_time, first.settings.watch_window) == (
        timedelta(minutes=30),
        timedelta(hours=2),
    )
    assert first.settings.loop_guard_limit == 1
    assert first.settings.is_dry_run(WEB) is True
    assert second.settings.bake_time == deps.settings.bake_time
    assert second.settings.dry_run is deps.settings.dry_run is False
    assert deps.settings.bake_time != first.settings.bake_time


@pytest.mark.parametrize(
    "policy",
    [{"bakeTimeSeconds": -1}, {"loopGuardLimit": 0}, {"dryRun": "yes"}, {"watchWindowSeconds": "60"}],
)
def test_a_members_policy_is_validated(policy: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="accounts"):
        Members.model_validate({"roleName": "R", "accounts": [{"account": MEMBER, **policy}]})
