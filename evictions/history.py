"""History search over requests and pod evictions: filters to a queryset, and the sort orders their keyset (cursor)
pages walk (the pages themselves: core.keyset)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from django.db.models import Count, Exists, Model, OuterRef, Q, QuerySet
from django.utils import timezone

from core.keyset import Order
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


# ---- sort orders (their pages: core.keyset) -------------------------------------------------------------------

REQUEST_ORDERS = {
    "newest": Order("newest", "Newest first", "created_at", True),
    "oldest": Order("oldest", "Oldest first", "created_at", False),
}
POD_ORDERS = {
    **REQUEST_ORDERS,
    "slowest": Order("slowest", "Slowest to evict first", "seconds_to_evict", True, "float"),
    "fastest": Order("fastest", "Fastest to evict first", "seconds_to_evict", False, "float"),
}
