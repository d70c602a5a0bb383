"""Recording audit events: called by every service, inside the transaction of the change it records."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F
from django.utils import timezone

from audit.chain import event_hash, hashed_fields
from audit.models import ActorType, AuditChainHead, AuditEvent
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
    head = AuditChainHead.objects.get(pk=1)
    now = timezone.now()
    fields = hashed_fields(
        sequence=head.last_sequence,
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
    digest = event_hash(settings.AUDIT_HMAC_KEY, fields, head.last_hash)
    event = AuditEvent.objects.create(
        sequence=head.last_sequence,
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
        prev_hash=head.last_hash,
        hash=digest,
    )
    AuditChainHead.objects.filter(pk=1).update(last_hash=digest)
    return event
