"""The budget watcher: one per cluster, it watches the budgets that hold its pods back and sends the longest-blocked
pods the moment a budget has room (instead of every blocked pod retrying on its own and meeting a 429)."""

from __future__ import annotations

import time

from clusters import kube
from clusters.models import Cluster
from evictions.services import pods as pod_services
from evictions.services.common import endpoint, send_now
from evictions.services.leases import lease, renew

FOLLOW_SECONDS = 45  # one budget watcher runs this long, then hands over to a fresh one (or the tick starts one)
WATCH_TIMEOUT_SECONDS = 5


def budgets_watch(*, cluster_id: int) -> None:
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
                    retry_freed(cluster_id, {p.key: p.disruptions_allowed for p in pdbs if p.processed})
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
                        retry_freed(cluster_id, {pdb.key: blocked})  # no budget any more: nothing blocks
                        continue
                    pod_services.budgets_seen(cluster_id, [pdb])
                    if pdb.disruptions_allowed > 0 and pdb.processed:
                        retry_freed(cluster_id, {pdb.key: pdb.disruptions_allowed})
            except kube.KubeError:
                version = ""
                time.sleep(1)
    finally:
        rows.update(watcher_until=None)
    # Time is up with pods still blocked: hand over to a fresh watcher now (it lists the budgets again), rather than
    # leave the cluster unwatched until the tick notices.
    send_now("watch_budgets", cluster_id)


def retry_freed(cluster_id: int, freed: dict[str, int]) -> None:
    """Attempt at once, in this process (no broker round trip), as many blocked pods of each freed budget as it
    allows disruptions — longest blocked first, whatever their request; the others keep waiting for the next change."""
    for key, allowed in freed.items():
        for pod_id in pod_services.pods_freed_by(cluster_id, key, allowed):
            pod_services.pod_attempt(pod_id=pod_id)
