"""Reads of the audit log shared by pages, the API and commands: search, history of an object, chain walks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from audit.chain import EVENT_COLUMNS, GENESIS_HASH, Verification, digest_line, new_digest, verify
from audit.models import AuditChainHead, AuditEvent, AuditVerification
from core.keyset import KeysetPage, Order, keyset_page

REQUEST_TYPE = "evictions.evictionrequest"
REQUEST_EVENTS_LIMIT = 100_000  # a request and its pods: far above any real request's events
POD_TYPE = "evictions.podeviction"
CLUSTER_TYPE = "clusters.cluster"
# Short names accepted for the object type in searches and links.
OBJECT_TYPE_ALIASES = {"request": REQUEST_TYPE, "pod": POD_TYPE, "cluster": CLUSTER_TYPE}
# Rows per read while verifying: whole rows (HMACs), or three short columns (the digest of stored hashes).
VERIFY_CHUNK = 2000
DIGEST_CHUNK = 20_000


# ---- search ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    """One search of the log. Every field is optional; all given ones must match."""

    actor: str = ""  # the actor's name exactly: "alice", "system:tick"
    action: str = ""  # actions starting with this: "pod." or "pod.evicted"
    cluster_id: int | None = None
    cluster_name: str = ""
    object_type: str = ""
    object_id: str = ""
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    q: str = ""  # free text (at least 3 characters) over action, actor, object, cluster name and details
    request: int | None = None  # an eviction request and its pods

    def is_empty(self) -> bool:
        return self == AuditFilters()


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _free_text(q: str) -> RawSQL:
    """Case-insensitive substring match over the searched text.

    On PostgreSQL the expression is exactly the one the trigram index of migration 0004 covers, so a search
    over a million events reads the index instead of every row.
    """
    postgres = connection.vendor == "postgresql"
    text = (
        "(action || ' ' || actor_name || ' ' || object_type || ' ' || object_id || ' ' || cluster_name || ' ' || "
        + ("details::text)" if postgres else "details)")
    )
    match = "ILIKE %s" if postgres else "LIKE %s ESCAPE '\\'"
    # Constant SQL; the user's text is a parameter.
    return RawSQL(f"{text} {match}", [_like_pattern(q)], output_field=BooleanField())  # noqa: S611


def audit_search(filters: AuditFilters) -> QuerySet[AuditEvent]:
    """The events matching filters, newest first."""
    events = AuditEvent.objects.all()
    if filters.actor:
        events = events.filter(actor_name=filters.actor)
    if filters.action:
        events = events.filter(action__startswith=filters.action)
    if filters.cluster_id is not None:
        events = events.filter(cluster_id=filters.cluster_id)
    if filters.cluster_name:
        events = events.filter(cluster_name=filters.cluster_name)
    if filters.object_type:
        events = events.filter(object_type=OBJECT_TYPE_ALIASES.get(filters.object_type, filters.object_type))
    if filters.object_id:
        events = events.filter(object_id=filters.object_id)
    if filters.request is not None:
        # The matching events' sequences first, without ORDER BY/LIMIT, so PostgreSQL takes the object index; an
        # ordered, limited query with this OR walks the whole table backwards by sequence (docs/PERFORMANCE.md).
        sequences = list(
            AuditEvent.objects.filter(_request_and_pods(filters.request))
            .order_by()
            .values_list("sequence", flat=True)[:REQUEST_EVENTS_LIMIT]
        )
        events = events.filter(sequence__in=sequences)
    if filters.since is not None:
        events = events.filter(created_at__gte=filters.since)
    if filters.until is not None:
        events = events.filter(created_at__lt=filters.until)
    if filters.q:
        events = events.filter(_free_text(filters.q))
    return events.order_by("-sequence")


# Newest first by sequence (unique, indexed): the order of the audit page's and the API's signed keyset cursors.
AUDIT_ORDER = Order("newest", "Newest first", "sequence", True, "int")


def audit_page(filters: AuditFilters, *, cursor: str = "", size: int = 50) -> KeysetPage[AuditEvent]:
    """One page of a search, newest first, after the event a signed cursor names (core.keyset: never OFFSET).

    Raises InvalidCursor for a cursor this server did not sign for this list."""
    return keyset_page(audit_search(filters), AUDIT_ORDER, cursor, size)


# ---- rows for pages: links and compact details ----------------------------------------------------------------------


@dataclass
class EventRow:
    event: AuditEvent
    object_label: str
    object_url: str
    cluster_url: str
    details: list[tuple[str, str]]


DETAIL_VALUE_CHARS = 160


def compact_value(value: Any) -> str:
    """A detail value in one short line; the template escapes it."""
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_VALUE_CHARS else text[: DETAIL_VALUE_CHARS - 1] + "…"


def _request_of(event: AuditEvent) -> int | None:
    if event.object_type == REQUEST_TYPE and event.object_id.isdigit():
        return int(event.object_id)
    if event.object_type == POD_TYPE and isinstance(event.details, dict):
        value = event.details.get("request")
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return int(value)
    return None


def event_rows(events: list[AuditEvent]) -> list[EventRow]:
    """Each event with links to its request or cluster page when that still exists: two queries for any page."""
    from django.apps import apps
    from django.urls import reverse

    request_ids = {r for r in map(_request_of, events) if r is not None}
    cluster_ids = {e.cluster_id for e in events if e.cluster_id is not None}
    cluster_ids |= {int(e.object_id) for e in events if e.object_type == CLUSTER_TYPE and e.object_id.isdigit()}
    requests = apps.get_model("evictions", "EvictionRequest")
    clusters = apps.get_model("clusters", "Cluster")
    live_requests = (
        set(requests.objects.filter(pk__in=request_ids).values_list("pk", flat=True)) if request_ids else set()
    )
    live_clusters = (
        set(clusters.objects.filter(pk__in=cluster_ids).values_list("pk", flat=True)) if cluster_ids else set()
    )
    rows = []
    for event in events:
        label = event.object_type + (f":{event.object_id}" if event.object_id else "")
        url = ""
        request_pk = _request_of(event)
        if event.object_type == REQUEST_TYPE:
            label = f"request #{event.object_id}"
        elif event.object_type == POD_TYPE:
            pod = event.details.get("pod") if isinstance(event.details, dict) else None
            label = f"pod {pod}" if pod else f"pod eviction #{event.object_id}"
            if request_pk is not None:
                label += f" (request #{request_pk})"
        elif event.object_type == CLUSTER_TYPE:
            label = f"cluster #{event.object_id}"
            if event.object_id.isdigit() and int(event.object_id) in live_clusters:
                url = reverse("cluster-detail", args=[int(event.object_id)])
        if request_pk is not None and request_pk in live_requests:
            url = reverse("request-detail", args=[request_pk])
        cluster_url = ""
        if event.cluster_id is not None and event.cluster_id in live_clusters:
            cluster_url = reverse("cluster-detail", args=[event.cluster_id])
        details = event.details if isinstance(event.details, dict) else {"value": event.details}
        rows.append(
            EventRow(
                event=event,
                object_label=label,
                object_url=url,
                cluster_url=cluster_url,
                details=[(str(key), compact_value(value)) for key, value in details.items()],
            )
        )
    return rows


# ---- the history of one object --------------------------------------------------------------------------------------

HISTORY_LIMIT = 50


def _request_and_pods(request_id: int) -> Q:
    """An eviction request's events and its pods', found by the pods' ids, which the object index covers.

    The ids are read first and passed as a list: with a subquery PostgreSQL cannot estimate the match count and walks
    the whole table backwards by sequence instead of using the (object_type, object_id) index."""
    from django.apps import apps

    pods = apps.get_model("evictions", "PodEviction")
    pod_ids = [str(pk) for pk in pods.objects.filter(request_id=request_id).values_list("pk", flat=True)[:10_000]]
    return Q(object_type=REQUEST_TYPE, object_id=str(request_id)) | Q(object_type=POD_TYPE, object_id__in=pod_ids)


@dataclass
class AuditHistory:
    """The latest events of one object for its page, and the search that shows them all."""

    rows: list[EventRow]
    search_url: str
    more: bool
    limit: int


def _history(filters: AuditFilters, query: str, limit: int) -> AuditHistory:
    from django.urls import reverse

    events = list(audit_search(filters)[: limit + 1])
    return AuditHistory(event_rows(events[:limit]), f"{reverse('audit')}?{query}", len(events) > limit, limit)


def audit_request_history(*, request_id: int, limit: int = HISTORY_LIMIT) -> AuditHistory:
    """A request's events and its pods', newest first, bounded."""
    return _history(AuditFilters(request=request_id), f"request={request_id}", limit)


def audit_cluster_history(*, cluster_id: int, limit: int = HISTORY_LIMIT) -> AuditHistory:
    """Everything recorded on a cluster, newest first, bounded."""
    return _history(AuditFilters(cluster_id=cluster_id), f"cluster={cluster_id}", limit)


def audit_events_for(*, object_type: str, object_id: str, limit: int = 50) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type=object_type, object_id=object_id)[:limit])


def audit_events_for_cluster(*, cluster_id: int, limit: int = 50) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(cluster_id=cluster_id)[:limit])


# ---- the chain ------------------------------------------------------------------------------------------------------


def audit_verification_state() -> AuditVerification:
    """The checkpoint the audit page shows (an unsaved blank one before the first verification)."""
    return AuditVerification.objects.filter(pk=1).first() or AuditVerification(pk=1)


def chain_start(state: AuditVerification) -> tuple[int, str]:
    """Where the stored chain starts: #1 from the genesis hash, or the retention anchor."""
    if state.anchor_sequence is not None:
        return state.anchor_sequence, state.anchor_hash
    return 1, GENESIS_HASH


