"""Celery tasks for evictions: each takes ids, calls services, and is safe to run twice."""

from __future__ import annotations

import time
import uuid

from celery import shared_task
from django.db import transaction

from audit.services import System, audit_record
from clusters import kube
from clusters.models import Cluster
from core.heartbeat import record_tick
from evictions.models import EvictionRequest
from evictions.services import pods as pod_services
from evictions.services import requests as request_services
from evictions.services import windows as window_services
from evictions.services.common import endpoint
from evictions.services.leases import lease, renew

FOLLOW_SECONDS = 45  # one budget watcher runs this long, then the tick starts another if still needed
WATCH_TIMEOUT_SECONDS = 5


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def start_request(request_id: int) -> None:
    request_services.request_start(request_id=request_id)


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def attempt_pod(pod_id: int) -> None:
    pod_services.pod_attempt(pod_id=pod_id)


# Follow rounds and the tick are short and decide how soon work ends and lost work is found again: with Redis they
# are taken before the default priority (3) of a backlog of attempts (see CELERY_TASK_DEFAULT_PRIORITY).
@shared_task(ignore_result=True, soft_time_limit=30, time_limit=45, priority=0)
def follow_request(request_id: int, round_token: str = "") -> None:
    """One round of following terminating pods; it re-enqueues itself (a short task never holds a worker slot).

    The first round takes the request's follower lease; later rounds (carrying round_token) renew it, so the tick
    never starts a second chain while this one is alive, and takes over within LEASE_SECONDS if it dies.
    """
    token = round_token or uuid.uuid4().hex
    rows = EvictionRequest.objects.filter(pk=request_id)
    if not round_token and not lease(rows, "follower_until"):
        return
    renew(rows, "follower_until")
    if pod_services.pods_terminated(request_id=request_id) == 0:
        rows.update(follower_until=None)
        return
    follow_request.apply_async(args=(request_id, token), countdown=pod_services.next_wait_for_termination(request_id))


@shared_task(ignore_result=True, soft_time_limit=FOLLOW_SECONDS + 10, time_limit=FOLLOW_SECONDS + 20)
def watch_budgets(cluster_id: int) -> None:
    """Watch the budgets blocking pods on this cluster; the moment one allows disruptions, attempt that many pods.

    One watcher per cluster, however many requests wait on it: a freed disruption goes to the pod blocked longest,
    across requests, instead of every request's pods racing for it (one 201 and a 429 for each of the others).
    """
    rows = Cluster.objects.filter(pk=cluster_id)
    if not lease(rows, "watcher_until"):
        return
    try:
        cluster = Cluster.objects.get(pk=cluster_id)
        api_version = cluster.eviction_api_version or "policy/v1"
        ends = time.monotonic() + FOLLOW_SECONDS
        version = ""
        while time.monotonic() < ends:
            renew(rows, "watcher_until")
            blocked = pod_services.blocked_pods(cluster_id).count()
            if not blocked:
                return
            try:
                if not version:
                    pdbs, version = kube.list_pdbs_at(endpoint(cluster), api_version=api_version)
                    pod_services.budgets_seen(cluster_id, pdbs)
                    _retry_freed(cluster_id, {p.key: p.disruptions_allowed for p in pdbs if p.processed})
                for kind, pdb, new_version in kube.watch_pdbs(
                    endpoint(cluster),
                    resource_version=version,
                    timeout_seconds=WATCH_TIMEOUT_SECONDS,
                    api_version=api_version,
                ):
                    if pdb is None:  # the version expired: list again
                        version = ""
                        break
                    version = new_version or version
                    if kind == "DELETED":
                        _retry_freed(cluster_id, {pdb.key: blocked})  # no budget any more: nothing blocks
                        continue
                    pod_services.budgets_seen(cluster_id, [pdb])
                    if pdb.disruptions_allowed > 0 and pdb.processed:
                        _retry_freed(cluster_id, {pdb.key: pdb.disruptions_allowed})
            except kube.KubeError:
                version = ""
                time.sleep(1)
    finally:
        rows.update(watcher_until=None)
    # Time is up with pods still blocked: hand over to a fresh watcher now (it lists the budgets again), rather than
    # leave the cluster unwatched until the tick notices.
    watch_budgets.delay(cluster_id)


def _retry_freed(cluster_id: int, freed: dict[str, int]) -> None:
    """Attempt at once, in this process (no broker round trip), as many blocked pods of each freed budget as it
    allows disruptions — longest blocked first, whatever their request; the others keep waiting for the next change."""
    for key, allowed in freed.items():
        for pod_id in pod_services.pods_freed_by(cluster_id, key, allowed):
            pod_services.pod_attempt(pod_id=pod_id)


@shared_task(ignore_result=True, soft_time_limit=30, time_limit=45)
def deadline_reached(pod_id: int) -> None:
    pod_services.pod_deadline_reached(pod_id=pod_id)


@shared_task(ignore_result=True, soft_time_limit=30, time_limit=45)
def uncordon_node(request_id: int) -> None:
    request = EvictionRequest.objects.select_related("cluster").get(pk=request_id)
    try:
        kube.set_unschedulable(endpoint(request.cluster), request.node, False)
    except kube.KubeError as error:
        EvictionRequest.objects.filter(pk=request_id).update(
            status_reason=f"{request.status_reason} Uncordoning {request.node} failed: {error.message}"[:2000]
        )
        return
    with transaction.atomic():
        audit_record(
            actor=System("worker"),
            action="node.uncordon",
            target=request,
            cluster=request.cluster,
            details={"node": request.node},
        )


@shared_task(ignore_result=True, soft_time_limit=20, time_limit=30, priority=0)
def tick() -> dict[str, int]:
    """Beat runs this every TICK_SECONDS: start due work, recover lost work, flag stuck work. (Cluster checks and
    notifications have their own ticks: clusters.tasks.tick, notifications.tasks.tick.)"""
    record_tick()  # for /metrics: how long ago the last tick ran
    counts: dict[str, int] = {}
    counts["window_closed"] = window_services.requests_window_closed()
    counts["window_opened"] = window_services.requests_window_reopened()
    started = request_services.requests_due_to_start()
    for request_id in started:
        start_request.delay(request_id)
    late = pod_services.pods_due()
    for pod_id in late:
        attempt_pod.delay(pod_id)
    stuck = pod_services.pods_blocked_past_deadline()
    for pod_id in stuck:
        deadline_reached.delay(pod_id)
    follow = pod_services.requests_needing_followers()
    for request_id in follow:
        follow_request.delay(request_id)
    watch = pod_services.clusters_needing_watchers()
    for cluster_id in watch:
        watch_budgets.delay(cluster_id)
    counts.update(started=len(started), late=len(late), stuck=len(stuck), follow=len(follow), watch=len(watch))
    return counts
