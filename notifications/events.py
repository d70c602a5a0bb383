"""The events of an eviction request that people can be notified about."""

from __future__ import annotations

from django.db import models


class Event(models.TextChoices):
    APPROVAL_REQUESTED = "approval_requested", "Approval requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    STARTED = "started", "Started"
    BLOCKED = "blocked", "Pod blocked too long"
    NEEDS_INTERVENTION = "needs_intervention", "Needs intervention"
    FINISHED = "finished", "Finished"


EVENT_VALUES: frozenset[str] = frozenset(Event.values)
