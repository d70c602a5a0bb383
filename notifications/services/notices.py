"""Who is told about which event of an eviction request, and what they are sent: deliveries are recorded in the
caller's transaction and enqueued after its commit."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core import dispatch
from notifications.events import EVENT_VALUES, Event
from notifications.models import NotificationDelivery, NotificationEndpoint
from notifications.services.sending import DELIVER

logger = logging.getLogger(__name__)


# --- what is said ---------------------------------------------------------------------------------------------


def request_url(request_id: int) -> str:
    return f"{settings.DRAINBOARD_BASE_URL}/requests/{request_id}/"


def _subject(request: Any) -> str:
    """'Drain of node-2 on prod-eu (#12)' or 'Eviction of web/web-1 on prod-eu (#12)'."""
    cluster = request.cluster.name
    if request.kind == "drain":
        what = f"Drain of {request.node}"
    else:
        targets = request.targets or []
        if len(targets) == 1 and isinstance(targets[0], dict) and targets[0].get("name"):
            what = f"Eviction of {targets[0].get('namespace', '')}/{targets[0]['name']}"
        elif len(targets) == 1 and isinstance(targets[0], dict) and targets[0].get("selector"):
            what = f"Eviction of pods matching {targets[0]['selector']} in {targets[0].get('namespace', '')}"
        else:
            what = f"Eviction of {len(targets)} pod targets"
    return f"{what} on {cluster} (#{request.pk})"


def _headline(event: str, request: Any, text: str) -> str:
    requester = request.requester.get_username()
    reason = " ".join((request.reason or "").split())
    status_reason = " ".join((getattr(request, "status_reason", "") or "").split())
    subject = _subject(request)
    if event == Event.APPROVAL_REQUESTED:
        line = f"{subject} needs approval — requested by {requester}: {text or reason}"
    elif event == Event.APPROVED:
        line = f"{subject} was approved" + (f": {text}" if text else "")
    elif event == Event.REJECTED:
        line = f"{subject} was rejected" + (f": {text or status_reason}" if text or status_reason else "")
    elif event == Event.STARTED:
        line = f"{subject} started" + (f": {text}" if text else f" — requested by {requester}: {reason}")
    elif event == Event.BLOCKED:
        line = f"{subject} is blocked: {text or 'a pod has waited on a disruption budget too long'}"
    elif event == Event.NEEDS_INTERVENTION:
        line = f"{subject} needs intervention: {text or status_reason or 'see the request page'}"
    elif event == Event.FINISHED:
        label = request.get_status_display().lower() if hasattr(request, "get_status_display") else request.status
        line = f"{subject} finished: {label}" + (f" — {text}" if text else "")
    else:
        line = f"{subject}: {text or event}"
    return " ".join(line.split())[:1000]


def build_payload(*, event: str, request: Any, text: str = "") -> dict[str, Any]:
    """Slack-compatible JSON ({"text": …}) plus a "drainboard" object for machines. Never holds an endpoint URL.
    A finished request's object also counts its `exceptions` (pods a person skipped or deleted directly)."""
    payload: dict[str, Any] = {
        "text": _headline(event, request, " ".join((text or "").split())),
        "drainboard": {
            "event": event,
            "request_id": request.pk,
            "cluster": request.cluster.name,
            "status": request.status,
            "kind": request.kind,
            "node": request.node,
            "requester": request.requester.get_username(),
            "reason": request.reason,
            "url": request_url(request.pk),
        },
    }
    if event == Event.FINISHED:
        from evictions.selectors import request_exceptions

        payload["drainboard"]["exceptions"] = request_exceptions(request).as_json()
    return payload


# --- creating deliveries --------------------------------------------------------------------------------------


def _endpoints_for(cluster_id: int, event: str) -> list[NotificationEndpoint]:
    """Enabled endpoints for this cluster (or all clusters) that want this event: one query, secrets not loaded."""
    candidates = (
        NotificationEndpoint.objects.filter(Q(cluster_id=cluster_id) | Q(cluster__isnull=True), enabled=True)
        .only("pk", "events", "blocked_after_minutes")
        .order_by("pk")
    )
    # Filtered here rather than with a JSON lookup: the same on SQLite and PostgreSQL, and the list is short.
    return [endpoint for endpoint in candidates if event in (endpoint.events or [])]


def _enqueue(delivery_ids: list[int]) -> None:
    # robust: a broker that is down must not fail the eviction's commit; the tick sends what is due later.
    for delivery_id in delivery_ids:
        dispatch.send_on_commit(DELIVER, delivery_id, robust=True)


