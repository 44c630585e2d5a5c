"""The executor over in-memory fakes, socket-free: duplicates, races, ECS refusals, resuming."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import pytest

from ecs_rollback.domain.codedeploy import LoadBalancerTarget, app_spec
from ecs_rollback.domain.errors import TransientFault
from ecs_rollback.domain.model import ContainerImage, Outcome, ServiceId, Status
from ecs_rollback.ports import LedgerChange
from ecs_rollback.services import executor
from tests.fakes import Fakes, refuse_updates
from tests.ledger_fake import InMemoryLedger
from tests.unit.builders import (
    ECR_REPO,
    NOW,
    SERVICE,
    alarm,
    deployment,
    digest,
    minutes,
    release,
    state,
    task_definition,
)


@dataclass(frozen=True)
class Running:
    """A service on web:3 (just deployed) whose last GOOD revision is web:1."""

    good_arn: str
    current_arn: str


def running_service(fakes: Fakes, *, pinned: bool = True) -> Running:
    good_image = f"{ECR_REPO}@{digest(1)}" if pinned else f"{ECR_REPO}:latest"
    good_arn = fakes.ecs.add_task_definition(task_definition(("app", good_image), revision=1))
    current_arn = fakes.ecs.add_task_definition(task_definition(("app", f"{ECR_REPO}:latest"), revision=3))
    good = deployment(1, Status.GOOD, images=(ContainerImage("app", good_image, digest(1), "ecs-task"),))
    current = deployment(3, Status.IN_PROGRESS, started_at=NOW - minutes(5))
    fakes.ecs.services[SERVICE.arn] = current_arn
    fakes.ledger.commit(
        LedgerChange(state=state(current, [good], version=1), expected_version=0, deployments=[good, current])
    )
    return Running(good_arn, current_arn)


def test_a_duplicate_trigger_rolls_back_once_and_notifies_once() -> None:
    # Given a service whose new revision alarms
    fakes = Fakes()
    service = running_service(fakes)
    deps = fakes.deps()

    # When EventBridge delivers the same alarm event twice
    first = executor.execute(deps, alarm(), SERVICE)
    second = executor.execute(deps, alarm(), SERVICE)

    # Then ECS is updated once, to the GOOD revision, and the duplicate answers the first decision
    assert fakes.ecs.updates == [(SERVICE, service.good_arn)]
    assert first.outcome == second.outcome == Outcome.ROLLED_BACK
    assert second.rollback_id == first.rollback_id
    assert len(fakes.publish_outbox()) == 1
    assert "DuplicateTrigger" in fakes.telemetry.events


class RacingLedger(InMemoryLedger):
    """Lets another writer commit to the service just before the executor's first lock write."""

    def __init__(self) -> None:
        super().__init__()
        self.raced = False

    def commit(self, change: LedgerChange) -> None:
        if change.new_rollback is not None and not self.raced:
            self.raced = True
            stored = self.load(SERVICE)
            assert stored is not None
            other = replace(stored, last_alarm_at=NOW + minutes(1), version=stored.version + 1)
            super().commit(LedgerChange(state=other, expected_version=stored.version))
        super().commit(change)


def test_a_concurrent_ledger_update_is_decided_again_from_a_fresh_read() -> None:
    # Given a ledger another writer updates between the executor's read and its lock write
    fakes = Fakes(ledger=RacingLedger())
    service = running_service(fakes)

    # When the alarm is handled
    record = executor.execute(fakes.deps(), alarm(), SERVICE)

    # Then the executor retried from a fresh read: one rollback, and the other write survived
    assert record.outcome == Outcome.ROLLED_BACK
    assert fakes.ecs.updates == [(SERVICE, service.good_arn)]
    stored = fakes.ledger.load(SERVICE)
    assert stored is not None and stored.last_alarm_at == NOW + minutes(1)


