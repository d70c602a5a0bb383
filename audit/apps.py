"""The audit log: append-only, hash-chained events recorded by services."""

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
