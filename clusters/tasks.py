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