def test_ecs_refusing_the_update_records_failed_and_releases_the_lock() -> None:
    # Given ECS refuses UpdateService
    fakes = Fakes()
    service = running_service(fakes)
    fakes.ecs.before_update = refuse_updates()

    # When the alarm is handled
    record = executor.execute(fakes.deps(), alarm(), SERVICE)

    # Then the decision is FAILED, recorded, notified, and the service is not left locked
    assert record.outcome == Outcome.FAILED
    assert record.code == "ecs_update_failed"
    assert fakes.ecs.updates == []
    assert fakes.ecs.services[SERVICE.arn] == service.current_arn
    stored = fakes.ledger.load(SERVICE)
    assert stored is not None and stored.in_flight is None
    assert fakes.ledger.get_rollback(SERVICE, record.record_key) == record
    assert [subject for subject in fakes.subjects() if "FAILED" in subject]


class _Killed(BaseException):
    """Lambda stopping the process at its timeout: no ``except Exception`` runs."""


def test_a_run_that_died_after_the_lock_is_resumed_by_the_redelivery_once_its_lease_lapsed() -> None:
    # Given a first run that took the lock and then died before UpdateService (a timeout)
    fakes = Fakes()
    service = running_service(fakes)
    deps = fakes.deps()

    def die(*_: object) -> None:
        fakes.ecs.before_update = None
        raise _Killed

    fakes.ecs.before_update = die
    with pytest.raises(_Killed):
        executor.execute(deps, alarm(), SERVICE)
    locked = fakes.ledger.load(SERVICE)
    assert locked is not None and locked.in_flight is not None
    assert fakes.ecs.updates == []

    # When a duplicate arrives while the lease is held, then Lambda's retry after it lapsed
    early = executor.execute(deps, alarm(), SERVICE)
    assert fakes.ecs.updates == [] and early.update_service_at is None
    fakes.clock.moment = NOW + deps.settings.lease
    record = executor.execute(deps, alarm(), SERVICE)

    # Then the same rollback is carried out, once, and told once
    assert fakes.ecs.updates == [(SERVICE, service.good_arn)]
    assert record.outcome == Outcome.ROLLED_BACK
    assert record.rollback_id == locked.in_flight.rollback_id
    assert record.update_service_at is not None
    assert [entry.attributes["outcome"] for entry in fakes.publish_outbox()] == ["ROLLED_BACK"]


def test_a_transient_fault_frees_the_lease_so_the_platforms_retry_finishes_at_once() -> None:
    # Given UpdateService throttled beyond the SDK's retries on the first delivery
    fakes = Fakes()
    service = running_service(fakes)
    deps = fakes.deps()

    def throttled(*_: object) -> None:
        fakes.ecs.before_update = None
        raise TransientFault("UpdateService: ThrottlingException: Rate exceeded")

    fakes.ecs.before_update = throttled
    with pytest.raises(TransientFault):
        executor.execute(deps, alarm(), SERVICE)
    assert fakes.publish_outbox() == []  # nothing recorded FAILED, nothing told yet

    # When the platform retries the event straight away
    record = executor.execute(deps, alarm(), SERVICE)

    # Then the rollback is finished by the retry
    assert fakes.ecs.updates == [(SERVICE, service.good_arn)]
    assert record.outcome == Outcome.ROLLED_BACK
    state = fakes.ledger.load(SERVICE)
    assert state is not None and state.in_flight is not None and not state.in_flight.unfinished


def test_a_lost_update_service_answer_is_recorded_not_repeated() -> None:
    # Given ECS carried out UpdateService but the run failed before recording it
    fakes = Fakes()
    service = running_service(fakes)
    deps = fakes.deps()
    original = fakes.ecs.update_service

    def carried_out_then_lost(target: ServiceId, arn: str) -> None:
        original(target, arn)
        raise TransientFault("UpdateService: ConnectionClosedError")

    fakes.ecs.update_service = carried_out_then_lost  # type: ignore[method-assign]
    with pytest.raises(TransientFault):
        executor.execute(deps, alarm(), SERVICE)
    fakes.ecs.update_service = original  # type: ignore[method-assign]

    # When the event is delivered again
    record = executor.execute(deps, alarm(), SERVICE)

    # Then ECS is asked first and not updated a second time
    assert fakes.ecs.updates == [(SERVICE, service.good_arn)]
    assert record.outcome == Outcome.ROLLED_BACK and record.update_service_at is not None


