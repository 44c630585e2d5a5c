"""ECS's service deployments and service revisions, deployment strategies and controllers: what
ECS has had since 2024 and the emulator lacks, played on the emulator's own request path.

moto keeps a service's ``deployments[]`` but knows nothing of the service deployment that each
deployment is in ECS's newer model (``ListServiceDeployments``, ``DescribeServiceDeployments``),
of the service revision it deploys (``DescribeServiceRevisions``, with the image digests ECS
resolved), of ``StopServiceDeployment``, or of ``deploymentConfiguration.strategy`` and
``deploymentController``. This module keeps those records beside moto's service objects and
answers those calls with the request and response shapes of the ECS API reference, so the
product's code calls them exactly as it calls AWS:

- ``apply()`` adds the five actions to moto's ECS request handler (``ContinueServiceDeployment``
  answers a pause hook awaiting action), keeps the deployment
  configuration ``CreateService`` is given (moto drops it), and makes ``UpdateService`` refuse a
  new task definition on a service whose controller is not ECS, as ECS does;
- :class:`ServiceDeployments` is the simulator's side: it opens a service deployment when ECS
  starts one, follows it through its states, and carries out a requested rollback.

A service deployment's ARN is ``arn:aws:ecs:REGION:ACCOUNT:service-deployment/CLUSTER/SERVICE/ID``
and a revision's ``.../service-revision/CLUSTER/SERVICE/ID`` (the reference's own examples).
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ecs_rollback_sandbox.emulator_fixes import replace_method
from ecs_rollback_sandbox.eventbridge import EventSource, milliseconds

_APPLIED = "_ecs_rollback_sandbox_service_deployments"
DESCRIBE_LIMIT = 20  # ARNs per DescribeServiceDeployments / DescribeServiceRevisions (the API's limit)
LIST_LIMIT = 100  # maxResults of ListServiceDeployments
# StopServiceDeployment is taken in these states (the developer guide, "Stopping ... deployments").
STOPPABLE = ("PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
ONGOING = ("PENDING", "IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "STOP_REQUESTED")
# ContinueServiceDeployment's actions (the API reference; CONTINUE when none is given), and the
# pause hook's default timeout (DeploymentLifecycleHookTimeoutConfiguration: 1440 minutes, ROLLBACK).
HOOK_ACTIONS = ("CONTINUE", "ROLLBACK")
PAUSE_TIMEOUT_MINUTES = 1440
PAUSE_HOOK_DETAIL_TYPE = "ECS Hook State Change"


def use_clock(backend: Any, now: Callable[[], datetime]) -> None:
    """The time the emulated ECS of ``backend`` stamps on what a request changes (the simulator's
    clock, so a test's simulated minutes are ECS's too)."""
    backend._service_deployment_clock = now


def _now(backend: Any) -> datetime:
    clock = getattr(backend, "_service_deployment_clock", None)
    return clock() if clock is not None else datetime.now(UTC)


def _new_id() -> str:
    """22 characters of ``[A-Za-z0-9_-]``, the shape of ECS's service deployment ids."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _records(service: Any) -> list[dict[str, Any]]:
    """The service deployments of one moto service object, oldest first."""
    if not hasattr(service, "_service_deployments"):
        service._service_deployments = []
    records: list[dict[str, Any]] = service._service_deployments
    return records


def _revisions(backend: Any) -> dict[str, dict[str, Any]]:
    if not hasattr(backend, "_service_revisions"):
        backend._service_revisions = {}
    revisions: dict[str, dict[str, Any]] = backend._service_revisions
    return revisions


def _prefix(service: Any, kind: str) -> str:
    return f"arn:aws:ecs:{service.region_name}:{service._account_id}:{kind}/{service.cluster_name}/{service.name}"