def chain_head_sequence() -> int:
    return AuditChainHead.objects.filter(pk=1).values_list("last_sequence", flat=True).first() or 0


def chain_events(*, from_sequence: int, through_sequence: int, limit: int | None = None) -> Iterator[Any]:
    """Events in chain order, read in keyset batches (`sequence > last read … LIMIT VERIFY_CHUNK`).

    Memory holds one batch whatever the length of the chain, and no query or cursor stays open between batches
    (no server-side cursor, no long transaction). Rows are plain named tuples of the hashed columns: a million model
    instances would cost more than the HMACs.
    """
    after = from_sequence - 1
    remaining = limit
    while remaining is None or remaining > 0:
        size = VERIFY_CHUNK if remaining is None else min(VERIFY_CHUNK, remaining)
        batch = list(
            AuditEvent.objects.filter(sequence__gt=after, sequence__lte=through_sequence)
            .order_by("sequence")
            .values_list(*EVENT_COLUMNS, named=True)[:size]
        )
        yield from batch
        if len(batch) < size:
            return
        after = batch[-1].sequence
        if remaining is not None:
            remaining -= len(batch)


def chain_walk(
    *, from_sequence: int, from_hash: str, through_sequence: int, limit: int | None = None, digest: Any = None
) -> Verification:
    """Verify the events from_sequence..through_sequence; a missing tail (rows removed at the end) is a break too.

    digest, when given, is fed every event that verifies (audit.chain.new_digest)."""
    result = verify(
        settings.AUDIT_HMAC_KEY,
        chain_events(from_sequence=from_sequence, through_sequence=through_sequence, limit=limit),
        start_hash=from_hash,
        start_sequence=from_sequence,
        digest=digest,
    )
    if not result.ok:
        return result
    reached = result.last_sequence if result.last_sequence is not None else from_sequence - 1
    complete = limit is None or result.checked < limit
    if complete and reached < through_sequence:
        missing = f"#{reached + 1}" + (f" to #{through_sequence}" if through_sequence > reached + 1 else "")
        problem = f"events {missing} are missing (the chain head is at #{through_sequence})"
        return Verification(False, result.checked, result.last_sequence, reached + 1, problem, None, result.last_hash)
    return result


