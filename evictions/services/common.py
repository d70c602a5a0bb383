"""Helpers shared by the eviction services: authorisation, the cluster endpoint, enqueueing after commit."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.permissions import require_perm
from audit.services import Actor, System
from clusters import kube
from clusters.models import Cluster

WORKER = System("worker")
TICK = System("tick")

# Celery countdowns stay far below the broker's visibility timeout; later retries are the tick's job.
MAX_COUNTDOWN_SECONDS = 60.0


def authorize(actor: Actor, perm: str) -> None:
    if not isinstance(actor, System):
        require_perm(actor, perm)


def not_now(what: str, action: str, status_label: str) -> ValidationError:
    """An action the object's status does not allow, in a sentence that reads right for every status (not "A
    awaiting approval request cannot be paused")."""
    return ValidationError({"status": [f"The {what} cannot be {action}: its status is {status_label.lower()}."]})


def actor_name(actor: Actor) -> str:
    """The name the audit log gives the actor: a username, or "system:<component>"."""
    if isinstance(actor, System):
        return actor.name
    return actor.get_username() or "anonymous"


def endpoint(cluster: Cluster) -> kube.Endpoint:
    return kube.Endpoint.for_cluster(cluster)


def after_commit(func: Any, *args: Any, countdown: float | None = None) -> None:
    """Enqueue a task once the transaction that made its row commits (never before the row exists)."""

    def send() -> None:
        if countdown and countdown > 0:
            func.apply_async(args=args, countdown=min(countdown, MAX_COUNTDOWN_SECONDS))
        else:
            func.delay(*args)

    transaction.on_commit(send)


def notify(event: str, request: Any, text: str = "") -> None:
    """Tell the notification endpoints (inside the caller's transaction; delivery happens after commit)."""
    from notifications.services import notify as record_notifications

    record_notifications(event=event, request=request, text=text)
