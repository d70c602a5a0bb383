"""Reads of eviction requests shared by pages and the API: filtered lists, a request with its pods, why it blocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from clusters import kube
from clusters.models import Cluster
from evictions.models import (
    POD_FINISHED,
    EvictionAttempt,
    EvictionRequest,
    PodEviction,
    PodStatus,
)


@dataclass(frozen=True)
class RequestFilters:
    cluster: int | None = None
    status: str = ""
    requester: str = ""
    node: str = ""
    since: date | None = None
    until: date | None = None


def request_list(filters: RequestFilters | None = None) -> QuerySet[EvictionRequest]:
    """Requests newest first, with their pod counts, for the list page and the API (no N+1)."""
    filters = filters or RequestFilters()
    rows = EvictionRequest.objects.select_related("cluster", "requester").annotate(
        pod_total=Count("pods", filter=~Q(pods__status=PodStatus.SKIPPED)),
        pod_done=Count("pods", filter=Q(pods__status__in=[PodStatus.EVICTED, PodStatus.DELETED])),
        pod_blocked=Count("pods", filter=Q(pods__status=PodStatus.BLOCKED)),
        pod_stuck=Count("pods", filter=Q(pods__status=PodStatus.NEEDS_INTERVENTION)),
    )
    if filters.cluster:
        rows = rows.filter(cluster_id=filters.cluster)
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.requester:
        rows = rows.filter(requester__username=filters.requester)
    if filters.node:
        rows = rows.filter(node=filters.node)
    if filters.since:
        rows = rows.filter(created_at__date__gte=filters.since)
    if filters.until:
        rows = rows.filter(created_at__date__lte=filters.until)
    return rows.order_by("-created_at", "-id")


def request_detail(request_id: int) -> EvictionRequest:
    """One request with its pods and every attempt of each pod, in three queries."""
    attempts = Prefetch("attempt_log", queryset=EvictionAttempt.objects.order_by("at", "id"))
    pods = Prefetch("pods", queryset=PodEviction.objects.order_by("namespace", "name").prefetch_related(attempts))
    return EvictionRequest.objects.select_related("cluster", "requester").prefetch_related(pods).get(pk=request_id)


@dataclass(frozen=True)
class Progress:
    total: int
    done: int
    blocked: int
    stuck: int
    terminating: int
    skipped: int

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 100


def request_progress(request: EvictionRequest) -> Progress:
    pods = list(request.pods.all())  # prefetched by request_detail
    counted = [p for p in pods if p.status != PodStatus.SKIPPED]
    return Progress(
        total=len(counted),
        done=sum(1 for p in counted if p.status in (PodStatus.EVICTED, PodStatus.DELETED)),
        blocked=sum(1 for p in counted if p.status == PodStatus.BLOCKED),
        stuck=sum(1 for p in counted if p.status == PodStatus.NEEDS_INTERVENTION),
        terminating=sum(1 for p in counted if p.status == PodStatus.TERMINATING),
        skipped=len(pods) - len(counted),
    )


@dataclass(frozen=True)
class BlockExplanation:
    """Why a budget blocks: its live numbers and the pods it selects that are not Ready."""

    pdb: str
    numbers: str
    unready: tuple[str, ...]
    error: str = ""
    disruptions_allowed: int | None = None


EXPLANATION_CACHE_SECONDS = 3


def explain_blocks(request: EvictionRequest) -> dict[str, BlockExplanation]:
    """For each budget blocking a pod of this request, read the cluster (one PDB list and one pod list per
    namespace), at most every few seconds however many people watch the page. A cluster that cannot be read
    gives the reason instead; the page still renders."""
    blocking = sorted({p.blocking_pdb for p in request.pods.all() if p.blocking_pdb and p.status not in POD_FINISHED})
    if not blocking:
        return {}
    key = f"drainboard:explain:{request.pk}:{','.join(blocking)}"
    cached = cache.get(key)
    if cached is None:
        cached = _read_explanations(request, blocking)
        cache.set(key, cached, EXPLANATION_CACHE_SECONDS)
    return cached


def _read_explanations(request: EvictionRequest, blocking: list[str]) -> dict[str, BlockExplanation]:
    cluster: Cluster = request.cluster
    endpoint = kube.Endpoint.for_cluster(cluster)
    result: dict[str, BlockExplanation] = {}
    now = timezone.now()
    for namespace in sorted({key.split("/", 1)[0] for key in blocking}):
        try:
            pdbs = {
                p.key: p
                for p in kube.list_pdbs(
                    endpoint, namespace=namespace, api_version=cluster.eviction_api_version or "policy/v1"
                )
            }
            pods = kube.list_pods(endpoint, namespace=namespace)
        except kube.KubeError as error:
            for key in blocking:
                if key.startswith(f"{namespace}/"):
                    result[key] = BlockExplanation(key, "", (), f"Could not read the cluster: {error.message}")
            continue
        for key in blocking:
            if not key.startswith(f"{namespace}/"):
                continue
            pdb = pdbs.get(key)
            if pdb is None:
                result[key] = BlockExplanation(key, "", (), "The budget no longer exists.")
                continue
            unready = []
            for pod in pods:
                if pdb.selects(pod) and not pod.ready and not pod.deleting:
                    since = pod.ready_since or pod.created_at
                    age = f" for {_age(now, since)}" if since else ""
                    unready.append(f"{pod.name} on {pod.node or 'no node'}: {pod.phase}, not Ready{age}")
            numbers = (
                f"allows {pdb.disruptions_allowed} disruption(s): healthy {pdb.current_healthy}, "
                f"desired {pdb.desired_healthy}, expected {pdb.expected_pods}"
            )
            result[key] = BlockExplanation(key, numbers, tuple(unready), disruptions_allowed=pdb.disruptions_allowed)
    return result


def _age(now: datetime, since: datetime) -> str:
    seconds = int((now - since).total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def pod_rows(request: EvictionRequest) -> list[dict[str, Any]]:
    """Per pod, what the table shows: the last answer, how long blocked, when the next retry is."""
    now = timezone.now()
    rows = []
    for pod in request.pods.all():
        attempts = list(pod.attempt_log.all())
        last = attempts[-1] if attempts else None
        rows.append(
            {
                "pod": pod,
                "last": last,
                "attempts": attempts,
                "blocked_for": _age(now, pod.blocked_since)
                if pod.blocked_since and pod.status == PodStatus.BLOCKED
                else "",
                "next_in": max(0, int((pod.next_attempt_at - now).total_seconds()))
                if pod.next_attempt_at and pod.status in (PodStatus.BLOCKED, PodStatus.PENDING)
                else None,
            }
        )
    return rows


def queue_position(request: EvictionRequest, now: datetime | None = None) -> int | None:
    """1 for the next drain to start on its cluster, 2 behind it, …; None when the request is not in the line."""
    from evictions.models import RequestKind, RequestStatus
    from evictions.services.requests import drains_queued

    if request.kind != RequestKind.DRAIN or request.status != RequestStatus.SCHEDULED:
        return None
    ids = list(drains_queued(request.cluster_id, now or timezone.now()).values_list("pk", flat=True)[:1000])
    return ids.index(request.pk) + 1 if request.pk in ids else None
