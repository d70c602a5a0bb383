"""AuditEvent: one row per change, linked to the previous one by an HMAC so tampering shows."""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models


class AppendOnlyError(Exception):
    """Audit events are never changed or removed through the application."""


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events cannot be updated")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError("audit events cannot be deleted")


class ActorType(models.TextChoices):
    USER = "user", "User"
    SYSTEM = "system", "System"
    ANONYMOUS = "anonymous", "Anonymous"


class AuditEvent(models.Model):
    # sequence orders the chain; it is assigned under the chain lock, so it has no gaps and no forks.
    sequence = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField(db_index=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    # The actor is kept by id and name, without a foreign key: removing a user must not rewrite history.
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_name = models.CharField(max_length=150, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    cluster_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    cluster_name = models.CharField(max_length=100, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-sequence"]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            # PostgreSQL: `action LIKE 'pod.%'` (the prefix filter) uses this; other databases ignore opclasses.
            models.Index(fields=["action"], name="audit_event_action_prefix", opclasses=["varchar_pattern_ops"]),
        ]
        permissions = [("verify_auditevent", "Can verify the audit chain now")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.actor_name} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit events cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events cannot be deleted")


class AuditChainHead(models.Model):
    """The single row that serialises writers: whoever updates it first appends the next event."""

    last_sequence = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"audit chain head at #{self.last_sequence}"


class AuditVerification(models.Model):
    """The single row holding how far the chain is verified, where it broke, and where it starts after retention.

    Verifying a million events on every page load is too slow, so `audit_verify` and a periodic task advance
    this checkpoint and the audit page shows it.
    """

    # The last event known good, and its hash: the next run continues from there.
    verified_sequence = models.BigIntegerField(null=True, blank=True)
    verified_hash = models.CharField(max_length=64, blank=True)
    verified_count = models.BigIntegerField(default=0)
    checked_at = models.DateTimeField(null=True, blank=True)
    # The first event that does not verify (its database id and sequence), or the tail that is missing.
    broken_event_id = models.BigIntegerField(null=True, blank=True)
    broken_sequence = models.BigIntegerField(null=True, blank=True)
    problem = models.TextField(blank=True)
    # After retention the chain starts at anchor_sequence, whose prev_hash must equal anchor_hash.
    anchor_sequence = models.BigIntegerField(null=True, blank=True)
    anchor_hash = models.CharField(max_length=64, blank=True)
    anchored_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        if self.broken_sequence is not None:
            return f"audit chain broken at #{self.broken_sequence}"
        return f"audit chain verified up to #{self.verified_sequence}"

    @property
    def broken(self) -> bool:
        return bool(self.problem)
