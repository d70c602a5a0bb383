"""History search over requests and pod evictions: filters to a queryset, and keyset (cursor) pages that stay fast
however deep one pages, because each page starts from an index position instead of counting rows (no OFFSET)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Generic, TypeVar

from django.core import signing
from django.db.models import Count, Exists, Model, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from evictions.models import (
    POD_DELETED,
    POD_SKIPPED_BY_PERSON,
    Approval,
    Decision,
    EvictionAttempt,
    EvictionRequest,
    Exceptions,
    PodEviction,
    PodStatus,
)

M = TypeVar("M", bound=Model)

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
_SALT = "drainboard.history.cursor"


class InvalidCursor(ValueError):
    """A cursor that was not made by this server for this sort order (edited, truncated or from another list)."""

    message = (
        "This page link is not valid (it was changed or belongs to another sort order); start from the first page."
    )


# ---- filters -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryFilters:
    cluster: int | None = None
    namespace: str = ""
    pod: str = ""  # contained in the pod's name
    node: str = ""
    requester: str = ""  # username
    approver: str = ""  # username of someone who approved
    status: str = ""
    answer: int | None = None  # an HTTP status some attempt received
    since: date | None = None  # created on or after this day
    until: date | None = None  # created on or before this day


def _day_start(day: date) -> datetime:
    # A range on the column itself (not on its date) so that the (…, created_at) indexes serve it.
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def _created_between(rows: QuerySet[M], filters: HistoryFilters) -> QuerySet[M]:
    if filters.since:
        rows = rows.filter(created_at__gte=_day_start(filters.since))
    if filters.until:
        rows = rows.filter(created_at__lt=_day_start(filters.until + timedelta(days=1)))
    return rows


def request_history(filters: HistoryFilters | None = None) -> QuerySet[EvictionRequest]:
    """Requests matching the filters; pod-level filters (namespace, pod, answer) match a request having such a pod."""
    f = filters or HistoryFilters()
    rows = EvictionRequest.objects.select_related("cluster", "requester")
    if f.cluster:
        rows = rows.filter(cluster_id=f.cluster)
    if f.status:
        rows = rows.filter(status=f.status)
    if f.requester:
        rows = rows.filter(requester__username=f.requester)
    if f.node:
        # The drained node, or the node of any of its pods (a request naming pods).
        on_node = PodEviction.objects.filter(request=OuterRef("pk"), node=f.node)
        rows = rows.filter(Q(node=f.node) | Exists(on_node))
    if f.namespace or f.pod:
        pods = PodEviction.objects.filter(request=OuterRef("pk"))
        if f.namespace:
            pods = pods.filter(namespace=f.namespace)
        if f.pod:
            pods = pods.filter(name__contains=f.pod.lower())
        rows = rows.filter(Exists(pods))
    if f.approver:
        approved = Approval.objects.filter(
            request=OuterRef("pk"), approver__username=f.approver, decision=Decision.APPROVE
        )
        rows = rows.filter(Exists(approved))
    if f.answer is not None:
        answered = EvictionAttempt.objects.filter(pod__request=OuterRef("pk"), http_status=f.answer)
        rows = rows.filter(Exists(answered))
    return _created_between(rows, f)


def pod_history(filters: HistoryFilters | None = None) -> QuerySet[PodEviction]:
    """Pod evictions across requests matching the filters, with their request and cluster (one query a page)."""
    f = filters or HistoryFilters()
    rows = PodEviction.objects.select_related("request__cluster", "request__requester")
    if f.cluster:
        rows = rows.filter(request__cluster_id=f.cluster)
    if f.namespace:
        rows = rows.filter(namespace=f.namespace)
    if f.pod:
        # Pod names are lower case (RFC 1123); a plain LIKE '%…%' is what a trigram index serves on PostgreSQL.
        rows = rows.filter(name__contains=f.pod.lower())
    if f.node:
        rows = rows.filter(node=f.node)
    if f.status:
        rows = rows.filter(status=f.status)
    if f.requester:
        rows = rows.filter(request__requester__username=f.requester)
    if f.approver:
        # Approved the pod's request, or a direct delete of this very pod.
        approved = Approval.objects.filter(
            Q(pod__isnull=True) | Q(pod=OuterRef("pk")),
            request=OuterRef("request_id"),
            approver__username=f.approver,
            decision=Decision.APPROVE,
        )
        rows = rows.filter(Exists(approved))
    if f.answer is not None:
        rows = rows.filter(Exists(EvictionAttempt.objects.filter(pod=OuterRef("pk"), http_status=f.answer)))
    return _created_between(rows, f)


def attach_pod_counts(requests: Sequence[EvictionRequest]) -> None:
    """The list's progress columns for one page of requests, in one query (never an aggregate over every row)."""
    counts: dict[int, dict[str, Any]] = {}
    if requests:
        rows = (
            PodEviction.objects.filter(request_id__in=[r.pk for r in requests])
            .values("request_id")
            .annotate(
                pod_total=Count("id", filter=~Q(status=PodStatus.SKIPPED)),
                pod_done=Count("id", filter=Q(status__in=[PodStatus.EVICTED, PodStatus.DELETED])),
                pod_blocked=Count("id", filter=Q(status=PodStatus.BLOCKED)),
                pod_stuck=Count("id", filter=Q(status=PodStatus.NEEDS_INTERVENTION)),
                pod_skipped_by_person=Count("id", filter=POD_SKIPPED_BY_PERSON),
                pod_deleted=Count("id", filter=POD_DELETED),
            )
            .order_by()
        )
        counts = {row["request_id"]: dict(row) for row in rows}
    for request in requests:
        row = counts.get(request.pk, {})
        for name in ("pod_total", "pod_done", "pod_blocked", "pod_stuck"):
            setattr(request, name, row.get(name, 0))
        request.exceptions = Exceptions(  # type: ignore[attr-defined]
            skipped=row.get("pod_skipped_by_person", 0), deleted=row.get("pod_deleted", 0)
        )


