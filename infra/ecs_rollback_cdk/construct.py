"""``EcsAutoRollback``: the reusable construct behind the stack, composed of one part per concern.

The parts live in ``ecs_rollback_cdk.constructs`` (ledger, notifications, outbox, functions, rules,
bake scheduling, monitoring, and access: what each function may call) and ``ecs_rollback_cdk.nag``;
this module wires them together. Another CDK app composes it directly; ``EcsAutoRollbackStack`` is
the thin default.
"""

from __future__ import annotations

from functools import partial

from aws_cdk import Annotations, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from ecs_rollback_cdk import nag, permissions
from ecs_rollback_cdk.config import RollbackConfig
from ecs_rollback_cdk.constructs import functions
from ecs_rollback_cdk.constructs.access import function_access
from ecs_rollback_cdk.constructs.bake_scheduling import BakeScheduling
from ecs_rollback_cdk.constructs.code_asset import code_asset
from ecs_rollback_cdk.constructs.environment import function_environment
from ecs_rollback_cdk.constructs.functions import PYTHON_RUNTIME, FunctionFactory, lambda_code
from ecs_rollback_cdk.constructs.ledger import import_ledger_table, ledger_table
from ecs_rollback_cdk.constructs.members import ACTING_IN_MEMBERS, member_access, member_event_bus_policies
from ecs_rollback_cdk.constructs.monitoring import Monitoring
from ecs_rollback_cdk.constructs.notifications import chat_topic, notification_topic
from ecs_rollback_cdk.constructs.outbox import outbox_delivery
from ecs_rollback_cdk.constructs.release_gate import hook_role
from ecs_rollback_cdk.constructs.rules import codedeploy_events_rule, pause_hook_rule, rollback_rules


