"""Adoption on demand: an operator declares the revision a service runs now as its baseline GOOD.

The deployment-events handler adopts a baseline by itself the first time it sees a service; the
CLI's ``adopt`` does the same when nobody wants to wait for a deployment (a service that existed
before the rollback service was installed, or one whose only GOOD revision was marked BAD).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from ecs_rollback.domain import lifecycle
from ecs_rollback.domain.errors import InvalidRequest
from ecs_rollback.domain.model import Deployment, Origin, ServiceId, Status
from ecs_rollback.ports import EcsGateway, Ledger, LedgerChange
from ecs_rollback.services import capture, retry


def adopt_running(
    ledger: Ledger,
    ecs: EcsGateway,
    service: ServiceId,
    now: datetime,
    actor: str,
    *,
    force: bool = False,
) -> Deployment:
    """Record the revision of the service's PRIMARY deployment as GOOD and return that record.

    A deployment the ledger already holds keeps its history, commit and origin and gains the GOOD
    status; one it never saw is captured from ECS as ``adopted``. ``current`` is only set when the
    ledger has none, so adoption never hides what the deployment events recorded. A revision the
    ledger marks BAD is refused unless ``force``: it was marked so for a reason.
    """
    snapshot = ecs.describe_service(service)
    if snapshot is None:
        raise InvalidRequest(
            "service_not_found",
            f"ECS has no active service {service} in {service.region}; check the cluster, service and region",
        )
    primary = snapshot.primary
    if primary is None:
        raise InvalidRequest(
            "no_primary_deployment",
            f"ECS reports no PRIMARY deployment for {service}; wait for its deployment to start and try again",
        )
    return retry.on_conflict(
        lambda: _adopt_once(
            ledger,
            ecs,
            service,
            primary.deployment_id,
            primary.task_definition_arn,
            primary.created_at,
            now,
            actor,
            force=force,
        ),
        what=f"the ledger state of {service}",
    )


def _adopt_once(
    ledger: Ledger,
    ecs: EcsGateway,
    service: ServiceId,
    deployment_id: str,
    task_definition_arn: str,
    created_at: datetime | None,
    now: datetime,
    actor: str,
    *,
    force: bool,
) -> Deployment:
    state = ledger.load(service)
    expected = state.version if state is not None else 0
    reason = f"adopted as good by {actor}"
    recorded = ledger.get_deployment(service, deployment_id)
    if recorded is not None:
        if recorded.status.is_bad and not force:
            raise InvalidRequest(
                "running_revision_is_bad",
                f"the running revision {recorded.describe()} is recorded as {recorded.status} (BAD) "
                "and is not adopted without force",
            )
        baseline = recorded.with_status(Status.GOOD, now, reason)
    else:
        captured = capture.capture(
            ecs,
            None,  # the tag may have moved since ECS resolved it: only ECS's own digests count
            service,
            deployment_id,
            task_definition_arn,
            (created_at or now).astimezone(UTC),
            now,
            status=Status.GOOD,
            origin=Origin.ADOPTED,
            reason=reason,
        )
        if captured is None:
            raise InvalidRequest(
                "task_definition_unavailable",
                f"ECS no longer describes {task_definition_arn}, the revision {service} runs; nothing to adopt",
            )
        baseline = captured
    new_state, adopted = lifecycle.adopt(state or lifecycle.new_state(service), baseline, now)
    if recorded is not None:
        # Keep who and what put the revision there; the GOOD status and `adopted` say the rest.
        adopted = replace(adopted, origin=recorded.origin, actor=recorded.actor)
        new_state = new_state.with_good(adopted)
    else:
        adopted = replace(adopted, actor=actor)
        new_state = new_state.with_good(adopted)
    if new_state.current is not None and new_state.current.deployment_id == adopted.deployment_id:
        new_state = replace(new_state, current=adopted.summary())
    ledger.commit(
        LedgerChange(
            state=replace(new_state, version=expected + 1, updated_at=now),
            expected_version=expected,
            deployments=[adopted],
        )
    )
    return adopted
