"""Evictions: requests, pod evictions and their attempts (the engine arrives with the next issues)."""

from django.apps import AppConfig


class EvictionsConfig(AppConfig):
    name = "evictions"
