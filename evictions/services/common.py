"""Helpers shared by the eviction services: authorisation, the cluster endpoint, enqueueing after commit."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.permissions import require_perm
from audit.services import Actor, System
from clusters import kube
from clusters.models import Cluster
from core import dispatch
from evictions.models import (
    Approval,
    EvictionRequest,
    PodEviction,
)
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


def send_now(task: str, *args: Any, countdown: float | None = None) -> None:
    """Send the eviction task of that name now: for callers that hold no transaction (the tick, a follow round)."""
    dispatch.send(f"evictions.tasks.{task}", *args, countdown=countdown)


def notify(event: str, request: Any, text: str = "") -> None:
    """Announce what happened to a request (evictions.signals.request_event), inside the caller's transaction: a
    receiver records its deliveries with the change and sends them after commit."""
    request_event.send(sender=EvictionRequest, event=event, request=request, text=text)


CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Give a reason; it is kept in the audit log."]})
    if len(reason) > 2000 or CONTROL.search(reason):
        raise ValidationError({"reason": ["The reason must be under 2000 characters, without control characters."]})
    return reason


def clean_comment(comment: str, *, required: bool) -> str:
    comment = (comment or "").strip()
    if required and not comment:
        raise ValidationError({"comment": ["Say why: the comment goes to the requester and the audit log."]})
    if len(comment) > 2000 or CONTROL.search(comment):
        raise ValidationError({"comment": ["Keep the comment under 2000 characters, without control characters."]})
    return comment


def cast_vote(
    request: EvictionRequest,
    pod: PodEviction | None,
    actor: Actor,
    requester_id: int,
    decision: str,
    comment: str,
    now: datetime,
    existing: Approval | None,
) -> Approval:
    try:
        with transaction.atomic():
            if existing is not None:
                existing.decision, existing.comment, existing.created_at = decision, comment, now
                existing.save(update_fields=["decision", "comment", "created_at"])
                return existing
            approver_id = int(actor.pk)  # type: ignore[union-attr, arg-type]  # a person: _check_vote made sure
            return Approval.objects.create(
                request=request,
                pod=pod,
                requester_id=requester_id,
                approver_id=approver_id,
                decision=decision,
                comment=comment,
                created_at=now,
            )
    except IntegrityError:  # the database's own guard: self-approval or a second vote
        raise ValidationError(
            {"approval": ["This vote was refused: one vote per person, never on your own."]}
        ) from None
