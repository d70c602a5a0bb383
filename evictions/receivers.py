"""How the engine hears about the cluster registry: a receiver of clusters.signals.cluster_event, connected when the
app is ready, in the sender's transaction."""

from __future__ import annotations

from typing import Any

from evictions.services.pods import enqueue_waiting_on_cluster


def on_cluster_event(sender: Any, *, event: str, cluster: Any, **kwargs: Any) -> None:
    if event == "resumed":  # waiting pods try again now rather than at the next tick
        enqueue_waiting_on_cluster(cluster.pk)
