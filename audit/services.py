"""Writing the audit log: recording events (inside the change's transaction), the verification checkpoint, retention."""

from __future__ import annotations

import hmac
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
from audit.chain import Verification, event_hash, hashed_fields, new_digest
from audit.models import ActorType, AuditChainHead, AuditEvent, AuditVerification, VerificationScope
from audit.selectors import (
    anchor_problem,
    audit_verification_state,
    chain_digest,
    chain_head_sequence,
    chain_start,
    chain_walk,
)
from core.request_id import current_request_id


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

# "Verify now" recomputes the whole chain inside the page request up to this many events (a few seconds, see
# docs/PERFORMANCE.md); a longer chain is handed to a worker and the page says so.
VERIFY_NOW_INLINE_LIMIT = 100_000
VERIFY_FULL_TASK = "audit.tasks.verify_chain_full"


def audit_verification_advance(*, limit: int | None = None, full: bool = False) -> AuditVerification:
    """Check the chain and store the result as the checkpoint the audit page shows.

    full: recompute every event's HMAC from the chain's start (or retention anchor) to its head.
    Otherwise (incremental): re-read the stored sequence, prev_hash and hash of the events up to the checkpoint and
    compare their digest with the checkpoint's; if it matches, recompute the HMACs of the events after it (at most
    limit, the next call continues); if it differs, recompute the whole chain to name the first broken event.
    A break is re-checked on the next call, so restoring the row clears it.

    The walk runs outside any transaction (reads in keyset batches; on SQLite the write lock is not held for it);
    only storing the result locks the checkpoint row.
    """
    seen = audit_verification_state()
    start, start_hash = chain_start(seen)
    head = chain_head_sequence()
    digest = new_digest()
    scope = VerificationScope.FULL
    problem = anchor_problem(seen)
    continued = False
    checkpoint = seen.verified_sequence
    if problem:
        result = Verification(False, 0, None, start, problem)
    else:
        if not full and seen.verified_digest and checkpoint is not None and checkpoint >= start:
            earlier = chain_digest(from_sequence=start, through_sequence=checkpoint)
            if hmac.compare_digest(earlier.hexdigest(), seen.verified_digest):
                digest, continued, scope = earlier, True, VerificationScope.NEW
            else:
                scope = VerificationScope.FALLBACK
        if continued:
            assert checkpoint is not None
            result = chain_walk(
                from_sequence=checkpoint + 1,
                from_hash=seen.verified_hash,
                through_sequence=head,
                limit=limit,
                digest=digest,
            )
        else:
            bounded = None if full or scope == VerificationScope.FALLBACK else limit
            result = chain_walk(
                from_sequence=start, from_hash=start_hash, through_sequence=head, limit=bounded, digest=digest
            )
    now = timezone.now()
    with transaction.atomic():
        state, _ = AuditVerification.objects.select_for_update().get_or_create(pk=1)
        if state.anchor_sequence != seen.anchor_sequence:
            return state  # retention moved the chain's start during the walk: the next check starts from the anchor
        if state.checked_at != seen.checked_at and state.broken and result.ok:
            return state  # a concurrent check found a break: a check that started before it never clears it
        base_sequence, base_hash, base_count = (
            (seen.verified_sequence, seen.verified_hash, seen.verified_count) if continued else (None, "", 0)
        )
        state.verified_sequence = result.last_sequence if result.last_sequence is not None else base_sequence
        state.verified_hash = result.last_hash or base_hash
        state.verified_count = base_count + result.checked
        state.verified_digest = digest.hexdigest() if state.verified_sequence is not None else ""
        state.broken_event_id = None if result.ok else result.broken_id
        state.broken_sequence = None if result.ok else result.broken_sequence
        state.problem = "" if result.ok else result.problem
        state.scope = scope
        state.recomputed_from = checkpoint + 1 if continued and checkpoint is not None else start
        state.checked_at = now
        if not continued:
            whole = result.ok and (state.verified_sequence or start - 1) >= head
            if whole:
                state.full_verified_at = now
                state.full_verified_sequence = state.verified_sequence
                state.full_verified_count = state.verified_count
            if whole or not result.ok:
                state.full_requested_at = None
        state.save()
    return state


def send_verify_task(name: str) -> None:
    """Enqueue an audit task by name (no import of audit.tasks here: it imports this module)."""
    from celery import current_app

    current_app.send_task(name)


def audit_chain_verify_now() -> AuditVerification:
    """ "Verify now": recompute the whole chain in this request when it is short, else queue it for a worker.

    The page request stays within the web server's timeout either way; the checkpoint's full_requested_at tells the
    page that a worker has the whole-chain check."""
    state = audit_verification_state()
    start, _ = chain_start(state)
    if chain_head_sequence() - start + 1 <= VERIFY_NOW_INLINE_LIMIT:
        return audit_verification_advance(full=True)
    with transaction.atomic():
        state, _ = AuditVerification.objects.select_for_update().get_or_create(pk=1)
        state.full_requested_at = timezone.now()
        state.save(update_fields=["full_requested_at"])
        transaction.on_commit(lambda: send_verify_task(VERIFY_FULL_TASK))
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
    state = audit_verification_advance(full=True)  # nothing is removed without recomputing its HMAC first
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
        # The checkpoint's digest covered the removed events: it now covers the kept ones verified before.
        if state.verified_sequence is not None and state.verified_sequence > through:
            kept = chain_digest(from_sequence=through + 1, through_sequence=state.verified_sequence)
            state.verified_digest = kept.hexdigest()
            state.verified_count = state.verified_sequence - through
        else:
            state.verified_sequence, state.verified_hash, state.verified_digest, state.verified_count = None, "", "", 0
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
