"""Reads of clusters shared by pages and the API, and a cluster's disruption budgets read live."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import QuerySet

from clusters import kube
from clusters.kubetypes import Pdb, Pod
from clusters.models import Cluster


def cluster_list() -> QuerySet[Cluster]:
    return Cluster.objects.order_by("name")


def cluster_get(pk: int) -> Cluster:
    return Cluster.objects.get(pk=pk)


# ---- a cluster's disruption budgets, live --------------------------------------------------------------------------

BUDGETS_CACHE_SECONDS = 3
MAX_BUDGETS = 300
MAX_POD_NAMESPACES = 40  # pod lists read per page view: one per namespace that has budgets
MAX_PODS_SHOWN = 50  # per budget


@dataclass(frozen=True)
class LiveBudget:
    pdb: Pdb
    pods: tuple[Pod, ...]  # the pods it selects (up to MAX_PODS_SHOWN), not Ready first
    selected: int
    ready: int
    pods_error: str = ""  # why its pods could not be listed

    @property
    def key(self) -> str:
        return self.pdb.key

    @property
    def anchor(self) -> str:
        return "pdb-" + self.pdb.key.replace("/", "_", 1)

    @property
    def at_zero(self) -> bool:
        return self.pdb.disruptions_allowed <= 0

    @property
    def rule(self) -> str:
        if self.pdb.min_available is not None:
            return f"minAvailable {self.pdb.min_available}"
        if self.pdb.max_unavailable is not None:
            return f"maxUnavailable {self.pdb.max_unavailable}"
        return "no minAvailable or maxUnavailable"


@dataclass(frozen=True)
class LiveBudgets:
    budgets: tuple[LiveBudget, ...] = ()
    error: str = ""  # the cluster could not be read at all
    total: int = 0  # budgets on the cluster (more than shown past MAX_BUDGETS)
    namespaces_not_read: tuple[str, ...] = ()  # past MAX_POD_NAMESPACES: budgets shown without their pods

    @property
    def at_zero(self) -> int:
        return sum(1 for b in self.budgets if b.at_zero)


def cluster_budgets(cluster: Cluster) -> LiveBudgets:
    """The cluster's budgets now, each with the pods it selects: one PDB list and one pod list per namespace with
    budgets, read at most every few seconds. A cluster that cannot be read gives the reason in words."""
    key = f"drainboard:budgets:{cluster.pk}"
    cached = cache.get(key)
    if cached is None:
        cached = _read_budgets(cluster)
        cache.set(key, cached, BUDGETS_CACHE_SECONDS)
    return cached


def _read_budgets(cluster: Cluster) -> LiveBudgets:
    endpoint = kube.Endpoint.for_cluster(cluster)
    try:
        pdbs = kube.list_pdbs(endpoint, api_version=cluster.eviction_api_version or "policy/v1")
    except kube.KubeError as error:
        return LiveBudgets(error=f"Could not read the budgets of {cluster.name}: {error.message}")
    # Those allowing no disruption first: they are the ones that block.
    pdbs.sort(key=lambda p: (p.disruptions_allowed > 0, p.namespace, p.name))
    shown = pdbs[:MAX_BUDGETS]
    namespaces = sorted({p.namespace for p in shown})
    pods: dict[str, list[Pod]] = {}
    errors: dict[str, str] = {}
    for namespace in namespaces[:MAX_POD_NAMESPACES]:
        try:
            pods[namespace] = kube.list_pods(endpoint, namespace=namespace)
        except kube.KubeError as error:
            errors[namespace] = f"Could not list the pods of {namespace}: {error.message}"
    budgets = []
    for pdb in shown:
        selected = [pod for pod in pods.get(pdb.namespace, []) if pdb.selects(pod)]
        selected.sort(key=lambda pod: (pod.ready, pod.name))
        budgets.append(
            LiveBudget(
                pdb=pdb,
                pods=tuple(selected[:MAX_PODS_SHOWN]),
                selected=len(selected),
                ready=sum(1 for pod in selected if pod.ready),
                pods_error=errors.get(pdb.namespace, ""),
            )
        )
    return LiveBudgets(
        budgets=tuple(budgets), total=len(pdbs), namespaces_not_read=tuple(namespaces[MAX_POD_NAMESPACES:])
    )
