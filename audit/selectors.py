"""Reads of the audit log shared by pages, the API and commands."""

from __future__ import annotations

from django.conf import settings

from audit.chain import Verification, verify
from audit.models import AuditEvent


def audit_chain_verify() -> Verification:
    """Verify the whole stored chain; the oldest kept event may continue from a hash removed by retention."""
    events = AuditEvent.objects.order_by("sequence").iterator(chunk_size=2000)
    first = AuditEvent.objects.order_by("sequence").values_list("sequence", "prev_hash").first()
    start_hash = None if first is None or first[0] != 1 else "0" * 64
    return verify(settings.AUDIT_HMAC_KEY, events, start_hash=start_hash)


def audit_events_for(*, object_type: str, object_id: str, limit: int = 50) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type=object_type, object_id=object_id)[:limit])


def audit_events_for_cluster(*, cluster_id: int, limit: int = 50) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(cluster_id=cluster_id)[:limit])
