"""Helpers shared by the eviction services: authorisation, the cluster endpoint, enqueueing after commit."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from accounts.permissions import require_perm
from audit.services import Actor, System
from clusters import kube
from clusters.models import Cluster
from core import dispatch
from evictions.models import EvictionRequest
from evictions.signals import request_event

WORKER = System("worker")
TICK = System("tick")


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


def after_commit(task: str, *args: Any, countdown: float | None = None) -> None:
    """Enqueue the eviction task of that name (`attempt_pod` is evictions.tasks.attempt_pod) once the transaction
    that made its row commits: never before the row exists. By name, through core.dispatch: the services never
    import the tasks module, which imports them."""
    dispatch.send_on_commit(f"evictions.tasks.{task}", *args, countdown=countdown)


def notify(event: str, request: Any, text: str = "") -> None:
    """Announce what happened to a request (evictions.signals.request_event), inside the caller's transaction: a
    receiver records its deliveries with the change and sends them after commit."""
    request_event.send(sender=EvictionRequest, event=event, request=request, text=text)
