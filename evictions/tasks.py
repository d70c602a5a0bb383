"""Periodic and per-object Celery tasks for evictions: thin, each calls services."""

from __future__ import annotations

from celery import shared_task

from clusters.services import clusters_due_for_check
from clusters.tasks import check_cluster


@shared_task(ignore_result=True, soft_time_limit=20, time_limit=30)
def tick() -> int:
    """Beat calls this every TICK_SECONDS: start due work, recover lost work. For now: refresh reachability."""
    due = clusters_due_for_check()
    for cluster_id in due:
        check_cluster.delay(cluster_id)
    return len(due)
