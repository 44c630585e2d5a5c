"""The release gate: the facts an ECS deployment lifecycle hook is answered from, gathered through
the ports, and the answer ``domain.gate`` gives on them.

- ``PRE_SCALE_UP``: the release the target service revision runs (its task definition with the
  image digests ECS resolved for it, fingerprinted as ``capture`` does), and the ledger's verdict
  on that release for this service;
- ``POST_TEST_TRAFFIC_SHIFT`` and ``POST_PRODUCTION_TRAFFIC_SHIFT``: the alarms linked to the
  service (configured links and the ones the ledger saw), and which of them are in ALARM;
- every other stage, and every service outside the scope: nothing is read, the gate lets it go.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecs_rollback.domain import gate
from ecs_rollback.domain.gate import GateAnswer, HookStatus
from ecs_rollback.domain.gitsha import allows_bad_release
from ecs_rollback.domain.model import ServiceId
from ecs_rollback.domain.release import release_id_of
from ecs_rollback.events.lifecycle_hook import LifecycleHookEvent
from ecs_rollback.ports import Dependencies
from ecs_rollback.services.alarm_links import alarms_of
from ecs_rollback.services.capture import known_images


def answer_hook(deps: Dependencies, hook: LifecycleHookEvent) -> GateAnswer:
    """What to tell ECS for one invocation of the hook. AWS faults propagate (the handler decides)."""
    service = hook.service
    settings = deps.settings
    if not settings.acts_in(service.account, service.region) or not settings.scope.contains(service):
        return gate.out_of_scope()
    return answer_stage(deps, service, hook.lifecycle_stage, hook.target_revision, hook.hook_details)


def answer_stage(
    deps: Dependencies,
    service: ServiceId,
    stage: str,
    revision_arn: str | None,
    carried: Mapping[str, Any],
) -> GateAnswer:
    """The gate's rules at ``stage`` of a deployment of ``revision_arn``, for a Lambda hook
    (``carried``: its ``hookDetails``) or a pause hook (``gate.paused_since``) alike."""
    if stage == gate.PRE_SCALE_UP:
        return _before_scale_up(deps, service, revision_arn)
    if stage in gate.POST_TRAFFIC_SHIFT_STAGES:
        settings = deps.settings
        names = alarms_of(settings, service, deps.ledger.linked_alarms(service))
        firing = deps.alarms.in_alarm(names) if names else []
        return gate.after_traffic_shift(stage, firing, carried, deps.clock.now(), settings.bake_time)
    return gate.not_gated(stage)


def _before_scale_up(deps: Dependencies, service: ServiceId, revision_arn: str | None) -> GateAnswer:
    revision = deps.ecs.describe_service_revision(revision_arn) if revision_arn else None
    if revision is None:
        return GateAnswer(
            HookStatus.SUCCEEDED, "revision_unknown", "ECS does not know the target service revision"
        )
    definition = deps.ecs.describe_task_definition(revision.task_definition_arn)
    if definition is None:
        return GateAnswer(
            HookStatus.SUCCEEDED,
            "task_definition_unknown",
            f"ECS no longer knows {revision.task_definition_arn}, the revision's task definition",
        )
    # The digests ECS resolved for this revision: the release is known before any task runs.
    images = known_images(definition, revision.digests)
    release_id = release_id_of(definition.definition, images, definition.arn)
    return gate.before_scale_up(
        deps.ledger.get_release(service, release_id),
        release_id,
        allowed_by_tag=allows_bad_release(definition.tags),
        enforced=deps.settings.rollback_known_bad_releases,
    )