def chain_digest(*, from_sequence: int, through_sequence: int) -> Any:
    """The digest (audit.chain.new_digest) of the stored sequence, prev_hash and hash of from..through, as they are now.

    One pass over three short columns in keyset batches: no HMAC, no details. Equal to the checkpoint's digest means
    no stored hash, link or sequence in that range changed and no row went missing or was added; it cannot see
    content changed with its stored hash left alone (only recomputing the HMAC can: the whole-chain check)."""
    digest = new_digest()
    after = from_sequence - 1
    while True:
        batch = list(
            AuditEvent.objects.filter(sequence__gt=after, sequence__lte=through_sequence)
            .order_by("sequence")
            .values_list("sequence", "prev_hash", "hash")[:DIGEST_CHUNK]
        )
        for sequence, prev_hash, hash_ in batch:
            digest.update(digest_line(sequence, prev_hash, hash_))
        if len(batch) < DIGEST_CHUNK:
            return digest
        after = batch[-1][0]


def anchor_problem(state: AuditVerification) -> str:
    """A retention anchor must be recorded by an `audit.retention` event in the chain itself (which is HMAC'd)."""
    if state.anchor_sequence is None:
        return ""
    recorded = AuditEvent.objects.filter(
        action="audit.retention",
        details__first_kept_sequence=state.anchor_sequence,
        details__continues_from=state.anchor_hash,
    ).exists()
    return "" if recorded else "the retention anchor is not recorded by an audit.retention event"


def audit_chain_verify() -> Verification:
    """Verify the whole stored chain now (read only): from #1, or from the retention anchor, to the chain head."""
    state = audit_verification_state()
    problem = anchor_problem(state)
    start, start_hash = chain_start(state)
    if problem:
        return Verification(False, 0, None, start, problem)
    return chain_walk(from_sequence=start, from_hash=start_hash, through_sequence=chain_head_sequence())
