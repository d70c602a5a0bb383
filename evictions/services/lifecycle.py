"""A request's life after it starts, shared by the flows: lock it, derive its status from its pods, finish it,
start the drains waiting behind it, and send its waiting pods again. The flows (requests, approvals, windows, pods)
use this and never import each other."""

from __future__ import annotations

from django.db.models import Count
from django.utils import timezone

from audit.services import audit_record
from clusters.models import Cluster
from evictions.models import (
    POD_FINISHED,
    POD_SKIPPED_BY_PERSON,
    POD_WAITING_TO_TRY,
    REQUEST_DONE,
    EvictionRequest,
    Exceptions,
    PodEviction,
    PodStatus,
    RequestKind,
    RequestStatus,
)
from evictions.services.common import WORKER, after_commit, notify
from evictions.services.policy import drains_queued


def lock_request(request_id: int) -> EvictionRequest:
    return EvictionRequest.objects.select_for_update(of=("self",)).select_related("cluster").get(pk=request_id)


def request_finish(request: EvictionRequest, status: str, reason: str) -> None:
    request.status = status
    request.status_reason = reason[:2000]
    request.finished_at = timezone.now()
    request.save(update_fields=["status", "status_reason", "finished_at", "updated_at"])
    audit_record(
        actor=WORKER,
        action=f"request.{status}",
        target=request,
        cluster=request.cluster,
        details={"reason": request.status_reason},
    )
    if request.kind == RequestKind.DRAIN and request.uncordon_when_done and status in REQUEST_DONE:
        after_commit("uncordon_node", request.pk)
    notify("finished", request, request.status_reason)
    if request.kind == RequestKind.DRAIN:
        start_next_drains(request.cluster_id)


def start_next_drains(cluster_id: int) -> None:
    """A drain slot came free: the next drains in line try to start now rather than on the next tick."""
    limit = Cluster.objects.filter(pk=cluster_id).values_list("max_concurrent_drains", flat=True).first() or 1
    for request_id in drains_queued(cluster_id, timezone.now()).values_list("pk", flat=True)[:limit]:
        after_commit("start_request", request_id)


def request_refresh(*, request: EvictionRequest) -> None:
    """Derive the request's status from its pods (inside the caller's transaction, request row locked)."""
    if request.status not in DERIVED or not request.pods_created_at:
        return
    # One row per status, not one per pod: every attempt of a 1,000-pod drain calls this.
    counts = dict(PodEviction.objects.filter(request=request).values_list("status").annotate(n=Count("pk")).order_by())
    if all(s in POD_FINISHED for s in counts):  # a paused request whose last pods finished is done too
        failed = counts.get(PodStatus.FAILED, 0)
        if failed:
            request_finish(request, RequestStatus.FAILED, f"{failed} pod(s) failed; the others are done.")
            return
        exceptions = Exceptions(
            skipped=PodEviction.objects.filter(POD_SKIPPED_BY_PERSON, request=request).count()
            if counts.get(PodStatus.SKIPPED)
            else 0,
            deleted=counts.get(PodStatus.DELETED, 0),
        )
        evicted = counts.get(PodStatus.EVICTED, 0)
        if exceptions:
            words = f"{exceptions.words()}; {evicted} pod(s) evicted."
            request_finish(request, RequestStatus.DONE_WITH_EXCEPTIONS, words)
        else:
            request_finish(request, RequestStatus.SUCCEEDED, f"{evicted} pod(s) evicted.")
        return
    if request.status == RequestStatus.PAUSED:
        return
    stuck = counts.get(PodStatus.NEEDS_INTERVENTION, 0)
    wanted = RequestStatus.NEEDS_INTERVENTION if stuck else RequestStatus.RUNNING
    if request.status != wanted:
        request.status = wanted
        request.status_reason = f"{stuck} pod(s) need a person." if stuck else ""
        request.save(update_fields=["status", "status_reason", "updated_at"])
        audit_record(
            actor=WORKER,
            action=f"request.{wanted}",
            target=request,
            cluster=request.cluster,
            details={"reason": request.status_reason},
        )
        if stuck:
            notify("needs_intervention", request, request.status_reason)


DERIVED = (RequestStatus.RUNNING, RequestStatus.NEEDS_INTERVENTION, RequestStatus.PAUSED)


def enqueue_waiting(request: EvictionRequest) -> None:
    for pod_id in PodEviction.objects.filter(request=request, status__in=POD_WAITING_TO_TRY).values_list(
        "pk", flat=True
    ):
        after_commit("attempt_pod", pod_id)
