"""Clusters: the registry of Kubernetes clusters, their encrypted credentials and their reachability."""

from django.apps import AppConfig


class ClustersConfig(AppConfig):
    name = "clusters"