class EcsAutoRollback(Construct):
    """Automated rollback of ECS services with a DynamoDB deploy ledger.

    ``config`` is the validated ``RollbackConfig``; another app builds it with Python names::

        config = RollbackConfig(
            scope=Scope(clusters=("prod",)),
            alarm_links=(AlarmLink(alarm="web-5xx*", cluster="prod", service="web"),),
            bake_time_seconds=600,
            pass_role_arns=("arn:aws:iam::123456789012:role/app-*",),
        )
        rollback = EcsAutoRollback(self, "Rollback", config=config, existing_topic=my_topic)

    ``existing_topic``, ``existing_table`` and ``powertools_layer`` win over what ``config``
    names (``existingTopicArn``, ``existingTableName``, ``powertoolsLayerArn``); ``code`` replaces
    the packaged ``ecs_rollback`` directory.

    Attributes for composition: ``table``, ``topic``, ``chat_topic`` (with ``chatNotifications``,
    else None), ``functions`` (by name) and one attribute
    per function, ``deployment_events_rule``, ``alarm_events_rule``, ``image_events_rule``,
    ``reconciler_schedule``, ``outbox_source`` (the ledger stream into the Notifier),
    ``dead_letter_queues``, ``schedule_group``, ``scheduler_role``, ``bake_schedule_dead_letters``,
    ``alarms``, ``dashboard`` and ``config``; for a service's deployment lifecycle hooks,
    ``release_gate_function`` (``hookTargetArn``) and ``release_gate_hook_role`` (``roleArn``),
    which ECS assumes to invoke the gate and nothing else, and ``pause_hook_rule`` (the pause
    hooks of the services in ``answerPauseHooks`` into the gate; None without it);
    ``codedeploy_events_rule`` (the configured ``codeDeploy`` groups' deployment ends into
    DeploymentEvents; None without it); with ``members``,
    ``member_event_bus_policies`` (the default bus accepts the member accounts' events) and
    ``member_trusted_roles`` (the roles a member stack's role trusts), else empty lists.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RollbackConfig,
        existing_topic: sns.ITopic | None = None,
        existing_table: dynamodb.ITable | None = None,
        powertools_layer: lambda_.ILayerVersion | None = None,
        code: lambda_.Code | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        stack = Stack.of(self)
        arns = permissions.Arns(partition=stack.partition, region=stack.region, account=stack.account)

        self.table = ledger_table(self, config, existing_table)
        self.topic = notification_topic(self, config, existing_topic)
        self.chat_topic = chat_topic(self, config)
        if not config.pass_role_arns:
            Annotations.of(self).add_warning_v2(
                "ecs-rollback:no-pass-role-arns",
                "passRoleArns is empty: a rollback that must register a digest-pinned copy of a task "
                "definition naming a task or execution role will be denied iam:PassRole. List those roles.",
            )
        if code is None:
            asset = code_asset(PYTHON_RUNTIME)
            if asset.warning is not None:
                Annotations.of(self).add_warning_v2("ecs-rollback:no-bytecode", asset.warning)
            code = asset.code
        monitoring = Monitoring(self.topic)
        self.dead_letter_queues = monitoring.dead_letter_queues
        self.alarms = monitoring.alarms
        factory = FunctionFactory(
            self,
            config,
            monitoring,
            code,
            powertools_layer or functions.powertools_layer(self, config),
        )
        environment = partial(
            function_environment,
            config,
            ledger_table_name=self.table.table_name,
            notification_topic_arn=self.topic.topic_arn,
        )
        bake = BakeScheduling(self, monitoring, arns)
        self.schedule_group = bake.group
        self.scheduler_role = bake.role
        self.bake_schedule_dead_letters = bake.dead_letters

        # The bake timer re-schedules itself with the ARN from its own Lambda context, so its
        # environment does not name itself (that would be a circular reference).
        self.bake_timer_function = factory.function(functions.BAKE_TIMER, environment(**bake.settings()))
        self.deployment_events_function = factory.function(
            functions.DEPLOYMENT_EVENTS,
            environment(**bake.settings(), bake_timer_function_arn=self.bake_timer_function.function_arn),
        )
        self.alarm_events_function = factory.function(functions.ALARM_EVENTS, environment())
        self.manual_rollback_function = factory.function(
            functions.MANUAL_ROLLBACK, environment(groups=config.groups or None)
        )
        self.image_events_function = factory.function(functions.IMAGE_EVENTS, environment())
        # The functions that publish the outbox publish its chat form too, when there is a chat topic.
        chat = {"chat_topic_arn": self.chat_topic.topic_arn} if self.chat_topic else {}
        self.notifier_function = factory.function(functions.NOTIFIER, environment(**chat))
        # The reconciler records lost deployments as DeploymentEvents would, bake schedule included.
        self.reconciler_function = factory.function(
            functions.RECONCILER,
            environment(
                **bake.settings(), bake_timer_function_arn=self.bake_timer_function.function_arn, **chat
            ),
        )
        # ECS calls the release gate as a deployment lifecycle hook, with a role of its own.
        self.release_gate_function = factory.function(functions.RELEASE_GATE, environment())
        self.release_gate_hook_role = hook_role(self, self.release_gate_function)
        self.functions = factory.functions

        self._statements: dict[str, list[iam.PolicyStatement]] = {}
        self._publishers: list[str] = []
        self._grant_permissions(arns, bake)
        rules = rollback_rules(
            self,
            config,
            monitoring,
            deployment_events=self.deployment_events_function,
            alarm_events=self.alarm_events_function,
            image_events=self.image_events_function,
            reconciler=self.reconciler_function,
        )
        self.deployment_events_rule, self.alarm_events_rule, self.image_events_rule = rules[:3]
        self.reconciler_schedule = rules.reconciler
        self.pause_hook_rule = pause_hook_rule(
            self, config, monitoring, release_gate=self.release_gate_function
        )
        self.codedeploy_events_rule = codedeploy_events_rule(
            self, config, monitoring, deployment_events=self.deployment_events_function
        )
        self.outbox_source = outbox_delivery(self, monitoring, self.table, self.notifier_function)
        # A central installation: the member accounts' events reach the bus, and the functions
        # that act on their services may assume their member role.
        self.member_event_bus_policies = (
            member_event_bus_policies(self, config.members) if config.members is not None else []
        )
        self.member_trusted_roles = (
            [self.functions[spec.name].role for spec in ACTING_IN_MEMBERS] if config.members else []
        )
        self.dashboard = monitoring.dashboard(self, self.functions)
        nag.acknowledge_findings(
            self,
            statements=self._statements,
            publishers=self._publishers,
            table_key=self.table.encryption_key is not None,
            purposes=monitoring.purposes,
        )

    def _grant_permissions(self, arns: permissions.Arns, bake: BakeScheduling) -> None:
        """Each function's statements (``constructs/access.py``), the ledger's own among them."""
        key = self.table.encryption_key
        in_members = member_access(self.config.members, arns.partition)
        for name, access in function_access(self.config, arns, bake).items():
            function = self.functions[name]
            statements = [
                *permissions.ledger_access(self.table.table_arn, access.ledger),
                *access.statements,
                *in_members.get(name, ()),
            ]
            for statement in statements:
                function.add_to_role_policy(statement)
            self._statements[name] = statements
            if key is not None:  # an existing table under a customer-managed key
                writes = (
                    permissions.TABLE_KEY_WRITE_ACTIONS
                    if access.ledger.writes or access.ledger.updates
                    else ()
                )
                key.grant(function, *permissions.TABLE_KEY_READ_ACTIONS, *writes)
            if access.notifies:
                for topic in (self.topic, self.chat_topic):
                    if topic is not None:
                        topic.grant_publish(function)
                self._publishers.append(name)
        bake.invoke_only(self.bake_timer_function)


__all__ = ["EcsAutoRollback", "import_ledger_table", "lambda_code"]
