"""An in-memory ledger implementing ``ports.Ledger`` over the same item layout as DynamoDB.

The contract suite (tests/contract) runs against this fake and the DynamoDB adapter alike, so
the two cannot drift.
"""

from __future__ import annotations

import copy
import threading
from datetime import datetime
from typing import Any

from ecs_rollback.adapters import ledger_items as items
from ecs_rollback.contract import KIND_INDEX, PARTITION_KEY, RELEASE_INDEX, SORT_KEY
from ecs_rollback.domain.errors import ConcurrentUpdate, DuplicateTrigger
from ecs_rollback.domain.model import (
    Deployment,
    Release,
    ReleaseRef,
    RevisionId,
    RollbackRecord,
    ServiceId,
    iso,
    parse_iso,
)
from ecs_rollback.domain.state import ServiceState
from ecs_rollback.ports import ImageUse, LedgerChange, OutboxEntry, Page


class InMemoryLedger:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self._items.get((pk, sk))
        return copy.deepcopy(item) if item else None

    def load(self, service: ServiceId) -> ServiceState | None:
        item = self._get(items.service_pk(service), items.STATE_SK)
        return items.state_from_item(item) if item else None

    def get_deployment(self, service: ServiceId, deployment_id: str) -> Deployment | None:
        item = self._get(items.service_pk(service), items.deployment_sk(deployment_id))
        return items.deployment_from_item(item) if item else None

    def get_rollback(self, service: ServiceId, record_key: str) -> RollbackRecord | None:
        item = self._get(items.service_pk(service), record_key)
        return items.rollback_from_item(item) if item else None

    def load_with_revision(
        self, service: ServiceId, revision: RevisionId
    ) -> tuple[ServiceState | None, ReleaseRef | None]:
        item = self._get(items.service_pk(service), items.revision_sk(revision))
        if item is not None:
            return self.load(service), items.ref_from_item(item)
        deployment = self.find_revision(service, revision)
        return self.load(service), items.ref_of_deployment(deployment) if deployment else None

    def get_release(self, service: ServiceId, release_id: str) -> Release | None:
        item = self._get(items.service_pk(service), items.release_sk(release_id))
        return items.release_from_item(item) if item else None

    def linked_alarms(self, service: ServiceId) -> tuple[str, ...]:
        pk = items.service_pk(service)
        return items.alarms_from_items(self._get(pk, items.ALARMS_SK), self._get(pk, items.STATE_SK))

    def good_releases(self, service: ServiceId, limit: int = 20) -> list[ReleaseRef]:
        found, _ = self._query(
            limit,
            None,
            pk_name=RELEASE_INDEX.partition_key,
            pk=items.good_pk(service),
            sk_name=RELEASE_INDEX.sort_key,
        )
        return [items.release_from_item(item).ref() for item in found]

    def deployments_of_release(
        self, release_id: str, limit: int = 20, cursor: str | None = None
    ) -> Page[Deployment]:
        found, next_cursor = self._query(
            limit,
            cursor,
            pk_name=RELEASE_INDEX.partition_key,
            pk=items.release_pk(release_id),
            sk_name=RELEASE_INDEX.sort_key,
        )
        return Page([items.deployment_from_item(item) for item in found], next_cursor)

    def commit(self, change: LedgerChange) -> None:
        """The same writes as the DynamoDB adapter (``items.change_writes``), under the same conditions."""
        with self._lock:
            writes = items.change_writes(change)
            for write in writes:
                stored = self._items.get(write.key)
                if write.condition == "new" and stored is not None:
                    raise DuplicateTrigger("trigger already decided")
            for write in writes:
                stored = self._items.get(write.key)
                if write.condition == "version" and (
                    (stored is None and write.expected_version != 0)
                    or (stored is not None and stored["version"] != write.expected_version)
                ):
                    raise ConcurrentUpdate("state changed")
            for write in writes:
                item = copy.deepcopy(write.item)
                if write.condition == "add_alarm":
                    stored = self._items.get(write.key) or {}
                    item["alarms"] = sorted({*stored.get("alarms", []), str(write.alarm)})
                self._items[(item[PARTITION_KEY], item[SORT_KEY])] = item

    def _query(
        self,
        limit: int,
        cursor: str | None,
        *,
        pk_name: str,
        pk: str,
        sk_name: str,
        prefix: str = "",
        ascending: bool = False,
    ) -> tuple[list[dict[str, Any]], str | None]:
        if not 1 <= limit <= 1000:
            raise ValueError("limit must be between 1 and 1000")
        matching = sorted(
            (
                item
                for item in self._items.values()
                if item.get(pk_name) == pk
                and str(item.get(sk_name, "")).startswith(prefix)
                and sk_name in item
            ),
            key=lambda item: (item[sk_name], item["pk"], item["sk"]),
            reverse=not ascending,
        )
        start = int(cursor) if cursor else 0
        page = matching[start : start + limit]
        next_cursor = str(start + limit) if start + limit < len(matching) else None
        return [copy.deepcopy(item) for item in page], next_cursor

    def find_revision(self, service: ServiceId, revision: RevisionId) -> Deployment | None:
        found, _ = self._query(
            1,
            None,
            pk_name="pk",
            pk=items.service_pk(service),
            sk_name="rev_sort",
            prefix=items.revision_sort_prefix(revision.family, revision.revision),
        )
        return items.deployment_from_item(found[0]) if found else None

    def find_git_sha(self, service: ServiceId, prefix: str) -> list[Deployment]:
        found, _ = self._query(
            25, None, pk_name="pk", pk=items.service_pk(service), sk_name="git_sort", prefix=prefix.lower()
        )
        return [items.deployment_from_item(item) for item in found]

    def history(self, service: ServiceId, limit: int = 20, cursor: str | None = None) -> Page[Deployment]:
        found, next_cursor = self._query(
            limit, cursor, pk_name="pk", pk=items.service_pk(service), sk_name="hist_sort"
        )
        return Page([items.deployment_from_item(item) for item in found], next_cursor)

    def rollbacks(
        self, service: ServiceId, limit: int = 20, cursor: str | None = None
    ) -> Page[RollbackRecord]:
        found, next_cursor = self._query(
            limit, cursor, pk_name="pk", pk=items.service_pk(service), sk_name="sk", prefix="RB#"
        )
        return Page([items.rollback_from_item(item) for item in found], next_cursor)

    def deployments_of_git_sha(
        self, git_sha: str, limit: int = 20, cursor: str | None = None
    ) -> Page[Deployment]:
        found, next_cursor = self._query(
            limit, cursor, pk_name="gsi1pk", pk=f"GIT#{git_sha.lower()}", sk_name="gsi1sk"
        )
        return Page([items.deployment_from_item(item) for item in found], next_cursor)

    def deployments_of_digest(
        self, digest: str, limit: int = 20, cursor: str | None = None
    ) -> Page[ImageUse]:
        found, next_cursor = self._query(limit, cursor, pk_name="pk", pk=items.image_pk(digest), sk_name="sk")
        return Page([items.image_use_from_item(item) for item in found], next_cursor)

    def services(self, limit: int = 100, cursor: str | None = None) -> Page[ServiceState]:
        found, next_cursor = self._query(
            limit, cursor, pk_name="kind", pk=items.SERVICE_KIND, sk_name="pk", ascending=True
        )
        return Page([items.state_from_item(item) for item in found], next_cursor)

    def unsent(self, limit: int = 100) -> list[OutboxEntry]:
        found, _ = self._query(
            limit,
            None,
            pk_name=KIND_INDEX.partition_key,
            pk=items.OUTBOX_KIND,
            sk_name=PARTITION_KEY,
            ascending=True,
        )
        return [items.outbox_from_item(item) for item in found]

    def claim(self, entry: OutboxEntry, now: datetime, until: datetime) -> bool:
        with self._lock:
            item = self._items.get((items.service_pk(entry.service), items.outbox_sk(entry.key)))
            if item is None or KIND_INDEX.partition_key not in item:
                return False
            claimed = item.get("claimed_until")
            if claimed is not None and parse_iso(claimed) >= now:
                return False
            item["claimed_until"] = iso(until)
            return True

    def mark_sent(self, entry: OutboxEntry, now: datetime) -> None:
        with self._lock:
            item = self._items.get((items.service_pk(entry.service), items.outbox_sk(entry.key)))
            if item is not None:
                item["sent_at"] = iso(now)
                item.pop(KIND_INDEX.partition_key, None)
                item.pop("claimed_until", None)

    def all_items(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(item) for item in self._items.values()]