def test_a_tagged_target_deploys_the_pinned_copy_made_when_it_became_good() -> None:
    # Given the GOOD release names its image by a tag that has since moved; its pinned copy web:2
    # was registered when it became GOOD
    fakes = Fakes()
    running_service(fakes, pinned=False)
    copy_arn = fakes.ecs.add_task_definition(task_definition(("app", f"{ECR_REPO}@{digest(1)}"), revision=2))
    stored = fakes.ledger.load(SERVICE)
    assert stored is not None
    pinned = replace(stored.good[0], deploy_task_definition_arn=copy_arn)
    fakes.ledger.commit(
        LedgerChange(state=replace(stored, good=(pinned,), version=2), expected_version=stored.version)
    )

    # When the alarm is handled
    record = executor.execute(fakes.deps(), alarm(), SERVICE)

    # Then the copy is deployed, nothing is registered on the way, and the lock waits for the copy
    assert fakes.ecs.registrations == []
    assert fakes.ecs.updates == [(SERVICE, copy_arn)]
    assert record.deployed_task_definition_arn == copy_arn
    locked = fakes.ledger.load(SERVICE)
    assert locked is not None and locked.in_flight is not None
    assert locked.in_flight.target_task_definition_arn == copy_arn


def test_a_deregistered_rollback_revision_is_registered_again_from_the_ledger() -> None:
    # Given the GOOD release's rollback revision was deregistered (ECS refuses to deploy it)
    fakes = Fakes()
    service = running_service(fakes, pinned=False)
    good = deployment(
        1, Status.GOOD, images=(ContainerImage("app", f"{ECR_REPO}:latest", digest(1), "ecs-task"),)
    )
    definition = fakes.ecs.task_definitions[service.good_arn].definition
    fakes.ledger.commit(
        LedgerChange(state=None, expected_version=0, releases=[release(good, task_definition=definition)])
    )
    fakes.ecs.task_definitions[service.good_arn] = replace(
        fakes.ecs.task_definitions[service.good_arn], status="INACTIVE"
    )
    fakes.ecs.before_update = lambda _service, arn: _refuse_inactive(fakes, arn)

    # When the alarm is handled
    record = executor.execute(fakes.deps(), alarm(), SERVICE)

    # Then a copy pinned to the recorded digest is registered from the ledger's task definition and deployed
    assert record.outcome == Outcome.ROLLED_BACK, record.message
    assert len(fakes.ecs.registrations) == 1
    copy_arn = fakes.ecs.registrations[0]["taskDefinitionArn"]
    assert fakes.ecs.registrations[0]["containerDefinitions"][0]["image"] == f"{ECR_REPO}@{digest(1)}"
    assert fakes.ecs.updates == [(SERVICE, copy_arn)]
    restored = fakes.ledger.get_release(SERVICE, good.release)
    assert restored is not None and restored.rollback_task_definition_arn == copy_arn


def _refuse_inactive(fakes: Fakes, arn: str) -> None:
    if fakes.ecs.task_definitions[arn].status != "ACTIVE":
        refuse_updates("TaskDefinition is inactive")(SERVICE, arn)


SERVICE_DEPLOYMENT = "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/r9i43YFjvgF_xlg7m2eJ1r"


def ecs_still_deploying(fakes: Fakes, service: Running) -> None:
    """web:3 is ECS's ongoing service deployment, and ECS's own rollback returns to web:1."""
    state = fakes.ledger.load(SERVICE)
    assert state is not None and state.current is not None
    good = state.good[0]
    current = replace(
        state.current,
        controller="ECS",
        strategy="BLUE_GREEN",
        service_deployment_arn=SERVICE_DEPLOYMENT,
        ecs_rollback_to=service.good_arn,
        ecs_rollback_release=good.release_id,
    )
    fakes.ledger.commit(LedgerChange(state=replace(state, current=current, version=2), expected_version=1))
    fakes.ecs.ongoing[SERVICE_DEPLOYMENT] = (SERVICE.arn, service.good_arn)


