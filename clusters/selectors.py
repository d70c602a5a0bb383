"""Reads of clusters shared by pages and the API."""

from __future__ import annotations

from django.db.models import QuerySet

from clusters.models import Cluster


def cluster_list() -> QuerySet[Cluster]:
    return Cluster.objects.order_by("name")


def cluster_get(pk: int) -> Cluster:
    return Cluster.objects.get(pk=pk)
