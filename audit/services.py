"""Writing the audit log: recording events (inside the change's transaction), the verification checkpoint, retention."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, Max
from django.utils import timezone

from audit import export
from audit.chain import Verification, event_hash, hashed_fields
from audit.models import ActorType, AuditChainHead, AuditEvent, AuditVerification
from audit.selectors import anchor_problem, chain_head_sequence, chain_start, chain_walk
from config.request_id import current_request_id


@dataclass(frozen=True)
class System:
    """A non-human actor, named by the component that acted (e.g. "tick", "worker")."""

    component: str

    @property
    def name(self) -> str:
        return f"system:{self.component}"


Actor = AbstractBaseUser | AnonymousUser | System


def _actor_fields(actor: Actor) -> tuple[str, int | None, str]:
    if isinstance(actor, System):
        return ActorType.SYSTEM, None, actor.name
    if isinstance(actor, AnonymousUser) or not actor.is_authenticated:
        return ActorType.ANONYMOUS, None, "anonymous"
    return ActorType.USER, actor.pk, actor.get_username()


def audit_record(
    *,
    actor: Actor,
    action: str,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    cluster: Any = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain. Must run in the same transaction as the change it records."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record must be called inside the transaction of the change it records")
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or str(target.pk)
    # A JSON round trip stores exactly what was hashed (tuples become lists, keys become strings).
    clean_details = json.loads(json.dumps(details or {}, default=str))
    actor_type, actor_id, actor_name = _actor_fields(actor)

    # Updating the head row first takes its lock (PostgreSQL) or the write lock (SQLite), so concurrent
    # writers append one after another and the chain never forks.
    if not AuditChainHead.objects.filter(pk=1).update(last_sequence=F("last_sequence") + 1):
        try:
            with transaction.atomic():  # a savepoint: losing the race to create the head is not an error
                AuditChainHead.objects.create(pk=1, last_sequence=1)
        except IntegrityError:
            AuditChainHead.objects.filter(pk=1).update(last_sequence=F("last_sequence") + 1)
    # Two plain statements on the head row (no ORM query building): every attempt that changes a pod writes here.
    table = connection.ops.quote_name(AuditChainHead._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT last_sequence, last_hash FROM {table} WHERE id = 1")  # noqa: S608 - our table name
        sequence, last_hash = cursor.fetchone()
    now = timezone.now()
    fields = hashed_fields(
        sequence=sequence,
        created_at=now,
        actor_type=actor_type,
        actor_id=actor_id,
        actor_name=actor_name,
        action=action,
        object_type=object_type,
        object_id=object_id,
        cluster_id=getattr(cluster, "pk", None),
        cluster_name=getattr(cluster, "name", ""),
        request_id=current_request_id(),
        details=clean_details,
    )
    digest = event_hash(settings.AUDIT_HMAC_KEY, fields, last_hash)
    event = AuditEvent.objects.create(
        sequence=sequence,
        created_at=now,
        actor_type=actor_type,
        actor_id=actor_id,
        actor_name=actor_name,
        action=action,
        object_type=object_type,
        object_id=object_id,
        cluster_id=fields["cluster_id"],
        cluster_name=fields["cluster_name"],
        request_id=fields["request_id"],
        details=clean_details,
        prev_hash=last_hash,
        hash=digest,
    )
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET last_hash = %s WHERE id = 1", [digest])  # noqa: S608 - our table name
    return event


# ---- verification checkpoint ----------------------------------------------------------------------------------------

VERIFY_NOW_LIMIT = 50_000  # events per "Verify now" click: a page request stays short


def audit_verification_advance(*, limit: int | None = None, full: bool = False) -> AuditVerification:
    """Verify the chain from the checkpoint on (from its start when full) and store how far it holds or where it breaks.

    Work is bounded by limit (events); the next call continues. A break is re-checked from the last good event
    each time, so restoring the row clears it.
    """
    with transaction.atomic():
        state, _ = AuditVerification.objects.select_for_update().get_or_create(pk=1)
        start, start_hash = chain_start(state)
        head = chain_head_sequence()
        resume = (
            not full
            and state.verified_sequence is not None
            and state.verified_sequence >= start
            and AuditEvent.objects.filter(sequence=state.verified_sequence, hash=state.verified_hash).exists()
        )
        problem = anchor_problem(state)
        if problem:
            result = Verification(False, 0, None, start, problem)
        elif resume:
            assert state.verified_sequence is not None
            result = chain_walk(
                from_sequence=state.verified_sequence + 1,
                from_hash=state.verified_hash,
                through_sequence=head,
                limit=limit,
            )
        else:
            result = chain_walk(from_sequence=start, from_hash=start_hash, through_sequence=head, limit=limit)
        if not resume:
            state.verified_sequence, state.verified_hash, state.verified_count = None, "", 0
        if result.last_sequence is not None:
            state.verified_sequence, state.verified_hash = result.last_sequence, result.last_hash
        state.verified_count += result.checked
        state.broken_event_id = None if result.ok else result.broken_id
        state.broken_sequence = None if result.ok else result.broken_sequence
        state.problem = "" if result.ok else result.problem
        state.checked_at = timezone.now()
        state.save()
    return state


# ---- retention ------------------------------------------------------------------------------------------------------


class RetentionRefused(Exception):
    """Retention would remove events that do not verify, or has nothing to do safely."""


@dataclass(frozen=True)
class RetentionResult:
    removed: int
    first_kept_sequence: int | None
    continues_from: str
    export_path: Path | None
    export_sha256: str
    event: AuditEvent | None


def audit_retain(*, actor: Actor, older_than: datetime, export_to: Path, fmt: str) -> RetentionResult:
    """Export, then remove, every event up to the newest one created before older_than, keeping the chain verifiable.

    The chain is verified first (nothing unverified is removed). The export is written and synced before the
    delete. The delete, the new anchor ("the chain starts at #S, continuing from hash H") and the
    `audit.retention` event recording that anchor are one transaction. On PostgreSQL the append-only trigger lets
    this DELETE through only because the transaction sets drainboard.audit_retention.
    """
    if fmt not in export.FORMATS:
        raise RetentionRefused(f"unknown export format {fmt!r}; use csv or json")
    through = AuditEvent.objects.filter(created_at__lt=older_than).aggregate(last=Max("sequence"))["last"]
    if through is None:
        return RetentionResult(0, None, "", None, "", None)
    state = audit_verification_advance()
    if state.broken and state.broken_sequence is not None and state.broken_sequence <= through:
        where = f"event id {state.broken_event_id}, " if state.broken_event_id else ""
        raise RetentionRefused(
            f"the audit chain does not verify at {where}sequence #{state.broken_sequence} ({state.problem}); "
            "nothing was removed — investigate before removing evidence"
        )
    start, _ = chain_start(state)
    removed_rows = AuditEvent.objects.filter(sequence__gte=start, sequence__lte=through).order_by("sequence")
    exported, digest = export.write_export(export_to, removed_rows, fmt)

    with transaction.atomic():
        state = AuditVerification.objects.select_for_update().get(pk=1)
        last_removed = AuditEvent.objects.filter(sequence=through).values_list("hash", flat=True).first()
        if last_removed is None:
            raise RetentionRefused(f"event #{through} disappeared while exporting; nothing was removed")
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL drainboard.audit_retention = 'on'")
            cursor.execute("DELETE FROM audit_auditevent WHERE sequence <= %s", [through])
            removed = cursor.rowcount
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL drainboard.audit_retention = 'off'")
        if removed != exported:
            raise RetentionRefused(f"{removed} events to remove but {exported} exported; nothing was removed")
        state.anchor_sequence, state.anchor_hash, state.anchored_at = through + 1, last_removed, timezone.now()
        state.verified_count = max(0, state.verified_count - removed)
        state.save()
        event = audit_record(
            actor=actor,
            action="audit.retention",
            object_type="audit.auditevent",
            details={
                "first_kept_sequence": through + 1,
                "continues_from": last_removed,
                "removed": removed,
                "removed_through_sequence": through,
                "older_than": older_than.isoformat(),
                "export": export_to.name,
                "export_sha256": digest,
            },
        )
    return RetentionResult(removed, through + 1, last_removed, export_to, digest, event)
