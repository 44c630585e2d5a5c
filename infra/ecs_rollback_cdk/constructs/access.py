"""Who may do what: each function's permissions, composed from the builders in ``permissions``.

Each entry is what that function's code calls, through its ports, and nothing else
(``tests/infra/test_permissions_follow_the_code.py`` reads the code and holds the two together):

- DeploymentEvents records deployments (describes the service, its task definition, its tasks'
  digests, asks ECR what a tag means), adopts a baseline and prepares its pinned copy, rolls back
  failed and known-BAD deployments, schedules the bake, checks alarm states when the bake is 0;
- AlarmEvents links the alarm (its tags when the event carried none) and rolls back: reads the
  service (to resume a rollback a lost answer left unfinished), UpdateService or, while ECS is
  still deploying and its own rollback lands on the newest GOOD release, StopServiceDeployment;
  when the
  rollback revision was deregistered, registers it again from the ledger;
- ManualRollback rolls back like AlarmEvents, and adopts a service the ledger never saw (as
  DeploymentEvents adopts a baseline): no alarms;
- BakeTimer checks alarm states, re-schedules itself while they fire, and when a release becomes
  GOOD registers its digest-pinned copy and checks its digests in ECR: no service calls;
- ImageEvents marks the releases that ran a deleted image: the ledger only;
- Notifier publishes the outbox entries the ledger's stream delivers, and marks them sent: the
  topic and UpdateItem only (its stream read comes with the event source);
- Reconciler does what the others do when their events were lost: all of it, and the topic, and
  reads how a deployment ECS no longer lists ended (its service deployment);
- ReleaseGate answers ECS's lifecycle hooks: reads the target service revision and its task
  definition, the release's verdict and the service's linked alarms from the ledger, and the
  alarms' states; it writes nothing but, for the services that opt in (``answerPauseHooks``),
  the answers to their pause hooks: it reads their service deployments and calls
  ContinueServiceDeployment on them, and on no other service's.

Every function that rolls back does so, for a CODE_DEPLOY-controlled service whose deployment
group is configured (``codeDeploy``), through CodeDeploy: on those deployment groups only, and
with no CodeDeploy permission at all when none is configured.

No function on the rollback path publishes: a decision's notification is an outbox entry written
in the same transaction as the decision, and the Notifier (or the Reconciler) publishes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_iam as iam

from ecs_rollback_cdk import permissions
from ecs_rollback_cdk.config import RollbackConfig
from ecs_rollback_cdk.constructs import functions
from ecs_rollback_cdk.constructs.bake_scheduling import BakeScheduling
from ecs_rollback_cdk.permissions import LedgerUse


@dataclass(frozen=True)
class Access:
    """One function's ledger use, whether it publishes to the topic, and its other statements."""

    ledger: LedgerUse
    notifies: bool
    statements: tuple[iam.PolicyStatement, ...]


def function_access(
    config: RollbackConfig, arns: permissions.Arns, bake: BakeScheduling
) -> dict[str, Access]:
    scope = config.scope
    describe_definitions = permissions.task_definition_reads()
    registration = permissions.task_definition_registration(
        arns, families=config.task_definition_families, pass_role_arns=config.pass_role_arns
    )
    # The digests ECS resolved: from its service revisions, or its tasks where it has none.
    digests = (*permissions.task_digests(scope, arns), permissions.service_revision_reads(scope, arns))
    images = permissions.image_reads(arns, config.ecr_repository_arns)
    scheduling = bake.statements()
    # Every function that rolls back: update the service to a revision, registered again if need be.
    # ... or, for a CODE_DEPLOY service whose deployment group is configured, go through CodeDeploy.
    code_deploy = permissions.code_deploy_rollbacks(config.code_deploy, arns) if config.code_deploy else []
    rolls_back = (
        permissions.service_updates(scope, arns),
        permissions.service_deployment_stops(scope, arns),
        describe_definitions,
        *registration,
        *code_deploy,
    )
    # The release gate answers the pause hooks of the services that opt in, and only theirs.
    chosen = config.answer_pause_hooks
    pause_hooks = (permissions.pause_hook_answers(chosen, arns),) if chosen is not None else ()
    # What DeploymentEvents does is what the Reconciler does when its events were lost.
    deployment_statements = (*rolls_back, *digests, images, permissions.alarm_states(arns), *scheduling)
    return {
        functions.DEPLOYMENT_EVENTS.name: Access(
            LedgerUse(writes=True, batch_reads=True, queries_indexes=True),
            notifies=False,
            statements=deployment_statements,
        ),
        functions.ALARM_EVENTS.name: Access(
            LedgerUse(writes=True, updates=True, queries_indexes=True),
            notifies=False,
            statements=(*rolls_back, permissions.alarm_tags(arns)),
        ),
        functions.MANUAL_ROLLBACK.name: Access(
            LedgerUse(writes=True, batch_reads=True, queries_indexes=True),
            notifies=False,
            statements=(*rolls_back, *digests, images),
        ),
        functions.BAKE_TIMER.name: Access(
            LedgerUse(writes=True, batch_reads=True),
            notifies=False,
            statements=(*registration, images, permissions.alarm_states(arns), *scheduling),
        ),
        functions.IMAGE_EVENTS.name: Access(
            LedgerUse(writes=True, queries_table=True), notifies=False, statements=()
        ),
        functions.NOTIFIER.name: Access(
            LedgerUse(writes=False, gets=False, updates=True), notifies=True, statements=()
        ),
        # ... and what AlarmEvents does for the alarms whose events were lost (linking by tags).
        functions.RECONCILER.name: Access(
            LedgerUse(writes=True, batch_reads=True, updates=True, queries_indexes=True),
            notifies=True,
            statements=(
                *deployment_statements,
                permissions.alarm_tags(arns),
                permissions.service_deployment_reads(scope, arns),
            ),
        ),
        functions.RELEASE_GATE.name: Access(
            LedgerUse(writes=False, batch_reads=True),
            notifies=False,
            statements=(
                permissions.service_revision_reads(scope, arns),
                describe_definitions,
                permissions.alarm_states(arns),
                *pause_hooks,
            ),
        ),
    }
