"""decide(): every rule of "Deciding a rollback" as a table, then the invariants as properties."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecs_rollback.domain.decision import (
    Decision,
    ManualOptions,
    OngoingCodeDeploy,
    Path,
    Policy,
    Refuse,
    RollBack,
    Skip,
    Trigger,
    decide,
    through_code_deploy,
)
from ecs_rollback.domain.model import Deployment, Origin, Status, TriggerKind, Verdict
from ecs_rollback.domain.state import Halt, ServiceState
from tests.unit.builders import (
    NOW,
    alarm,
    deployment,
    deployment_failed,
    lock,
    manual,
    manual_trigger,
    minutes,
    policy,
    ref,
    state,
    td_arn,
)

# The usual history: web:1 GOOD, web:2 rolled back, web:3 just deployed (not yet GOOD).
V1 = deployment(1, Status.GOOD)
V2_BAD = deployment(2, Status.ROLLED_BACK)
V3 = deployment(3, Status.IN_PROGRESS, started_at=NOW - minutes(5))
V3_FAILED = deployment(3, Status.FAILED, started_at=NOW - minutes(5))
USUAL = state(V3, [V1])


def good_since(revision: int, ago: timedelta) -> Deployment:
    """A current revision that went live ``ago`` and baked to GOOD."""
    return deployment(
        revision, Status.GOOD, started_at=NOW - ago - minutes(3), completed_at=NOW - ago, good_at=NOW - ago
    )


@dataclass(frozen=True)
class Case:
    state: ServiceState | None
    trigger: Trigger
    expected: type
    code: str
    target: int | None = None  # the revision a RollBack goes to
    dry_run: bool = False
    policy: Policy = field(default_factory=policy)
    manual: ManualOptions | None = None
    now: datetime = NOW


CASES = {
    # -- the target -------------------------------------------------------------------------
    "alarm rolls back to the newest GOOD, skipping the BAD one in between": Case(
        USUAL, alarm(), RollBack, "rollback", target=1
    ),
    "the newest of several GOOD revisions is chosen": Case(
        state(V3, [deployment(2), V1]), alarm(), RollBack, "rollback", target=2
    ),
    "no GOOD revision at all: no known good": Case(state(V3, []), alarm(), Skip, "no_known_good"),
    "current is the only GOOD revision: rollback cannot help": Case(
        state(good_since(3, minutes(5)), [good_since(3, minutes(5))]),
        alarm(),
        Skip,
        "already_on_newest_good",
    ),
    "current is already BAD: nothing newer to undo": Case(
        state(V3_FAILED, [V1]), alarm(), Skip, "current_already_bad"
    ),
    # -- the alarm's own time ---------------------------------------------------------------
    "an alarm that went off before the current deployment started is about an earlier release": Case(
        USUAL, alarm(at=NOW - minutes(6)), Skip, "alarm_before_deployment"
    ),
    "an alarm at the very start of the current deployment is about it": Case(
        USUAL, alarm(at=NOW - minutes(5)), RollBack, "rollback", target=1
    ),
    # -- the watch window -------------------------------------------------------------------
    "GOOD current deployed beyond the window: notify only": Case(
        state(good_since(3, minutes(61)), [good_since(3, minutes(61)), V1]),
        alarm(),
        Skip,
        "outside_watch_window",
    ),
    "GOOD current deployed exactly one window ago: outside": Case(
        state(good_since(3, minutes(60)), [good_since(3, minutes(60)), V1]),
        alarm(),
        Skip,
        "outside_watch_window",
    ),
    "GOOD current deployed inside the window: back to the previous GOOD": Case(
        state(good_since(3, minutes(59)), [good_since(3, minutes(59)), V1]),
        alarm(),
        RollBack,
        "rollback",
        target=1,
    ),
    "the window counts from completion, not from the start": Case(
        state(
            deployment(3, Status.GOOD, started_at=NOW - minutes(300), completed_at=NOW - minutes(30)),
            [V1],
        ),
        alarm(),
        RollBack,
        "rollback",
        target=1,
    ),
    "a shorter configured window is honoured": Case(
        state(good_since(3, minutes(15)), [good_since(3, minutes(15)), V1]),
        alarm(),
        Skip,
        "outside_watch_window",
        policy=policy(watch_window=minutes(10)),
    ),
    "current not yet GOOD rolls back however old it is": Case(
        state(deployment(3, Status.COMPLETED, completed_at=NOW - timedelta(days=5)), [V1]),
        alarm(),
        RollBack,
        "rollback",
        target=1,
    ),
    # -- the loop guard ---------------------------------------------------------------------
    "limit of automatic rollbacks reached within the hour": Case(
        state(V3, [V1], automatic_rollbacks=[NOW - minutes(50), NOW - minutes(20), NOW - minutes(1)]),
        alarm(),
        Refuse,
        "loop_guard",
    ),
    "rollbacks older than the hour do not count": Case(
        state(
            V3,
            [V1],
            automatic_rollbacks=[NOW - minutes(200), NOW - minutes(90), NOW - minutes(61), NOW - minutes(10)],
        ),
        alarm(),
        RollBack,
        "rollback",
        target=1,
    ),
    "a rollback exactly one hour ago has left the period": Case(
        state(V3, [V1], automatic_rollbacks=[NOW - minutes(60), NOW - minutes(30), NOW - minutes(10)]),
        alarm(),
        RollBack,
        "rollback",
        target=1,
    ),
    "the configured limit applies to failed deployments too": Case(
        state(V3_FAILED, [V1], automatic_rollbacks=[NOW - minutes(10)]),
        deployment_failed(V3.deployment_id),
        Refuse,
        "loop_guard",
        policy=policy(loop_guard_limit=1),
    ),
    # -- one rollback in flight -------------------------------------------------------------
    "an active lock skips an automatic trigger": Case(
        state(V3, [V1], in_flight=lock(1)), alarm(), Skip, "rollback_in_flight"
    ),
    "an active lock skips a failed deployment": Case(
        state(V3_FAILED, [V1], in_flight=lock(1)),
        deployment_failed(V3.deployment_id),
        Skip,
        "rollback_in_flight",
    ),
    "an active lock refuses a manual request": Case(
        state(V3, [V1], in_flight=lock(1)),
        manual_trigger(),
        Refuse,
        "rollback_in_flight",
        manual=manual(),
    ),
    "an expired lock no longer blocks": Case(
        state(V3, [V1], in_flight=lock(1, expires_at=NOW)), alarm(), RollBack, "rollback", target=1
    ),
    # -- halted automation ------------------------------------------------------------------
    "halted automation refuses automatic triggers": Case(
        state(V3, [V1], halted=Halt("the rollback's own deployment failed", NOW - minutes(30))),
        alarm(),
        Refuse,
        "automation_halted",
    ),
    "halted automation does not stop a person": Case(
        state(V3, [V1], halted=Halt("the rollback's own deployment failed", NOW - minutes(30))),
        manual_trigger(),
        RollBack,
        "rollback",
        target=1,
        manual=manual(),
    ),
    # -- failed deployments -----------------------------------------------------------------
    "failed deployment of the current revision rolls back": Case(
        state(V3_FAILED, [V1]), deployment_failed(V3.deployment_id), RollBack, "rollback", target=1
    ),
    "the automatic rollback's own deployment failed: stop, no cascade": Case(
        state(deployment(1, Status.FAILED, origin=Origin.AUTOMATIC_ROLLBACK, rollback_id="rb-1"), [V1]),
        deployment_failed(deployment(1).deployment_id),
        Refuse,
        "rollback_deployment_failed",
    ),
    "a manual rollback's own deployment failed: stop, no cascade": Case(
        state(deployment(1, Status.FAILED, origin=Origin.MANUAL_ROLLBACK, rollback_id="rb-1"), [V1]),
        deployment_failed(deployment(1).deployment_id),
        Refuse,
        "rollback_deployment_failed",
    ),
    "ECS is rolling back by itself": Case(
        state(V3_FAILED, [V1]),
        deployment_failed(V3.deployment_id, ecs_rolling_back=True),
        Skip,
        "ecs_rolling_back",
    ),
    "a failed deployment the service has moved on from": Case(
        state(V3, [V1]), deployment_failed("ecs-svc/older"), Skip, "stale_deployment"
    ),
    # -- dry run ----------------------------------------------------------------------------
    "dry run by policy": Case(
        USUAL, alarm(), RollBack, "rollback", target=1, dry_run=True, policy=policy(dry_run=True)
    ),
    "dry run asked by the operator": Case(
        USUAL, manual_trigger(), RollBack, "rollback", target=1, dry_run=True, manual=manual(dry_run=True)
    ),
    "dry run by policy also holds for a manual request": Case(
        USUAL,
        manual_trigger(),
        RollBack,
        "rollback",
        target=1,
        dry_run=True,
        policy=policy(dry_run=True),
        manual=manual(),
    ),
    # -- manual targets ---------------------------------------------------------------------
    "manual last-good": Case(USUAL, manual_trigger(), RollBack, "rollback", target=1, manual=manual()),
    "manual last-good with no GOOD revision": Case(
        state(V3, []), manual_trigger(), Refuse, "no_known_good", manual=manual()
    ),
    "manual named revision that the ledger knows": Case(
        USUAL,
        manual_trigger(),
        RollBack,
        "rollback",
        target=4,
        manual=manual(deployment(4, Status.COMPLETED, started_at=NOW - minutes(500))),
    ),
    "manual named revision that nobody knows": Case(
        USUAL, manual_trigger(), Refuse, "target_not_found", manual=manual(label="web:99")
    ),
    "manual target is what runs now": Case(
        USUAL, manual_trigger(), Skip, "target_is_current", manual=manual(V3)
    ),
    "manual BAD target without force": Case(
        USUAL, manual_trigger(), Refuse, "target_is_bad", manual=manual(V2_BAD)
    ),
    "manual BAD target with force": Case(
        USUAL, manual_trigger(), RollBack, "rollback", target=2, manual=manual(V2_BAD, force=True)
    ),
    "manual ignores the watch window": Case(
        state(good_since(3, timedelta(days=3)), [good_since(3, timedelta(days=3)), V1]),
        manual_trigger(),
        RollBack,
        "rollback",
        target=1,
        manual=manual(),
    ),
    "manual ignores the automatic loop guard": Case(
        state(V3, [V1], automatic_rollbacks=[NOW - minutes(m) for m in (1, 2, 3, 4)]),
        manual_trigger(),
        RollBack,
        "rollback",
        target=1,
        manual=manual(),
    ),
    # -- scope and unknown services ---------------------------------------------------------
    "service outside the scope, automatic": Case(
        USUAL, alarm(), Refuse, "out_of_scope", policy=policy(in_scope=False)
    ),
    "service outside the scope, manual": Case(
        USUAL, manual_trigger(), Refuse, "out_of_scope", policy=policy(in_scope=False), manual=manual()
    ),
    "unknown service, automatic: skip": Case(None, alarm(), Skip, "unknown_service"),
    "unknown service, manual: refuse": Case(
        None, manual_trigger(), Refuse, "unknown_service", manual=manual()
    ),
    "known service with no current revision, automatic: skip": Case(
        state(None, []), deployment_failed("ecs-svc/1"), Skip, "unknown_service"
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_decide(case: Case) -> None:
    # Given the ledger state, policy and trigger of the case

    # When deciding
    decision = decide(case.trigger, case.state, case.policy, case.now, case.manual)

    # Then the outcome, its code, and for a rollback its target and dry-run flag, are the expected ones
    assert type(decision) is case.expected, decision
    assert decision.code == case.code, decision
    assert decision.message
    if isinstance(decision, RollBack):
        assert case.state is not None
        assert decision.target.task_definition_arn == td_arn(case.target or 0)
        assert decision.current == case.state.current
        assert decision.dry_run is case.dry_run


def test_alarm_on_a_pinned_copy_does_not_roll_back_to_the_revision_it_restores() -> None:
    # Given web:1 GOOD, and web:4, the pinned copy a rollback registered of web:1, now running
    # (the rollback finished; web:4 bakes)
    restored = deployment(
        4,
        Status.COMPLETED,
        started_at=NOW - minutes(8),
        completed_at=NOW - minutes(4),
        origin=Origin.AUTOMATIC_ROLLBACK,
        rollback_id="rb-1",
        source_task_definition_arn=td_arn(1),
        actor="ecs-rollback",
        release_id=V1.release,  # a copy pinned to the digests web:1 ran is the same release
    )
    service_state = state(restored, [V1], automatic_rollbacks=[NOW - minutes(8)])

    # When the alarm fires again
    decision = decide(alarm(), service_state, policy(), NOW)

    # Then it does not "roll back" from the copy of web:1 to web:1: the same images, a rollback that
    # cannot help (and that marks the restore ROLLED_BACK and registers yet another copy)
    assert not (isinstance(decision, RollBack) and decision.target.task_definition_arn == td_arn(1)), decision


def test_manual_target_whose_pinned_copy_is_running_is_the_current_revision() -> None:
    # Given web:4, the pinned copy of web:1, running
    restored = deployment(
        4,
        Status.COMPLETED,
        origin=Origin.MANUAL_ROLLBACK,
        source_task_definition_arn=td_arn(1),
        actor="ecs-rollback",
        release_id=V1.release,
    )
    service_state = state(restored, [V1])

    # When an operator asks for web:1
    decision = decide(
        manual_trigger(),
        service_state,
        policy(),
        NOW,
        ManualOptions(last_good=False, target=ref(V1), target_label="web:1", force=False, dry_run=False),
    )

    # Then it is already running: nothing to do
    assert isinstance(decision, Skip) and decision.code == "target_is_current", decision


# -- properties ---------------------------------------------------------------------------------

# trigger, state (None: unknown service), policy, now, manual options, every deployment drawn
Situation = tuple[Trigger, ServiceState | None, Policy, datetime, ManualOptions | None, list[Deployment]]

OFFSETS = st.integers(min_value=-72 * 60, max_value=30)  # minutes from NOW


@st.composite
def service_states(draw: st.DrawFn) -> tuple[ServiceState, list[Deployment]]:
    """A ledger state as lifecycle would leave it: the good list holds the releases of GOOD deployments,
    newest first; several revisions may run one release (a pinned copy, a re-registration)."""
    count = draw(st.integers(min_value=1, max_value=7))
    starts = draw(st.lists(OFFSETS, min_size=count, max_size=count, unique=True))
    releases = draw(
        st.lists(st.sampled_from(["rel-a", "rel-b", "rel-c", "rel-d"]), min_size=count, max_size=count)
    )
    deployments = []
    for revision, (start, release_id) in enumerate(zip(starts, releases, strict=True), start=1):
        status = draw(st.sampled_from(Status))
        started = NOW + minutes(start)
        completed = (
            started + minutes(draw(st.integers(min_value=1, max_value=30)))
            if status in (Status.COMPLETED, Status.GOOD) or draw(st.booleans())
            else None
        )
        deployments.append(
            deployment(
                revision,
                status,
                started_at=started,
                completed_at=completed,
                origin=draw(st.sampled_from(Origin)),
                release_id=release_id,
            )
        )
    current = draw(st.sampled_from(deployments))
    bad = {d.release for d in deployments if d.status.is_bad}
    newest: dict[str, Deployment] = {}
    for d in sorted(deployments, key=lambda d: d.started_at):
        if d.status == Status.GOOD and d.release not in bad:
            newest[d.release] = d
    good = [
        ref(d, images_missing=[f"{d.task_definition_arn}@gone"] if draw(st.integers(0, 9)) == 0 else [])
        for d in sorted(newest.values(), key=lambda d: d.started_at, reverse=True)
    ]
    in_flight = draw(
        st.none()
        | st.builds(
            lambda target, expires, automatic: lock(
                target, expires_at=NOW + minutes(expires), automatic=automatic
            ),
            st.integers(min_value=1, max_value=count),
            st.integers(min_value=-60, max_value=60),
            st.booleans(),
        )
    )
    rollbacks = draw(st.lists(st.integers(min_value=-180, max_value=0), max_size=6))
    halted = draw(st.none() | st.just(Halt("the rollback's own deployment failed", NOW - minutes(30))))
    service_state = state(
        current,
        good,
        in_flight=in_flight,
        automatic_rollbacks=[NOW + minutes(m) for m in sorted(rollbacks)],
        halted=halted,
    )
    return service_state, deployments


@st.composite
def situations(draw: st.DrawFn, kinds: tuple[TriggerKind, ...] = tuple(TriggerKind)) -> Situation:
    service_state, deployments = draw(service_states())
    current = service_state.current
    assert current is not None
    kind = draw(st.sampled_from(kinds))
    options = None
    if kind == TriggerKind.ALARM:
        trigger = alarm()
    elif kind in (TriggerKind.DEPLOYMENT_FAILED, TriggerKind.KNOWN_BAD_RELEASE):
        failed_id = draw(st.sampled_from([current.deployment_id, *(d.deployment_id for d in deployments)]))
        trigger = replace(deployment_failed(failed_id, ecs_rolling_back=draw(st.booleans())), kind=kind)
    else:
        trigger = manual_trigger()
        target = draw(st.none() | st.sampled_from(deployments))
        options = manual(
            target,
            last_good=draw(st.booleans()),
            label="web:99" if target is None else None,
            force=draw(st.booleans()),
            dry_run=draw(st.booleans()),
        )
    drawn_policy = policy(
        watch_window=minutes(draw(st.integers(min_value=0, max_value=240))),
        loop_guard_limit=draw(st.integers(min_value=1, max_value=5)),
        dry_run=draw(st.booleans()),
        in_scope=draw(st.sampled_from([True] * 7 + [False])),
    )
    now = NOW + minutes(draw(st.integers(min_value=-90, max_value=90)))
    known = draw(st.sampled_from([service_state] * 8 + [None, replace(service_state, current=None)]))
    return trigger, known, drawn_policy, now, options, deployments


@pytest.mark.parametrize("kind", list(TriggerKind), ids=[kind.value for kind in TriggerKind])
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_decide_invariants(kind: TriggerKind, data: st.DataObject) -> None:
    # Given any valid trigger of this kind, ledger state, policy and time
    situation = data.draw(situations((kind,)))
    trigger, service_state, policy, now, options, _ = situation
    automatic = trigger.kind != TriggerKind.MANUAL

    # When deciding
    decision = decide(trigger, service_state, policy, now, options)

    # Then every invariant of "Deciding a rollback" holds
    assert isinstance(decision, (RollBack, Skip, Refuse))
    if not isinstance(decision, RollBack):
        return
    assert service_state is not None and service_state.current is not None
    current = service_state.current
    target = decision.target
    # (a) never a BAD release, unless a person forced it; never one whose images are gone
    forced = options is not None and options.force
    assert target.verdict != Verdict.BAD or (not automatic and forced)
    assert not target.images_missing
    # (b) never the release that runs now (nor another revision of it)
    assert target.release_id != current.release
    # (c) never a second rollback while one is in flight
    assert service_state.in_flight is None or not service_state.in_flight.active(now)
    # dry-run whenever policy or the operator asks for it
    assert decision.dry_run is (policy.dry_run or (options is not None and options.dry_run))
    assert policy.in_scope
    if automatic:
        # (d) this rollback stays within the loop guard's limit
        assert service_state.rollbacks_since(now - policy.loop_guard_period) + 1 <= policy.loop_guard_limit
        assert service_state.halted is None
        # (f) the target is the newest GOOD release that is not current and whose images exist
        newest_good = next(
            entry
            for entry in service_state.good
            if entry.release_id != current.release and not entry.images_missing
        )
        assert target == newest_good
        assert target.verdict == Verdict.GOOD


@settings(max_examples=150, deadline=None)
@given(situations())
def test_decide_is_deterministic(
    situation: Situation,
) -> None:
    # Given any situation, and an independent deep copy of it
    trigger, service_state, policy, now, options, _ = situation
    copies = copy.deepcopy((trigger, service_state, policy, now, options))

    # When deciding on each, twice
    first: Decision = decide(trigger, service_state, policy, now, options)
    second = decide(trigger, service_state, policy, now, options)
    from_copy = decide(*copies)

    # Then the same input always gives the same decision, and the input is left as it was
    assert first == second == from_copy
    assert (trigger, service_state, policy, now, options) == copies


@settings(max_examples=150, deadline=None)
@given(situations(), st.integers(min_value=1, max_value=5))
def test_duplicate_triggers_cause_at_most_one_rollback(
    situation: Situation,
    duplicates: int,
) -> None:
    # Given any situation, and the lock the executor takes whenever decide rolls back
    trigger, service_state, policy, now, options, _ = situation
    rollbacks = 0

    # When the same trigger is delivered again and again
    for _ in range(duplicates + 1):
        decision = decide(trigger, service_state, policy, now, options)
        if isinstance(decision, RollBack) and not decision.dry_run:
            rollbacks += 1
            assert service_state is not None
            taken = lock(1, rollback_id=f"rb-{rollbacks}", started_at=now, expires_at=now + minutes(30))
            service_state = replace(service_state, in_flight=taken)

    # Then at most one rollback is started
    assert rollbacks <= 1


# -- releases -----------------------------------------------------------------------------------


def test_a_release_recorded_bad_needs_force_as_a_manual_target() -> None:
    # Given web:2's release recorded BAD
    target = ref(V2_BAD)

    # When an operator names it, without and with force
    refused = decide(manual_trigger(), USUAL, policy(), NOW, manual(target))
    forced = decide(manual_trigger(), USUAL, policy(), NOW, manual(target, force=True))

    # Then it is refused with the reason, and deployed when forced
    assert isinstance(refused, Refuse) and refused.code == "target_is_bad"
    assert "force" in refused.message
    assert isinstance(forced, RollBack) and forced.target == target


def test_a_release_whose_images_are_gone_is_refused_with_the_images_named() -> None:
    # Given web:1, the only GOOD release, whose digest a lifecycle rule deleted
    gone = f"{V1.task_definition_arn}@sha256:gone"
    service_state = state(V3, [ref(V1, images_missing=[gone])])

    # When the alarm fires, or an operator asks for it
    automatic = decide(alarm(), service_state, policy(), NOW)
    by_hand = decide(manual_trigger(), service_state, policy(), NOW, manual(ref(V1, images_missing=[gone])))

    # Then both are refused, naming the image
    for decision in (automatic, by_hand):
        assert isinstance(decision, Refuse) and decision.code == "image_missing", decision
        assert gone in decision.message


def test_the_newest_good_release_whose_images_exist_is_chosen() -> None:
    # Given web:2 (newest GOOD) lost its image, web:1 did not
    v2 = deployment(2, Status.GOOD)
    service_state = state(V3, [ref(v2, images_missing=["repo@sha256:gone"]), ref(V1)])

    # When the alarm fires
    decision = decide(alarm(), service_state, policy(), NOW)

    # Then the rollback goes to web:1 and says why web:2 was skipped
    assert isinstance(decision, RollBack) and decision.target.release_id == V1.release
    assert "skipped" in decision.message


def test_a_target_without_recorded_digests_says_it_deploys_by_tag() -> None:
    # Given a revision ECS knows but whose digests were never recorded
    target = replace(ref(V1), digests_recorded=False, verdict=None)

    # When an operator names it
    decision = decide(manual_trigger(), USUAL, policy(), NOW, manual(target))

    # Then the rollback says it is deployed by tag
    assert isinstance(decision, RollBack) and "deployed by tag" in decision.message


def _ecs_deploying(current: Deployment, back_to: Deployment, **how: object) -> Deployment:
    return replace(
        current,
        controller="ECS",
        strategy=str(how.get("strategy", "BLUE_GREEN")),
        service_deployment_arn="arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/abc",
        ecs_rollback_to=back_to.task_definition_arn,
        ecs_rollback_release=back_to.release,
    )


@pytest.mark.parametrize(
    ("current", "good", "path", "says"),
    [
        # ECS still deploying web:3, its own rollback lands on web:1, the newest GOOD: ECS's way
        (_ecs_deploying(V3, V1), [V1], Path.STOP_SERVICE_DEPLOYMENT, "StopServiceDeployment"),
        # ECS's own rollback would land on web:2, not GOOD: UpdateService to web:1
        (_ecs_deploying(V3, V2_BAD), [V1], Path.UPDATE_SERVICE, "not web:1"),
        # web:3 finished deploying (COMPLETED, baking by the ledger's bake time): UpdateService
        (
            replace(_ecs_deploying(V3, V1), status=Status.COMPLETED, completed_at=NOW - minutes(2)),
            [V1],
            Path.UPDATE_SERVICE,
            "rolling back",
        ),
        # no service deployment recorded (before ECS had them, or events lost): UpdateService
        (V3, [V1], Path.UPDATE_SERVICE, "rolling back"),
    ],
)
def test_the_fastest_correct_path_is_chosen(
    current: Deployment, good: list[Deployment], path: Path, says: str
) -> None:
    decision = decide(alarm(), state(current, good), policy(), NOW)
    assert isinstance(decision, RollBack), decision
    assert decision.path == path
    assert says in decision.message
    expected = (
        V1.task_definition_arn
        if path == Path.STOP_SERVICE_DEPLOYMENT
        else decision.target.deploy_task_definition_arn
    )
    assert decision.deploys == expected


@pytest.mark.parametrize(
    ("controller", "code"), [("EXTERNAL", "external_controller"), ("CODE_DEPLOY", "codedeploy_controller")]
)
def test_a_service_another_controller_deploys_is_refused_for_every_trigger(
    controller: str, code: str
) -> None:
    current = replace(V3, controller=controller)
    for trigger, options in ((alarm(), None), (manual_trigger(), manual())):
        decision = decide(trigger, state(current, [V1]), policy(), NOW, options)
        assert isinstance(decision, Refuse) and decision.code == code, decision


def test_a_codedeploy_service_without_a_configured_group_is_refused_naming_the_configuration() -> None:
    # Given a CODE_DEPLOY service whose deployment group is not configured
    current = replace(V3, controller="CODE_DEPLOY")

    # When its alarm fires
    decision = decide(alarm(), state(current, [V1]), policy(), NOW)

    # Then it is refused, saying how to roll back by hand and how to have it done through CodeDeploy
    assert isinstance(decision, Refuse) and decision.code == "codedeploy_controller"
    assert "stop-deployment" in decision.message and "codeDeploy" in decision.message


def _codedeploy_deploying(current: Deployment, back_to: Deployment) -> Deployment:
    return replace(
        current,
        controller="CODE_DEPLOY",
        ecs_rollback_to=back_to.task_definition_arn,
        ecs_rollback_release=back_to.release,
    )


CODEDEPLOY_ONGOING = OngoingCodeDeploy("d-ONGOING01", V3.task_definition_arn)


@pytest.mark.parametrize(
    ("current", "ongoing", "stops", "deploys", "says"),
    [
        # CodeDeploy still deploying web:3, its rollback returns to web:1 (the newest GOOD): stop it
        (
            _codedeploy_deploying(V3, V1),
            CODEDEPLOY_ONGOING,
            "d-ONGOING01",
            V1,
            "StopDeployment with rollback",
        ),
        # CodeDeploy deploys nothing now (web:3 is live): a deployment of web:1
        (_codedeploy_deploying(V3, V1), None, None, None, "CreateDeployment of web:1"),
    ],
)
def test_a_codedeploy_service_with_a_configured_group_is_rolled_back_through_codedeploy(
    current: Deployment,
    ongoing: OngoingCodeDeploy | None,
    stops: str | None,
    deploys: Deployment | None,
    says: str,
) -> None:
    # Given a CODE_DEPLOY service whose deployment group is configured
    for trigger, options in ((alarm(), None), (manual_trigger(), manual())):
        # When a rollback is decided, and CodeDeploy says what it is deploying
        decision = decide(trigger, state(current, [V1]), policy(code_deploy=True), NOW, options)
        assert isinstance(decision, RollBack), decision
        assert decision.path == Path.CODEDEPLOY and "through CodeDeploy" in decision.message
        chosen = through_code_deploy(decision, ongoing)

        # Then CodeDeploy's own rollback is taken only when it returns to the newest GOOD release
        assert isinstance(chosen, RollBack) and chosen.path == Path.CODEDEPLOY
        assert chosen.code_deploy_stop == stops
        assert says in chosen.message
        expected = deploys.task_definition_arn if deploys else chosen.target.deploy_task_definition_arn
        assert chosen.deploys == expected
        assert chosen.target.release_id == V1.release


@pytest.mark.parametrize(
    ("current", "ongoing", "says"),
    [
        # CodeDeploy's rollback would return to web:2, not GOOD
        (_codedeploy_deploying(V3, V2_BAD), CODEDEPLOY_ONGOING, "not web:1"),
        # CodeDeploy deploys another revision than the one the ledger says runs
        (
            _codedeploy_deploying(V3, V1),
            OngoingCodeDeploy("d-OTHER0001", V2_BAD.task_definition_arn),
            "not the release the ledger says runs",
        ),
    ],
)
def test_a_codedeploy_deployment_that_cannot_be_the_way_back_is_refused_with_what_to_do(
    current: Deployment, ongoing: OngoingCodeDeploy, says: str
) -> None:
    # Given a configured CODE_DEPLOY service whose active CodeDeploy deployment does not lead back
    decision = decide(alarm(), state(current, [V1]), policy(code_deploy=True), NOW)
    assert isinstance(decision, RollBack)

    # When CodeDeploy says what it is deploying
    chosen = through_code_deploy(decision, ongoing)

    # Then no deployment is attempted (CodeDeploy takes one per group): refused, saying what to stop
    assert isinstance(chosen, Refuse) and chosen.code == "codedeploy_deployment_active"
    assert says in chosen.message and f"--deployment-id {ongoing.deployment_id}" in chosen.message