def test_while_ecs_deploys_the_release_its_own_rollback_is_asked_for_once() -> None:
    # Given web:3 still deploying (baking), ECS's own rollback landing on web:1, the newest GOOD
    fakes = Fakes()
    service = running_service(fakes)
    ecs_still_deploying(fakes, service)
    deps = fakes.deps()

    # When its alarm is delivered twice
    first = executor.execute(deps, alarm(), SERVICE)
    second = executor.execute(deps, alarm(), SERVICE)

    # Then ECS is asked to roll its deployment back once, and no UpdateService is made
    assert fakes.ecs.stops == [SERVICE_DEPLOYMENT]
    assert fakes.ecs.updates == []
    assert first.path == "stop_service_deployment" and first.service_deployment_arn == SERVICE_DEPLOYMENT
    assert second.rollback_id == first.rollback_id
    state = fakes.ledger.load(SERVICE)
    assert state is not None and state.in_flight is not None
    assert state.in_flight.target_task_definition_arn == service.good_arn  # what ECS's rollback deploys


def test_a_stop_whose_deployment_already_ended_updates_the_service_instead() -> None:
    # Given web:3 recorded as still deploying, but ECS finished that deployment meanwhile
    fakes = Fakes()
    service = running_service(fakes)
    ecs_still_deploying(fakes, service)
    del fakes.ecs.ongoing[SERVICE_DEPLOYMENT]
    deps = fakes.deps()

    # When its alarm arrives
    record = executor.execute(deps, alarm(), SERVICE)

    # Then the stop is answered "not ongoing" and the service is updated to the GOOD revision
    assert fakes.ecs.stops == [SERVICE_DEPLOYMENT]
    assert fakes.ecs.updates == [(SERVICE, service.good_arn)]
    assert record.path == "update_service"
    stored = fakes.ledger.get_rollback(SERVICE, record.record_key)
    assert stored is not None and stored.path == "update_service"


def test_a_stop_whose_answer_was_lost_is_recorded_not_repeated() -> None:
    # Given ECS carried out StopServiceDeployment but the run failed before recording it
    fakes = Fakes()
    service = running_service(fakes)
    ecs_still_deploying(fakes, service)
    deps = fakes.deps()
    original = fakes.ecs.stop_service_deployment

    def carried_out_then_lost(arn: str) -> bool:
        original(arn)
        raise TransientFault("StopServiceDeployment: ConnectionClosedError")

    fakes.ecs.stop_service_deployment = carried_out_then_lost  # type: ignore[method-assign]
    with pytest.raises(TransientFault):
        executor.execute(deps, alarm(), SERVICE)
    fakes.ecs.stop_service_deployment = original  # type: ignore[method-assign]

    # When the event is delivered again
    record = executor.execute(deps, alarm(), SERVICE)

    # Then ECS is asked first (it already runs web:1): nothing is stopped or updated again
    assert fakes.ecs.stops == [SERVICE_DEPLOYMENT]
    assert fakes.ecs.updates == []
    assert record.outcome == Outcome.ROLLED_BACK and record.update_service_at is not None


# -- CODE_DEPLOY-controlled services: through CodeDeploy --------------------------------------

CODE_DEPLOY_GROUP = {
    "service": "prod/web",
    "application": "AppECS-prod-web",
    "deploymentGroup": "DgpECS-prod-web",
}
CODEDEPLOY_ONGOING_ID = "d-ONGOING01"


