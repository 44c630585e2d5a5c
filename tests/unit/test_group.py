"""A group rollback's pure rules: which SHA ``last-good`` means, who blocks, the group's outcome."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from ecs_rollback.config import Group
from ecs_rollback.contract import from_environment, to_environment
from ecs_rollback.domain import group as rules
from ecs_rollback.domain.decision import Refuse, RollBack, Skip
from ecs_rollback.domain.model import ReleaseRef, Verdict
from tests.unit.builders import SERVICE
from tests.unit.test_config import VALID_ENV


def _good(sha: str, number: int) -> ReleaseRef:
    arn = f"arn:aws:ecs:us-east-1:123456789012:task-definition/app:{number}"
    return ReleaseRef(
        release_id=f"rel-{sha}",
        task_definition_arn=arn,
        deploy_task_definition_arn=arn,
        git_sha=sha,
        verdict=Verdict.GOOD,
    )


def test_last_good_is_the_newest_sha_good_on_every_member() -> None:
    # Given api GOOD at c, b, a and worker GOOD at b, a (its c failed)
    api = [_good("c" * 40, 3), _good("b" * 40, 2), _good("a" * 40, 1)]
    worker = [_good("b" * 40, 2), _good("a" * 40, 1)]

    # Then the group's last good is b, whatever they run
    assert rules.common_good_sha([api, worker], ["d" * 40, "d" * 40]) == "b" * 40


def test_last_good_skips_the_sha_every_member_runs() -> None:
    both = [_good("b" * 40, 2), _good("a" * 40, 1)]

    assert rules.common_good_sha([both, both], ["b" * 40, "b" * 40]) == "a" * 40
    # one member elsewhere: going to b helps it
    assert rules.common_good_sha([both, both], ["b" * 40, "c" * 40]) == "b" * 40


def test_no_sha_good_everywhere_means_none() -> None:
    assert rules.common_good_sha([[_good("a" * 40, 1)], [_good("b" * 40, 1)]], [None, None]) is None
    assert rules.common_good_sha([], []) is None


@pytest.mark.parametrize(
    ("decision", "ready", "moves"),
    [
        (Skip("target_is_current", "already there"), True, False),
        (Skip("rollback_in_flight", "busy"), False, False),
        (Refuse("target_is_bad", "BAD"), False, False),
    ],
)
def test_who_is_ready(decision, ready, moves) -> None:
    check = rules.MemberCheck(SERVICE, decision)
    assert (check.ready, check.moves) == (ready, moves)


def test_a_member_that_rolls_back_is_ready() -> None:
    ref = _good("a" * 40, 1)
    check = rules.MemberCheck(SERVICE, RollBack(ref, None, False, "rolling back"))
    assert check.ready and check.moves


@pytest.mark.parametrize(
    ("outcomes", "dry_run", "expected"),
    [
        (["ROLLED_BACK", "ROLLED_BACK"], False, ("ROLLED_BACK", "group_rollback")),
        (["ROLLED_BACK", "SKIPPED"], False, ("ROLLED_BACK", "group_rollback")),
        (["DRY_RUN", "DRY_RUN"], True, ("DRY_RUN", "group_rollback")),
        (["SKIPPED", "SKIPPED"], False, ("SKIPPED", "group_already_there")),
        (["ROLLED_BACK", "FAILED"], False, ("FAILED", "group_partial")),
        (["ROLLED_BACK", "ERROR"], False, ("FAILED", "group_partial")),
    ],
)
def test_the_groups_outcome(outcomes, dry_run, expected) -> None:
    assert rules.group_outcome(outcomes, dry_run) == expected


def test_groups_travel_through_the_environment() -> None:
    # Given the configuration's mapping form
    environment = {
        **VALID_ENV,
        "GROUPS": json.dumps([{"name": "checkout", "services": ["prod/api", "prod/web"]}]),
    }

    settings = from_environment(environment)

    assert settings.group("checkout") == Group(name="checkout", services=("prod/api", "prod/web"))
    assert settings.group("other") is None
    assert from_environment(to_environment(settings)) == settings


def test_groups_default_to_none() -> None:
    assert from_environment(VALID_ENV).groups == ()


@pytest.mark.parametrize("services", [(), ("prod/api", "prod/api"), ("not a service",)])
def test_a_bad_group_is_refused(services) -> None:
    with pytest.raises(ValidationError):
        Group(name="checkout", services=services)


def test_a_group_goes_only_to_releases_recorded_good_unless_forced() -> None:
    unjudged = ReleaseRef(
        release_id="rel-x",
        task_definition_arn="arn:aws:ecs:us-east-1:123456789012:task-definition/app:4",
        deploy_task_definition_arn="arn:aws:ecs:us-east-1:123456789012:task-definition/app:4",
        git_sha="e" * 40,
    )
    decision = RollBack(unjudged, None, False, "rolling back")

    refused = rules.good_or_forced(decision, force=False)

    assert isinstance(refused, Refuse) and refused.code == "target_not_good"
    assert "force=true" in refused.message
    assert rules.good_or_forced(decision, force=True) is decision
    assert (
        rules.good_or_forced(RollBack(_good("a" * 40, 1), None, False, "ok"), force=False).code == "rollback"
    )
