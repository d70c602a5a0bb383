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


class VerificationScope(models.TextChoices):
    """What the last check recomputed."""

    FULL = "full", "the whole chain"
    NEW = "new", "new events; earlier ones by the digest of their stored hashes"
    FALLBACK = "fallback", "the whole chain, because the digest of earlier events had changed"


class AuditVerification(models.Model):
    """The single row holding how far the chain is verified, where it broke, and where it starts after retention.

    Recomputing a million HMACs on every page load is too slow, so a periodic task checks new events (and the older
    ones by a digest of their stored hashes), a daily task and "Verify now" recompute the whole chain, and the audit
    page shows this row. docs/RELIABILITY.md says what each check catches.
    """

    # The last event known good, and its hash: the next run continues from there.
    verified_sequence = models.BigIntegerField(null=True, blank=True)
    verified_hash = models.CharField(max_length=64, blank=True)
    verified_count = models.BigIntegerField(default=0)
    # SHA-256 over the stored (sequence, prev_hash, hash) of every event from the chain's start to verified_sequence
    # (audit.chain.new_digest): the next incremental check re-reads those columns and compares.
    verified_digest = models.CharField(max_length=64, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    scope = models.CharField(max_length=16, choices=VerificationScope.choices, blank=True)
    # The first event whose HMAC the last check recomputed (events before it were checked by the digest).
    recomputed_from = models.BigIntegerField(null=True, blank=True)
    # The last check that recomputed every event from the chain's start to its head and found it intact.
    full_verified_at = models.DateTimeField(null=True, blank=True)
    full_verified_sequence = models.BigIntegerField(null=True, blank=True)
    full_verified_count = models.BigIntegerField(default=0)
    # "Verify now" on a long chain hands the whole-chain check to a worker; set until that check stores its result.
    full_requested_at = models.DateTimeField(null=True, blank=True)
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
