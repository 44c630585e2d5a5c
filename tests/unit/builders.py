"""Plain factories for the unit tests: short, explicit domain objects with sensible defaults.

Every builder takes keyword overrides for what a test cares about and fills the rest, so a
test body shows only the facts that matter to it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ecs_rollback import contract
from ecs_rollback.config import Settings
from ecs_rollback.domain.decision import ManualOptions, Policy, Trigger
from ecs_rollback.domain.model import (
    ContainerImage,
    Deployment,
    Origin,
    Outcome,
    Release,
    ReleaseRef,
    RollbackRecord,
    ServiceId,
    Status,
    StatusChange,
    TriggerKind,
    Verdict,
    rollback_sort_key,
)
from ecs_rollback.domain.state import Halt, InFlight, ServiceState, Step
from ecs_rollback.ports import FiringAlarm

EVENTS = Path(__file__).resolve().parents[1] / "events"

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
ACCOUNT = "123456789012"
REGION = "us-east-1"
SERVICE = ServiceId("aws", REGION, ACCOUNT, "prod", "web")
OTHER_SERVICE = ServiceId("aws", REGION, ACCOUNT, "prod", "api")
ECR_REPO = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web"


def digest(seed: int | str) -> str:
    """A valid, distinct sha256 digest per seed."""
    text = f"{seed}".encode().hex()
    return "sha256:" + (text * 64)[:64]


def td_arn(revision: int, family: str = "web") -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{revision}"


def minutes(count: float) -> timedelta:
    return timedelta(minutes=count)


def deployment(
    revision: int,
    status: Status = Status.GOOD,
    *,
    family: str = "web",
    service: ServiceId = SERVICE,
    deployment_id: str | None = None,
    started_at: datetime | None = None,
    completed_at: datetime | None = None,
    origin: Origin = Origin.DEPLOY,
    images: Sequence[ContainerImage] | None = None,
    git_sha: str | None = None,
    commit_message: str | None = None,
    rollback_id: str | None = None,
    source_task_definition_arn: str | None = None,
    task_definition: dict[str, Any] | None = None,
    history: Sequence[StatusChange] = (),
    actor: str = "ecs",
    adopted: bool = False,
    reason: str | None = None,
    good_at: datetime | None = None,
    release_id: str | None = None,
) -> Deployment:
    """Revision N of ``family``; by default deployed N hours before NOW, one hour apart, running its
    own release ``rel-<family><N>`` (a pinned copy passes its source's release id)."""
    started = started_at or NOW - timedelta(hours=100 - revision)
    return Deployment(
        service=service,
        deployment_id=deployment_id or f"ecs-svc/{family}-{revision}",
        task_definition_arn=td_arn(revision, family),
        status=status,
        started_at=started,
        updated_at=started,
        images=tuple(images)
        if images is not None
        else (ContainerImage("app", f"{ECR_REPO}:v{revision}", digest(revision), "ecs-task"),),
        git_sha=git_sha,
        commit_message=commit_message,
        history=tuple(history),
        origin=origin,
        actor=actor,
        rollback_id=rollback_id,
        source_task_definition_arn=source_task_definition_arn,
        task_definition=task_definition,
        adopted=adopted,
        reason=reason,
        completed_at=completed_at,
        good_at=good_at,
        release_id=release_id or f"rel-{family}{revision}",
    )


def ref(
    deployment: Deployment,
    *,
    verdict: Verdict | None = None,
    deploy_arn: str | None = None,
    images_missing: Sequence[str] = (),
) -> ReleaseRef:
    """The release a deployment runs, as a target: GOOD/BAD as its status says unless given."""
    if verdict is None:
        verdict = (
            Verdict.BAD
            if deployment.status.is_bad
            else Verdict.GOOD
            if deployment.status == Status.GOOD
            else None
        )
    return ReleaseRef(
        release_id=deployment.release,
        task_definition_arn=deployment.source_task_definition_arn or deployment.task_definition_arn,
        deploy_task_definition_arn=deploy_arn or deployment.task_definition_arn,
        verdict=verdict,
        deployment_id=deployment.deployment_id,
        deployed_at=deployment.started_at,
        good_at=deployment.good_at,
        git_sha=deployment.git_sha,
        commit_subject=deployment.commit_message,
        images_missing=tuple(images_missing),
    )


def release(deployment: Deployment, *, verdict: Verdict | None = None, **overrides: Any) -> Release:
    """The ``REL#`` record of the release a deployment runs."""
    values: dict[str, Any] = {
        "release_id": deployment.release,
        "service": deployment.service,
        "source_task_definition_arn": deployment.task_definition_arn,
        "rollback_task_definition_arn": deployment.task_definition_arn,
        "first_seen_at": deployment.started_at,
        "last_deployed_at": deployment.started_at,
        "revisions": (deployment.task_definition_arn,),
        "images": deployment.images,
        "verdict": verdict,
        "last_deployment_id": deployment.deployment_id,
        "git_sha": deployment.git_sha,
        "commit_message": deployment.commit_message,
    }
    values.update(overrides)
    return Release(**values)


def state(
    current: Deployment | None,
    good: Sequence[Deployment | ReleaseRef] = (),
    *,
    service: ServiceId = SERVICE,
    in_flight: InFlight | None = None,
    automatic_rollbacks: Sequence[datetime] = (),
    halted: Halt | None = None,
    version: int = 1,
    last_alarm_at: datetime | None = None,
    updated_at: datetime | None = None,
) -> ServiceState:
    """A service state; ``good`` is kept in the order given (newest first by convention)."""
    return ServiceState(
        service=service,
        version=version,
        current=current.compact() if current is not None else None,
        good=tuple(
            entry if isinstance(entry, ReleaseRef) else ref(entry, verdict=Verdict.GOOD) for entry in good
        ),
        families=(current.revision.family,) if current is not None else (),
        in_flight=in_flight,
        automatic_rollbacks=tuple(automatic_rollbacks),
        halted=halted,
        last_alarm_at=last_alarm_at,
        updated_at=updated_at,
    )


def lock(
    target_revision: int = 1,
    *,
    rollback_id: str = "rb-1",
    expires_at: datetime | None = None,
    started_at: datetime | None = None,
    automatic: bool = True,
    source_revision: int | None = None,
    from_revision: int | None = 3,
    step: str = Step.LOCKED,
) -> InFlight:
    started = started_at or NOW - minutes(1)
    return InFlight(
        rollback_id=rollback_id,
        record_key=rollback_sort_key(started, rollback_id),
        target_task_definition_arn=td_arn(target_revision),
        source_task_definition_arn=td_arn(source_revision or target_revision),
        from_task_definition_arn=td_arn(from_revision) if from_revision else None,
        started_at=started,
        expires_at=expires_at or NOW + minutes(29),
        automatic=automatic,
        step=step,
    )


def alarm(at: datetime = NOW, name: str = "web-5xx") -> Trigger:
    return Trigger(
        kind=TriggerKind.ALARM,
        trigger_id=f"event-{name}",
        at=at,
        source=name,
        reason=f"alarm {name} is in ALARM",
    )


def deployment_failed(deployment_id: str, *, ecs_rolling_back: bool = False, at: datetime = NOW) -> Trigger:
    return Trigger(
        kind=TriggerKind.DEPLOYMENT_FAILED,
        trigger_id=f"event-failed-{deployment_id}",
        at=at,
        source=deployment_id,
        reason=f"deployment {deployment_id} failed",
        deployment_id=deployment_id,
        ecs_rolling_back=ecs_rolling_back,
    )


def manual_trigger(at: datetime = NOW) -> Trigger:
    return Trigger(
        kind=TriggerKind.MANUAL,
        trigger_id="request-1",
        at=at,
        source="arn:aws:iam::123456789012:user/oncall",
        reason="5xx spike after deploy",
    )


def manual(
    target: Deployment | ReleaseRef | None = None,
    *,
    last_good: bool | None = None,
    label: str | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> ManualOptions:
    """``manual()`` is last-good; ``manual(target)`` names a revision; ``manual(label=...)`` names
    one the ledger does not know (target None)."""
    if last_good is None:
        last_good = target is None and label is None
    return ManualOptions(
        last_good=last_good,
        target=ref(target) if isinstance(target, Deployment) else target,
        target_label=label or (str(target.revision) if target else "last-good"),
        force=force,
        dry_run=dry_run,
    )


def policy(**overrides: Any) -> Policy:
    """The policy the stack's defaults give, with what a test changes."""
    values: dict[str, Any] = {
        "bake_time": timedelta(seconds=contract.DEFAULT_BAKE_TIME_SECONDS),
        "watch_window": timedelta(seconds=contract.DEFAULT_WATCH_WINDOW_SECONDS),
        "loop_guard_limit": contract.DEFAULT_LOOP_GUARD_LIMIT,
        "loop_guard_period": timedelta(seconds=contract.DEFAULT_LOOP_GUARD_PERIOD_SECONDS),
        "dry_run": False,
        "in_scope": True,
    }
    return Policy(**{**values, **overrides})


def settings(**overrides: Any) -> Settings:
    """The settings a function gets from the stack's defaults (through the contract), then overrides."""
    base = contract.from_environment(
        {
            contract.Env.HOME_ACCOUNT: ACCOUNT,
            contract.Env.HOME_REGION: REGION,
            contract.Env.LEDGER_TABLE_NAME: "ledger",
            contract.Env.NOTIFICATION_TOPIC_ARN: f"arn:aws:sns:{REGION}:{ACCOUNT}:ecs-rollback",
            contract.Env.SCOPE: '{"clusters": ["prod"]}',
            contract.Env.BAKE_TIME_SECONDS: str(contract.DEFAULT_BAKE_TIME_SECONDS),
            contract.Env.WATCH_WINDOW_SECONDS: str(contract.DEFAULT_WATCH_WINDOW_SECONDS),
            contract.Env.LOOP_GUARD_LIMIT: str(contract.DEFAULT_LOOP_GUARD_LIMIT),
        }
    )
    return Settings.model_validate({**base.model_dump(), **overrides})


def rollback_record(**overrides: Any) -> RollbackRecord:
    values: dict[str, Any] = {
        "rollback_id": "0f6c1d2e-1111-5222-8333-444455556666",
        "service": SERVICE,
        "trigger": TriggerKind.ALARM,
        "trigger_id": "event-web-5xx",
        "triggered_at": NOW - timedelta(seconds=5),
        "created_at": NOW - timedelta(seconds=5),
        "outcome": Outcome.ROLLED_BACK,
        "code": "rollback",
        "message": "rolling back from web:3 to the last good revision web:1",
        "requested_by": "ecs-rollback",
        "reason": "alarm web-5xx is in ALARM",
        "source": "web-5xx",
    }
    target = overrides.pop("to_deployment", None)
    if isinstance(target, Deployment):
        overrides["to_release"] = ref(target)
    values.update(overrides)
    return RollbackRecord(**values)


def load_event(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return result


def task_definition(*images: tuple[str, str], family: str = "web", revision: int = 1) -> dict[str, Any]:
    """A DescribeTaskDefinition ``taskDefinition`` with the describe-only keys AWS adds."""
    return {
        "taskDefinitionArn": td_arn(revision, family),
        "family": family,
        "revision": revision,
        "status": "ACTIVE",
        "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.ecr-auth"}],
        "compatibilities": ["EC2", "FARGATE"],
        "registeredAt": "2026-11-01T10:00:00+00:00",
        "registeredBy": "arn:aws:iam::123456789012:role/deployer",
        "deregisteredAt": "2026-11-02T10:00:00+00:00",
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "requiresCompatibilities": ["FARGATE"],
        "containerDefinitions": [
            {"name": name, "image": image, "essential": True, "portMappings": [{"containerPort": 8080}]}
            for name, image in images
        ],
    }


@dataclass
class FakeAlarms:
    """An AlarmGateway that answers from a dict and records every call."""

    tags_by_arn: dict[str, dict[str, str]] = field(default_factory=dict)
    firing: list[str] = field(default_factory=list)
    tag_calls: list[str] = field(default_factory=list)

    def tags(self, alarm_arn: str) -> dict[str, str]:
        self.tag_calls.append(alarm_arn)
        return dict(self.tags_by_arn.get(alarm_arn, {}))

    def in_alarm(self, alarm_names: Sequence[str]) -> list[str]:
        return [name for name in alarm_names if name in self.firing]

    def firing_alarms(self) -> list[FiringAlarm]:
        return [
            FiringAlarm(name, f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}", "", NOW)
            for name in self.firing
        ]