@dataclass
class ServiceDeployments:
    """The simulator's side: ECS opening, advancing and rolling back service deployments."""

    backend: Any  # moto's ECS backend of one account and region

    def open(
        self,
        service: Any,
        *,
        task_definition: str,
        ecs_deployment_id: str,
        container_images: list[dict[str, str]],
        now: datetime,
        status: str = "IN_PROGRESS",
    ) -> dict[str, Any]:
        """A new service deployment of ``task_definition``: its target revision is new, its source
        revisions are what the service ran (the revisions of its current service deployment)."""
        revision_arn = f"{_prefix(service, 'service-revision')}/{_new_id()}"
        _revisions(self.backend)[revision_arn] = {
            "serviceRevisionArn": revision_arn,
            "serviceArn": service.arn,
            "clusterArn": service.cluster_arn,
            "taskDefinition": task_definition,
            "launchType": service.launch_type,
            "containerImages": container_images,
            "createdAt": now,
        }
        current = self.current(service)
        sources = [] if current is None else [dict(current["targetServiceRevision"])]
        configuration = dict(getattr(service, "deployment_configuration", None) or {})
        record = {
            "serviceDeploymentArn": f"{_prefix(service, 'service-deployment')}/{_new_id()}",
            "serviceArn": service.arn,
            "clusterArn": service.cluster_arn,
            "createdAt": now,
            "startedAt": now,
            "updatedAt": now,
            "sourceServiceRevisions": sources,
            "targetServiceRevision": {
                "arn": revision_arn,
                "requestedTaskCount": service.desired_count,
                "runningTaskCount": 0,
                "pendingTaskCount": service.desired_count,
            },
            "status": status,
            "lifecycleStage": "SCALE_UP" if status == "IN_PROGRESS" else None,
            "deploymentConfiguration": configuration,
            "_ecs_deployment_ids": [ecs_deployment_id],
        }
        if status == "SUCCESSFUL":
            record["finishedAt"] = now
            record["lifecycleStage"] = None
        _records(service).append(record)
        service.current_service_deployment = record["serviceDeploymentArn"]
        # While it deploys, the service runs both its source revisions and the new one.
        running = sources if status == "IN_PROGRESS" else []
        service.current_service_revisions = [*running, dict(record["targetServiceRevision"])]
        return record

    def current(self, service: Any) -> dict[str, Any] | None:
        arn = getattr(service, "current_service_deployment", None)
        return next((r for r in _records(service) if r["serviceDeploymentArn"] == arn), None)

    def of_ecs_deployment(self, service: Any, ecs_deployment_id: str) -> dict[str, Any] | None:
        return next((r for r in _records(service) if ecs_deployment_id in r["_ecs_deployment_ids"]), None)

    def advance(self, service: Any, ecs_deployment_id: str, status: str, now: datetime, reason: str) -> None:
        """The deployment ``ecs_deployment_id`` belongs to reached ``status``: a rollback in
        progress ends ROLLBACK_SUCCESSFUL (or ROLLBACK_FAILED) instead of its own outcome."""
        record = self.of_ecs_deployment(service, ecs_deployment_id)
        if record is None:
            return
        rolling_back = record["status"] in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
        if status == "SUCCESSFUL" and rolling_back:
            status = "ROLLBACK_SUCCESSFUL"
        elif status in ("STOPPED", "FAILED") and rolling_back:
            status = "ROLLBACK_FAILED"
        record.update(status=status, statusReason=reason, updatedAt=now)
        if status not in ONGOING:
            record.update(finishedAt=now, lifecycleStage=None)
            if status in ("ROLLBACK_SUCCESSFUL", "STOPPED", "ROLLBACK_FAILED"):
                record["stoppedAt"] = now
            restored = record.get("rollback", {}).get("serviceRevisionArn")
            if status == "ROLLBACK_SUCCESSFUL" and restored:
                service.current_service_revisions = [
                    dict(source) for source in record["sourceServiceRevisions"] if source["arn"] == restored
                ]
            elif status == "SUCCESSFUL":
                target = dict(record["targetServiceRevision"])
                target.update(runningTaskCount=target["requestedTaskCount"], pendingTaskCount=0)
                record["targetServiceRevision"] = target
                service.current_service_revisions = [target]

    def begin_rollback(self, service: Any, record: dict[str, Any], now: datetime, reason: str) -> str | None:
        """ECS rolls ``record`` back to its source revision: returns that revision's task
        definition (what the service deploys next), or None when it has no source."""
        if not record["sourceServiceRevisions"]:
            return None
        source = record["sourceServiceRevisions"][0]["arn"]
        record.update(
            status="ROLLBACK_REQUESTED",
            updatedAt=now,
            rollback={"reason": reason, "startedAt": now, "serviceRevisionArn": source},
        )
        task_definition: str = _revisions(self.backend)[source]["taskDefinition"]
        return task_definition

    def pause(
        self,
        service: Any,
        stage: str,
        now: datetime,
        *,
        timeout_minutes: int = PAUSE_TIMEOUT_MINUTES,
        timeout_action: str = "ROLLBACK",
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The current service deployment reached ``stage``, where the service has a PAUSE hook:
        it waits, the hook AWAITING_ACTION (a ``DeploymentLifecycleHookDetail`` in its
        ``lifecycleHookDetails``). Returns (the service deployment, the hook)."""
        record = self.current(service)
        if record is None or record["status"] != "IN_PROGRESS":
            raise ValueError("only a service deployment in progress pauses at a lifecycle hook")
        hook = {
            # "ecs-pause-" and 43 characters of [A-Za-z0-9_-], the developer guide's example's shape
            "hookId": "ecs-pause-" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="),
            "targetType": "PAUSE",
            "status": "AWAITING_ACTION",
            "expiresAt": now + timedelta(minutes=timeout_minutes),
            "timeoutAction": timeout_action,
        }
        record.setdefault("lifecycleHookDetails", []).append(hook)
        record.update(lifecycleStage=stage, updatedAt=now)
        return record, hook

    def hook_event(self, record: dict[str, Any], hook: dict[str, Any], now: datetime) -> dict[str, Any]:
        """The ``ECS Hook State Change`` event ECS emits for a pause hook awaiting action. ECS
        publishes no sample; this is modelled on its ``ECS Deployment State Change`` events and
        on ``DeploymentLifecycleHookDetail`` (``events/pause_hook.py`` says which fields)."""
        region, account = record["serviceArn"].split(":")[3:5]
        detail = {
            "eventType": "INFO",
            "eventName": "HOOK_AWAITING_ACTION",
            "clusterArn": record["clusterArn"],
            "serviceDeploymentArn": record["serviceDeploymentArn"],
            "hookId": hook["hookId"],
            "targetType": hook["targetType"],
            "status": hook["status"],
            "lifecycleStage": record["lifecycleStage"],
            "expiresAt": milliseconds(hook["expiresAt"]) + "Z",
            "timeoutAction": hook["timeoutAction"],
            "updatedAt": milliseconds(now) + "Z",
        }
        events = EventSource("aws.ecs", account, region)
        return events.event(PAUSE_HOOK_DETAIL_TYPE, detail, resources=[record["serviceArn"]], at=now)

    def restored_digests(self, service: Any) -> dict[str, str]:
        """The digests of the revision the current service deployment rolls back to, by container."""
        record = self.current(service)
        source = (record or {}).get("rollback", {}).get("serviceRevisionArn")
        revision = _revisions(self.backend).get(source or "", {})
        return {image["containerName"]: image["imageDigest"] for image in revision.get("containerImages", [])}

    def joined(self, service: Any, ecs_deployment_id: str, now: datetime) -> bool:
        """ECS started the deployment that carries out the current service deployment's rollback:
        it belongs to that service deployment. False when no rollback was requested."""
        record = self.current(service)
        if record is None or record["status"] != "ROLLBACK_REQUESTED":
            return False
        record["_ecs_deployment_ids"].append(ecs_deployment_id)
        record.update(status="ROLLBACK_IN_PROGRESS", updatedAt=now)
        return True


# -- the emulator's request path ------------------------------------------------------------


def apply() -> None:
    """Idempotent, like ``emulator_fixes.apply``: the emulator's backends are process-wide."""
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.ecs.responses import EC2ContainerServiceResponse

    for name, action in (
        ("list_service_deployments", _list_service_deployments),
        ("describe_service_deployments", _describe_service_deployments),
        ("describe_service_revisions", _describe_service_revisions),
        ("stop_service_deployment", _stop_service_deployment),
        ("continue_service_deployment", _continue_service_deployment),
    ):
        if not getattr(getattr(EC2ContainerServiceResponse, name, None), _APPLIED, False):
            setattr(action, _APPLIED, True)
            setattr(EC2ContainerServiceResponse, name, action)
    replace_method(EC2ContainerServiceResponse, "create_service", _keep_deployment_configuration)
    replace_method(EC2ContainerServiceBackend, "update_service", _only_ecs_controllers_take_a_task_definition)


def _error(code: str, message: str) -> Exception:
    from moto.ecs.exceptions import ECSException

    return ECSException(code, message)


def _keep_deployment_configuration(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def create_service(self: Any) -> Any:
        response = original(self)
        service = response.result["service"]
        service.deployment_configuration = self._get_param("deploymentConfiguration") or {}
        return response

    return create_service


def _only_ecs_controllers_take_a_task_definition(original: Callable[..., Any]) -> Callable[..., Any]:
    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        if service_properties.get("task_definition"):
            name = str(service_properties.get("service", "")).split("/")[-1]
            service = self._get_service(service_properties.get("cluster", "default"), name)
            controller = (service.deployment_controller or {}).get("type", "ECS")
            if controller == "CODE_DEPLOY":
                raise _error(
                    "InvalidParameterException",
                    "Unable to update task definition on services with a CODE_DEPLOY deployment "
                    "controller. Use AWS CodeDeploy to trigger a new deployment.",
                )
            if controller == "EXTERNAL":
                raise _error(
                    "InvalidParameterException",
                    "Unable to update task definition on services with an EXTERNAL deployment "
                    "controller. Use task sets to deploy a new task definition.",
                )
        return original(self, service_properties)

    return update_service


def _found(backend: Any, arn: str) -> tuple[Any, dict[str, Any]]:
    """The service and the record of service deployment ``arn``, or ECS's not-found error."""
    match = next(((s, r) for s, r in _all_records(backend) if r["serviceDeploymentArn"] == arn), None)
    if match is None:
        raise _error("ServiceDeploymentNotFoundException", f"The service deployment {arn} does not exist.")
    return match


def _all_records(backend: Any) -> Iterable[tuple[Any, dict[str, Any]]]:
    for service in backend.services.values():
        for record in _records(service):
            yield service, record


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if not key.startswith("_") and value is not None}


def _list_service_deployments(self: Any) -> Any:
    from moto.core.responses import ActionResult

    backend = self.ecs_backend
    cluster = self._get_param("cluster", "default").split("/")[-1]
    name = str(self._get_param("service", "")).split("/")[-1]
    service = backend.services.get(f"{cluster}:{name}")
    if service is None:
        raise _error("ServiceNotFoundException", "Service not found.")
    wanted = set(self._get_param("status") or [])
    window = self._get_param("createdAt") or {}
    after, before = _instant(window.get("after")), _instant(window.get("before"))
    limit = max(1, min(int(self._get_param("maxResults") or 20), LIST_LIMIT))
    start = int(self._get_param("nextToken") or 0)
    chosen = [
        record
        for record in reversed(_records(service))  # newest first
        if (not wanted or record["status"] in wanted)
        and (after is None or record["createdAt"] >= after)
        and (before is None or record["createdAt"] <= before)
    ]
    page = chosen[start : start + limit]
    brief_keys = (
        "serviceDeploymentArn",
        "serviceArn",
        "clusterArn",
        "startedAt",
        "createdAt",
        "finishedAt",
        "status",
        "statusReason",
    )
    briefs = [
        {
            **{key: record[key] for key in brief_keys if record.get(key) is not None},
            "targetServiceRevisionArn": record["targetServiceRevision"]["arn"],
        }
        for record in page
    ]
    result: dict[str, Any] = {"serviceDeployments": briefs}
    if start + limit < len(chosen):
        result["nextToken"] = str(start + limit)
    return ActionResult(result)


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(float(value), tz=UTC)


def _arns(self: Any, parameter: str) -> list[str]:
    arns = [str(arn) for arn in self._get_param(parameter) or []]
    if not arns or len(arns) > DESCRIBE_LIMIT:
        raise _error(
            "InvalidParameterException", f"{parameter} must hold between 1 and {DESCRIBE_LIMIT} ARNs."
        )
    return arns


def _describe_service_deployments(self: Any) -> Any:
    by_arn = {record["serviceDeploymentArn"]: _public(record) for _, record in _all_records(self.ecs_backend)}
    return _described(self, "serviceDeploymentArns", "serviceDeployments", by_arn)


def _describe_service_revisions(self: Any) -> Any:
    return _described(self, "serviceRevisionArns", "serviceRevisions", _revisions(self.ecs_backend))


def _described(self: Any, parameter: str, answer: str, by_arn: dict[str, dict[str, Any]]) -> Any:
    """A Describe* answer: what is known of each ARN asked for, a ``MISSING`` failure for the rest."""
    from moto.core.responses import ActionResult

    found, failures = [], []
    for arn in _arns(self, parameter):
        if arn in by_arn:
            found.append(dict(by_arn[arn]))
        else:
            failures.append({"arn": arn, "reason": "MISSING"})
    return ActionResult({answer: found, "failures": failures})


def _stop_service_deployment(self: Any) -> Any:
    from moto.core.responses import ActionResult

    arn = str(self._get_param("serviceDeploymentArn") or "")
    stop_type = self._get_param("stopType") or "ROLLBACK"
    if stop_type not in ("ROLLBACK", "ABORT"):
        raise _error("InvalidParameterException", "stopType must be ROLLBACK or ABORT.")
    service, record = _found(self.ecs_backend, arn)
    if record["status"] not in STOPPABLE:
        raise _error(
            "ConflictException",
            f"The service deployment is {record['status']}; only an ongoing service deployment can be stopped.",
        )
    if stop_type == "ABORT":
        raise _error("UnsupportedFeatureException", "stopType ABORT is not supported; use ROLLBACK.")
    if record["status"] in ("PENDING", "IN_PROGRESS"):
        _roll_back(self.ecs_backend, service, record, "a stop request", "ConflictException")
    return ActionResult({"serviceDeploymentArn": arn})


def _roll_back(backend: Any, service: Any, record: dict[str, Any], cause: str, refusal: str) -> None:
    """ECS rolls ``record`` back to its source revision, as asked (``refusal``: its error when the
    deployment has no earlier revision)."""
    task_definition = ServiceDeployments(backend).begin_rollback(
        service, record, _now(backend), f"Service deployment rolled back because of {cause}."
    )
    if task_definition is None:
        raise _error(refusal, "The service deployment has no earlier service revision to roll back to.")
    service.task_definition = task_definition  # ECS starts the rollback's deployment next


def _continue_service_deployment(self: Any) -> Any:
    """A pause hook awaiting action: CONTINUE resumes the deployment, ROLLBACK rolls it back as
    StopServiceDeployment ROLLBACK does. The reference lists InvalidParameterException and
    ClientException among its errors; a hook not awaiting action (or a deployment no longer in
    progress) answers InvalidParameterException here."""
    from moto.core.responses import ActionResult

    arn = str(self._get_param("serviceDeploymentArn") or "")
    hook_id = str(self._get_param("hookId") or "")
    action = self._get_param("action") or "CONTINUE"
    if not arn or not hook_id:
        raise _error("InvalidParameterException", "serviceDeploymentArn and hookId are required.")
    if action not in HOOK_ACTIONS:
        raise _error("InvalidParameterException", "action must be CONTINUE or ROLLBACK.")
    service, record = _found(self.ecs_backend, arn)
    hook = next(
        (
            h
            for h in record.get("lifecycleHookDetails", [])
            if h["hookId"] == hook_id and h["targetType"] == "PAUSE"
        ),
        None,
    )
    if hook is None or hook["status"] != "AWAITING_ACTION" or record["status"] != "IN_PROGRESS":
        raise _error(
            "InvalidParameterException",
            f"The lifecycle hook {hook_id} is not awaiting action on a service deployment in progress.",
        )
    now = _now(self.ecs_backend)
    if action == "ROLLBACK":
        _roll_back(
            self.ecs_backend, service, record, "a ContinueServiceDeployment ROLLBACK", "ClientException"
        )
    hook["status"] = "SUCCEEDED" if action == "CONTINUE" else "FAILED"
    record["updatedAt"] = now
    return ActionResult({"serviceDeploymentArn": arn})
