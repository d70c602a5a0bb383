"""Rollouts: a fleet of nodes drained max_unavailable at a time, each node one ordinary drain request."""

from django.apps import AppConfig


class RolloutsConfig(AppConfig):
    name = "rollouts"
