"""Leases on rows, taken and renewed compare-and-swap: one follower per request, one budget watcher per cluster."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

LEASE_SECONDS = 15  # renewed every round; a worker that dies frees the request for another within this


def lease(rows: QuerySet[Any], field: str) -> bool:
    """Take the lease in `field` of these rows if it is free or expired; False when another holder has it."""
    now = timezone.now()
    free = Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": now})
    until = now + timedelta(seconds=LEASE_SECONDS)
    return bool(rows.filter(free).update(**{field: until}))


def renew(rows: QuerySet[Any], field: str) -> None:
    rows.update(**{field: timezone.now() + timedelta(seconds=LEASE_SECONDS)})
