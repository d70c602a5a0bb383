"""Evictions: requests, pod evictions and their attempts, and the engine that runs them."""

from django.apps import AppConfig


class EvictionsConfig(AppConfig):
    name = "evictions"

    def ready(self) -> None:
        from clusters.signals import cluster_event
        from evictions.receivers import on_cluster_event

        cluster_event.connect(on_cluster_event, dispatch_uid="evictions.cluster_event")