def notify(*, event: str, request: Any, text: str = "") -> int:
    """Record one delivery per enabled endpoint that wants this event for this request's cluster; send after commit.

    Call it inside the transaction that changed the request's status, right after the change. `text` is an
    optional detail added to the line (e.g. which pod needs intervention and why). Never raises for endpoint
    problems: a notification must never stop an eviction. Returns the number of deliveries created.
    """
    if event not in EVENT_VALUES:
        logger.error("notify called with unknown event %r", event)
        return 0
    try:
        with transaction.atomic():  # a savepoint: a failure here never breaks the caller's transaction
            endpoints = _endpoints_for(request.cluster_id, event)
            if not endpoints:
                return 0
            payload = build_payload(event=event, request=request, text=text)
            now = timezone.now()
            created = NotificationDelivery.objects.bulk_create(
                [
                    NotificationDelivery(
                        endpoint=endpoint, event=event, request=request, payload=payload, next_attempt_at=now
                    )
                    for endpoint in endpoints
                ]
            )
            _enqueue([delivery.pk for delivery in created])
            return len(created)
    except Exception:
        logger.exception("could not record %s notifications for request %s", event, getattr(request, "pk", None))
        return 0


# --- pods blocked too long ------------------------------------------------------------------------------------

BLOCKED_DEDUPE_KEY = "blocked"


def _minutes(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


def notify_long_blocks(now: Any = None) -> int:
    """Tell each endpoint that wants `blocked`, once per request, about a running request with a pod blocked for
    longer than the endpoint's blocked_after_minutes. Called by the tick; repeats are no-ops. Returns how many
    deliveries it created; a failure here is logged and never stops the tick's eviction work."""
    try:
        return _notify_long_blocks(now or timezone.now())
    except Exception:
        logger.exception("notify_long_blocks failed; the next tick tries again")
        return 0


def _notify_long_blocks(now: Any) -> int:
    from evictions.models import POD_BUDGET_FIELDS, EvictionRequest, PodEviction, PodStatus, RequestStatus

    endpoints = [
        endpoint
        for endpoint in NotificationEndpoint.objects.filter(enabled=True).only(
            "pk", "cluster_id", "events", "blocked_after_minutes"
        )
        if Event.BLOCKED in (endpoint.events or [])
    ]
    if not endpoints:
        return 0
    earliest_cutoff = now - timedelta(minutes=min(endpoint.blocked_after_minutes for endpoint in endpoints))
    oldest_blocked = {
        pod.request_id: pod
        for pod in PodEviction.objects.filter(
            status=PodStatus.BLOCKED,
            blocked_since__lte=earliest_cutoff,
            request__status__in=[RequestStatus.RUNNING, RequestStatus.NEEDS_INTERVENTION],
        )
        .only(
            "pk",
            "request_id",
            "namespace",
            "name",
            "blocked_since",
            *POD_BUDGET_FIELDS,
        )
        .order_by("-blocked_since", "-pk")  # the dict keeps the last, i.e. the longest blocked pod per request
    }
    if not oldest_blocked:
        return 0
    requests = {
        request.pk: request
        for request in EvictionRequest.objects.filter(pk__in=oldest_blocked).select_related("cluster", "requester")
    }
    already = set(
        NotificationDelivery.objects.filter(
            request_id__in=requests, event=Event.BLOCKED, dedupe_key=BLOCKED_DEDUPE_KEY
        ).values_list("endpoint_id", "request_id")
    )
    created_ids: list[int] = []
    with transaction.atomic():
        for request_id, request in sorted(requests.items()):
            pod = oldest_blocked[request_id]
            waited = (now - pod.blocked_since).total_seconds()
            budget = f" by its budget: {pod.budget_words}" if pod.blocking_pdb else ""
            payload = build_payload(
                event=Event.BLOCKED,
                request=request,
                text=f"{pod.namespace}/{pod.name} has been blocked for {_minutes(waited)}{budget}",
            )
            for endpoint in endpoints:
                if endpoint.cluster_id not in (None, request.cluster_id) or (endpoint.pk, request_id) in already:
                    continue
                if waited < endpoint.blocked_after_minutes * 60:
                    continue
                try:
                    with transaction.atomic():  # the unique constraint settles a race with another tick
                        delivery, created = NotificationDelivery.objects.get_or_create(
                            endpoint_id=endpoint.pk,
                            request_id=request_id,
                            event=Event.BLOCKED,
                            dedupe_key=BLOCKED_DEDUPE_KEY,
                            defaults={"payload": payload, "next_attempt_at": now},
                        )
                except IntegrityError:
                    continue
                if created:
                    created_ids.append(delivery.pk)
        if created_ids:
            _enqueue(created_ids)
    return len(created_ids)