# ---- sort orders and keyset pages ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    """A sort order: one field, then the id as the tie-breaker, both in the same direction."""

    name: str
    label: str
    field: str
    descending: bool
    kind: str = "datetime"  # how the field's value is written in a cursor: datetime or float

    def value(self, row: Model) -> Any:
        return getattr(row, self.field)


REQUEST_ORDERS = {
    "newest": Order("newest", "Newest first", "created_at", True),
    "oldest": Order("oldest", "Oldest first", "created_at", False),
}
POD_ORDERS = {
    **REQUEST_ORDERS,
    "slowest": Order("slowest", "Slowest to evict first", "seconds_to_evict", True, "float"),
    "fastest": Order("fastest", "Fastest to evict first", "seconds_to_evict", False, "float"),
}


@dataclass(frozen=True)
class KeysetPage(Generic[M]):
    rows: list[M]
    next_cursor: str  # "" when this is the last page
    prev_cursor: str  # "" when this is the first page


def encode_cursor(order: Order, row: Model, direction: str) -> str:
    value = order.value(row)
    written = value.isoformat() if isinstance(value, datetime) else value
    # "l" names the list (its model), so a cursor from the requests list is refused by the pod evictions list.
    payload = json.dumps(
        {"l": row._meta.label_lower, "o": order.name, "d": direction, "v": written, "id": row.pk}, separators=(",", ":")
    )
    signed = signing.Signer(salt=_SALT).sign(payload)
    return base64.urlsafe_b64encode(signed.encode()).decode().rstrip("=")


def decode_cursor(order: Order, cursor: str, listing: str) -> tuple[str, Any, int]:
    """The direction ("next" or "prev"), the sort value and the id written in a cursor this server signed for this
    order of this listing (a model's label, e.g. evictions.podeviction)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        signed = base64.urlsafe_b64decode(padded.encode()).decode()
        data = json.loads(signing.Signer(salt=_SALT).unsign(signed))
        direction, raw, row_id = data["d"], data["v"], data["id"]
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, signing.BadSignature):
        raise InvalidCursor(InvalidCursor.message) from None
    if (
        data.get("l") != listing
        or data.get("o") != order.name
        or direction not in ("next", "prev")
        or not isinstance(row_id, int)
    ):
        raise InvalidCursor(InvalidCursor.message)
    value: datetime | float | None
    if order.kind == "datetime":
        try:
            value = parse_datetime(raw) if isinstance(raw, str) else None
        except ValueError:
            value = None
    else:
        value = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
    if value is None:
        raise InvalidCursor(InvalidCursor.message)
    return direction, value, row_id


def _after(order: Order, value: Any, row_id: int, forward: bool) -> Q:
    """Rows strictly after (value, id) in the direction of travel. The bound on the field alone comes first so that
    the database starts its index scan there instead of filtering every row before it."""
    later = order.descending == forward  # walking towards smaller values
    op = "lt" if later else "gt"
    bound = "lte" if later else "gte"
    return Q(**{f"{order.field}__{bound}": value}) & (
        Q(**{f"{order.field}__{op}": value}) | Q(**{order.field: value, f"id__{op}": row_id})
    )


def keyset_page(queryset: QuerySet[M], order: Order, cursor: str = "", size: int = PAGE_SIZE) -> KeysetPage[M]:
    """One page of rows in `order`, after (or before) the row a cursor names; cursors for the pages either side.

    Raises InvalidCursor for a cursor this server did not sign for this order."""
    size = max(1, min(size, MAX_PAGE_SIZE))
    if order.kind == "float":  # rows without a value have no place in this order
        queryset = queryset.filter(**{f"{order.field}__isnull": False})
    direction, forward = "next", True
    if cursor:
        direction, value, row_id = decode_cursor(order, cursor, queryset.model._meta.label_lower)
        forward = direction == "next"
        queryset = queryset.filter(_after(order, value, row_id, forward))
    descending = order.descending == forward
    sign = "-" if descending else ""
    fetched = list(queryset.order_by(f"{sign}{order.field}", f"{sign}id")[: size + 1])
    more = len(fetched) > size
    rows = fetched[:size]
    if not forward:
        rows.reverse()
    if not rows:
        return KeysetPage(rows, "", "")
    if forward:
        has_next, has_prev = more, bool(cursor)
    else:
        has_next, has_prev = True, more
    return KeysetPage(
        rows,
        encode_cursor(order, rows[-1], "next") if has_next else "",
        encode_cursor(order, rows[0], "prev") if has_prev else "",
    )