def deployed_by_codedeploy(fakes: Fakes, service: Running, *, ongoing: bool) -> None:
    """web:3 recorded as deployed by CodeDeploy (what ran before it: web:1), behind a load
    balancer; ``ongoing``: CodeDeploy is still deploying it."""
    state = fakes.ledger.load(SERVICE)
    assert state is not None and state.current is not None
    good = state.good[0]
    current = replace(
        state.current,
        controller="CODE_DEPLOY",
        ecs_rollback_to=service.good_arn,
        ecs_rollback_release=good.release_id,
    )
    fakes.ledger.commit(LedgerChange(state=replace(state, current=current, version=2), expected_version=1))
    fakes.ecs.load_balancers[SERVICE.arn] = (LoadBalancerTarget("app", 8080),)
    if ongoing:
        content = app_spec(service.current_arn, LoadBalancerTarget("app", 8080))
        fakes.codedeploy.deployments[CODEDEPLOY_ONGOING_ID] = (
            "AppECS-prod-web/DgpECS-prod-web",
            "InProgress",
            content,
        )


def test_while_codedeploy_deploys_the_release_its_deployment_is_stopped_with_rollback() -> None:
    # Given a CODE_DEPLOY service whose group is configured, CodeDeploy still deploying web:3
    fakes = Fakes()
    service = running_service(fakes)
    deployed_by_codedeploy(fakes, service, ongoing=True)
    deps = fakes.deps(code_deploy=[CODE_DEPLOY_GROUP])

    # When its alarm is delivered twice
    first = executor.execute(deps, alarm(), SERVICE)
    second = executor.execute(deps, alarm(), SERVICE)

    # Then CodeDeploy's deployment is stopped with rollback, once; nothing goes through ECS
    assert fakes.codedeploy.stops == [CODEDEPLOY_ONGOING_ID]
    assert fakes.codedeploy.created == []
    assert fakes.ecs.updates == [] and fakes.ecs.stops == []
    assert first.outcome == Outcome.ROLLED_BACK and first.path == "codedeploy"
    assert first.codedeploy_deployment_id == CODEDEPLOY_ONGOING_ID
    assert "StopDeployment" in first.message
    assert second.rollback_id == first.rollback_id
    state = fakes.ledger.load(SERVICE)
    assert state is not None and state.in_flight is not None
    assert state.in_flight.target_task_definition_arn == service.good_arn


def test_a_codedeploy_service_deploying_nothing_gets_a_deployment_of_the_good_release() -> None:
    # Given a CODE_DEPLOY service whose group is configured, web:3 live and CodeDeploy idle
    fakes = Fakes()
    service = running_service(fakes)
    deployed_by_codedeploy(fakes, service, ongoing=False)
    deps = fakes.deps(code_deploy=[CODE_DEPLOY_GROUP])

    # When its alarm arrives
    record = executor.execute(deps, alarm(), SERVICE)

    # Then CodeDeploy deploys web:1's rollback revision with an ECS AppSpec; ECS is not asked to
    ((application, group, content),) = fakes.codedeploy.created
    assert (application, group) == ("AppECS-prod-web", "DgpECS-prod-web")
    assert json.loads(content) == {
        "version": 0.0,
        "Resources": [
            {
                "TargetService": {
                    "Type": "AWS::ECS::Service",
                    "Properties": {
                        "TaskDefinition": service.good_arn,
                        "LoadBalancerInfo": {"ContainerName": "app", "ContainerPort": 8080},
                    },
                }
            }
        ],
    }
    assert fakes.ecs.updates == [] and fakes.codedeploy.stops == []
    assert record.path == "codedeploy" and record.codedeploy_deployment_id == "d-FAKE00001"
    assert record.deployed_task_definition_arn == service.good_arn
    stored = fakes.ledger.get_rollback(SERVICE, record.record_key)
    assert stored is not None and stored.codedeploy_deployment_id == "d-FAKE00001"


