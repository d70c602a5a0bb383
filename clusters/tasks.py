"""Celery tasks for clusters: thin wrappers that call one service."""

from __future__ import annotations

from celery import shared_task

from audit.services import System
from clusters import services
from clusters.models import Cluster


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def check_cluster(cluster_id: int) -> None:
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is not None:
        services.cluster_check(actor=System("tick"), cluster=cluster)


@shared_task(ignore_result=True, soft_time_limit=20, time_limit=30)
def tick() -> dict[str, int]:
    """Beat runs this every TICK_SECONDS: each cluster due for a connectivity check is checked by a worker."""
    due = services.clusters_due_for_check()
    for cluster_id in due:
        check_cluster.delay(cluster_id)
    return {"clusters": len(due)}
