"""Adoption on demand: an operator declares the release a service runs now as its baseline GOOD.

The deployment-events handler adopts a baseline by itself the first time it sees a service; the
CLI's ``adopt`` does the same when nobody wants to wait for a deployment (a service that existed
before the rollback service was installed, or one whose only GOOD release was marked BAD), and a
manual rollback does it for an in-scope service the ledger has never seen.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ecs_rollback.domain import lifecycle
from ecs_rollback.domain.decision import not_deployed_by_ecs
from ecs_rollback.domain.errors import InvalidRequest
from ecs_rollback.domain.model import Deployment, ServiceId, iso
from ecs_rollback.ports import EcsGateway, ImageRegistry, Ledger, LedgerChange
from ecs_rollback.services import capture, releases, retry


def adopt_running(
    ledger: Ledger,
    ecs: EcsGateway,
    registry: ImageRegistry,
    service: ServiceId,
    now: datetime,
    actor: str,
    *,
    force: bool = False,
    code_deploy: bool = False,
) -> Deployment:
    """Record the revision of the service's PRIMARY deployment as GOOD and return that record.

    A deployment the ledger already holds keeps its history, commit and origin and gains the GOOD
    status; one it never saw is captured from ECS as ``adopted``. ``current`` is only set when the
    ledger has none, so adoption never hides what the deployment events recorded. A release the
    ledger records BAD is refused unless ``force``: it was marked so for a reason. A service another
    controller deploys is refused, but a CODE_DEPLOY one whose deployment group is configured
    (``code_deploy``): it is rolled back through CodeDeploy.
    """
    snapshot = ecs.describe_service(service)
    if snapshot is None:
        raise InvalidRequest(
            "service_not_found",
            f"ECS has no active service {service} in {service.region}; check the cluster, service and region",
        )
    refusal = not_deployed_by_ecs(snapshot.controller, str(service), code_deploy=code_deploy)
    if refusal is not None:
        raise InvalidRequest(*refusal)
    primary = snapshot.primary
    if primary is None:
        raise InvalidRequest(
            "no_primary_deployment",
            f"ECS reports no PRIMARY deployment for {service}; wait for its deployment to start and try again",
        )
    reason = f"adopted as good by {actor}"
    recorded = ledger.get_deployment(service, primary.deployment_id)
    baseline = recorded or capture.baseline(
        ecs, service, primary, now, reason, snapshot.current_service_revisions
    )
    if baseline is None:
        raise InvalidRequest(
            "task_definition_unavailable",
            f"ECS no longer describes {primary.task_definition_arn}, the revision {service} runs; nothing to adopt",
        )
    if recorded is None:
        baseline = replace(capture.how_ecs_deploys(baseline, snapshot, None), actor=actor)
    release = releases.release_of(ledger, baseline, now)
    if release.is_bad and not force:
        raise InvalidRequest(
            "running_release_is_bad",
            f"the running revision {baseline.describe()} runs a release recorded BAD "
            f"(at {iso(release.bad_at) if release.bad_at else 'an unknown time'}: "
            f"{release.verdict_reason or 'no reason recorded'}); it is not adopted without --force",
        )
    prepared = (
        release if release.is_good else releases.prepared_for_rollback(ecs, registry, release, baseline)
    )

    def adopt_once() -> Deployment:
        state = ledger.load(service)
        expected = state.version if state is not None else 0
        new_state, adopted, judged = lifecycle.adopt(
            state or lifecycle.new_state(service), baseline, prepared, now, reason
        )
        ledger.commit(
            LedgerChange(
                state=replace(new_state, version=expected + 1),
                expected_version=expected,
                deployments=[adopted],
                releases=[judged],
            )
        )
        return adopted

    return retry.on_conflict(adopt_once, what=f"the ledger state of {service}")