def test_a_codedeploy_service_without_a_load_balancer_is_recorded_failed() -> None:
    # Given a configured CODE_DEPLOY service whose DescribeServices names no load balancer
    fakes = Fakes()
    service = running_service(fakes)
    deployed_by_codedeploy(fakes, service, ongoing=False)
    del fakes.ecs.load_balancers[SERVICE.arn]

    # When its alarm arrives
    record = executor.execute(fakes.deps(code_deploy=[CODE_DEPLOY_GROUP]), alarm(), SERVICE)

    # Then nothing is created, the rollback is FAILED with why, and the lock is released
    assert fakes.codedeploy.created == []
    assert record.outcome == Outcome.FAILED and record.code == "codedeploy_refused"
    assert "load balancer" in record.message
    state = fakes.ledger.load(SERVICE)
    assert state is not None and state.in_flight is None


def test_a_codedeploy_service_whose_group_is_not_configured_is_refused() -> None:
    # Given a CODE_DEPLOY service and no codeDeploy configuration
    fakes = Fakes()
    service = running_service(fakes)
    deployed_by_codedeploy(fakes, service, ongoing=True)

    # When its alarm arrives
    record = executor.execute(fakes.deps(), alarm(), SERVICE)

    # Then it is refused and CodeDeploy is not even asked
    assert record.outcome == Outcome.REFUSED and record.code == "codedeploy_controller"
    assert fakes.codedeploy.lists == 0 and fakes.codedeploy.created == [] and fakes.codedeploy.stops == []


def test_a_lost_create_deployment_answer_is_not_repeated() -> None:
    # Given CodeDeploy carried out CreateDeployment but the run failed before recording it
    fakes = Fakes()
    service = running_service(fakes)
    deployed_by_codedeploy(fakes, service, ongoing=False)
    deps = fakes.deps(code_deploy=[CODE_DEPLOY_GROUP])
    original = fakes.codedeploy.create_deployment

    def carried_out_then_lost(*args: str, **kwargs: str) -> str:
        original(*args, **kwargs)
        raise TransientFault("CreateDeployment: ConnectionClosedError")

    fakes.codedeploy.create_deployment = carried_out_then_lost  # type: ignore[method-assign]
    with pytest.raises(TransientFault):
        executor.execute(deps, alarm(), SERVICE)
    fakes.codedeploy.create_deployment = original  # type: ignore[method-assign]

    # When the event is delivered again
    record = executor.execute(deps, alarm(), SERVICE)

    # Then the deployment CodeDeploy is carrying out (of web:1) is recognised: none is created again
    assert len(fakes.codedeploy.created) == 1
    assert record.outcome == Outcome.ROLLED_BACK and record.codedeploy_deployment_id == "d-FAKE00001"


def test_a_codedeploy_deployment_completed_before_the_stop_is_followed_by_one_of_the_good_release() -> None:
    # Given CodeDeploy still deploying web:3 when asked, but finishing it just before the stop
    fakes = Fakes()
    service = running_service(fakes)
    deployed_by_codedeploy(fakes, service, ongoing=True)
    original = fakes.codedeploy.stop_deployment

    def completed_first(deployment_id: str) -> bool:
        group, _, content = fakes.codedeploy.deployments[deployment_id]
        fakes.codedeploy.deployments[deployment_id] = (group, "Succeeded", content)
        return original(deployment_id)

    fakes.codedeploy.stop_deployment = completed_first  # type: ignore[method-assign]

    # When its alarm arrives
    record = executor.execute(fakes.deps(code_deploy=[CODE_DEPLOY_GROUP]), alarm(), SERVICE)

    # Then the stop is answered "already complete" and CodeDeploy deploys web:1 instead
    assert fakes.codedeploy.stops == [CODEDEPLOY_ONGOING_ID]
    ((_, _, content),) = fakes.codedeploy.created
    assert (
        json.loads(content)["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"]
        == service.good_arn
    )
    assert record.outcome == Outcome.ROLLED_BACK and record.codedeploy_deployment_id == "d-FAKE00001"
    state = fakes.ledger.load(SERVICE)
    assert state is not None and state.in_flight is not None
    assert state.in_flight.target_task_definition_arn == service.good_arn
