"""Notifications: who is told about which event of an eviction request, and sending it (webhook or e-mail)."""

from __future__ import annotations

import ipaddress
import logging
import smtplib
import socket
import ssl
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.permissions import require_perm
from audit.services import Actor, System, audit_record
from clusters.crypto import SecretUnreadable
from clusters.models import Cluster
from clusters.validation import forbidden_address_reason
from notifications import validation
from notifications.events import EVENT_VALUES, Event
from notifications.models import DeliveryStatus, EndpointKind, NotificationDelivery, NotificationEndpoint

logger = logging.getLogger(__name__)


class Unchanged:
    """Marks an argument that was not given (for a field where None means something: cluster None = all)."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = Unchanged()


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
    """Slack-compatible JSON ({"text": …}) plus a "drainboard" object for machines. Never holds an endpoint URL."""
    return {
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
    def send() -> None:
        from notifications.tasks import deliver

        for delivery_id in delivery_ids:
            deliver.delay(delivery_id)

    # robust: a broker that is down must not fail the eviction's commit; the tick sends what is due later.
    transaction.on_commit(send, robust=True)


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


# --- sending --------------------------------------------------------------------------------------------------

WEBHOOK_TIMEOUT_SECONDS = 5
# Wait after failed attempt 1, 2, 3, 4; the fifth failure is final.
RETRY_DELAYS_SECONDS = (10, 30, 120, 600)
MAX_ATTEMPTS = len(RETRY_DELAYS_SECONDS) + 1
# A claimed delivery is not due again for this long (longer than the task's hard time limit): a worker that dies
# mid-send leaves it to the tick, and a duplicate message finds it taken.
CLAIM_SECONDS = 60
# Celery countdowns stay short (the broker's visibility timeout); longer waits are the tick's job.
MAX_COUNTDOWN_SECONDS = 60


class SendFailed(Exception):
    """A delivery attempt failed; the message is words fit for the delivery log (never the URL)."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


def _walk(error: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (cause, context, urllib3's .reason), outermost first."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [error]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if any(current is known for known in seen):
            continue
        seen.append(current)
        for inner in (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args):
            if isinstance(inner, BaseException):
                todo.append(inner)
    return seen


def error_in_words(error: BaseException) -> str:
    """Reduce a transport exception to a few words: exception texts embed the URL, these words never do."""
    chain = _walk(error)
    names = {type(item).__name__ for item in chain}
    for item in chain:
        if isinstance(item, ConnectionRefusedError):
            return "connection refused"
        if isinstance(item, socket.gaierror) or "NameResolutionError" in names:
            return "host name not found"
        if isinstance(item, ssl.SSLCertVerificationError):
            return "TLS certificate not trusted"
        if isinstance(item, ssl.SSLError):
            return "TLS handshake failed"
    if names & {"ConnectTimeout", "ConnectTimeoutError"}:
        return "timed out connecting"
    if names & {"ReadTimeout", "ReadTimeoutError", "Timeout", "TimeoutError", "timeout", "SoftTimeLimitExceeded"}:
        return "timed out waiting for an answer"
    for item in chain:
        if isinstance(item, ConnectionResetError):
            return "connection reset"
    if names & {"ConnectionError", "NewConnectionError", "ProtocolError", "RemoteDisconnected"}:
        return "connection failed"
    if names & {"TooManyRedirects", "InvalidURL", "InvalidSchema", "MissingSchema", "LocationParseError"}:
        return "the URL cannot be used"
    return f"request failed ({type(error).__name__})"


def _check_host(url: str) -> None:
    """Refuse, before connecting, a host name that resolves to a link-local, metadata or unspecified address."""
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname or "", parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return  # an unresolvable host is reported by the connection attempt itself
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_loopback and forbidden_address_reason(address):
            raise SendFailed("the host resolves to a forbidden address (link-local, metadata or unspecified)")


def _post_webhook(url: str, payload: dict[str, Any]) -> int:
    """POST the JSON, no redirects followed; return the 2xx status or raise SendFailed in words."""
    _check_host(url)
    try:
        response = requests.post(
            url,
            json=payload,
            timeout=WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
            headers={"User-Agent": "Drainboard notifications"},
        )
        response.close()
    except requests.RequestException as error:
        raise SendFailed(error_in_words(error)) from None
    except Exception as error:  # noqa: BLE001 - any exception text may hold the URL: words only, no traceback
        raise SendFailed(error_in_words(error)) from None
    if 200 <= response.status_code < 300:
        return response.status_code
    if 300 <= response.status_code < 400:
        raise SendFailed(f"HTTP {response.status_code} (redirects are not followed)", response.status_code)
    raise SendFailed(f"HTTP {response.status_code}", response.status_code)


def _send_email(addresses: list[str], payload: dict[str, Any]) -> None:
    text = str(payload.get("text", ""))
    link = str(payload.get("drainboard", {}).get("url", ""))
    subject = text if len(text) <= 150 else text[:149] + "…"
    try:
        send_mail(f"[Drainboard] {subject}", f"{text}\n\n{link}\n", None, addresses, fail_silently=False)
    except smtplib.SMTPRecipientsRefused:
        raise SendFailed("the mail server refused the recipients") from None
    except smtplib.SMTPAuthenticationError:
        raise SendFailed("the mail server refused the login") from None
    except smtplib.SMTPException as error:
        raise SendFailed(f"mail server error ({type(error).__name__})") from None
    except OSError as error:
        raise SendFailed(f"mail server: {error_in_words(error)}") from None


def _claim(delivery_id: int, now: Any) -> bool:
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    claimed_until = now + timedelta(seconds=CLAIM_SECONDS)
    return bool(
        NotificationDelivery.objects.filter(due, pk=delivery_id, status=DeliveryStatus.PENDING).update(
            next_attempt_at=claimed_until
        )
    )


def delivery_send(*, delivery_id: int) -> str:
    """Make one attempt at a due, pending delivery; record the outcome and schedule the retry. Returns the status.

    Safe to run twice: the attempt is claimed with a compare-and-swap, so a duplicate message does nothing.
    """
    now = timezone.now()
    if not _claim(delivery_id, now):
        return "not_due"
    # The URL is read on its own below, so an undecryptable one is a recorded failure rather than a crash.
    delivery = NotificationDelivery.objects.select_related("endpoint").defer("endpoint__url_secret").get(pk=delivery_id)
    endpoint = delivery.endpoint
    status_code: int | None = None
    try:
        if not endpoint.enabled:
            raise SendFailed("the endpoint was disabled before sending")
        if endpoint.kind == EndpointKind.WEBHOOK:
            try:
                url = NotificationEndpoint.objects.values_list("url_secret", flat=True).get(pk=endpoint.pk)
            except SecretUnreadable:
                raise SendFailed("the stored URL cannot be decrypted with FIELD_ENCRYPTION_KEYS") from None
            if not url:
                raise SendFailed("the endpoint has no URL")
            status_code = _post_webhook(url, delivery.payload)
        else:
            addresses = endpoint.email_list
            if not addresses:
                raise SendFailed("the endpoint has no e-mail addresses")
            _send_email(addresses, delivery.payload)
        error = ""
    except SendFailed as failure:
        error, status_code = failure.message, failure.status_code
    return _record_attempt(delivery, status_code=status_code, error=error)


def _record_attempt(delivery: NotificationDelivery, *, status_code: int | None, error: str) -> str:
    now = timezone.now()
    attempts = delivery.attempts + 1
    fields: dict[str, Any] = {"attempts": attempts, "last_status_code": status_code, "last_error": error[:500]}
    if not error:
        fields.update(status=DeliveryStatus.SENT, sent_at=now, next_attempt_at=None)
        delay = None
    elif attempts >= MAX_ATTEMPTS or not delivery.endpoint.enabled:
        fields.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
        delay = None
    else:
        delay = RETRY_DELAYS_SECONDS[attempts - 1]
        fields.update(next_attempt_at=now + timedelta(seconds=delay))
    NotificationDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(**fields)
    outcome = fields.get("status", DeliveryStatus.PENDING)
    logger.info(
        "notification delivery %s (%s, endpoint %s) attempt %s: %s",
        delivery.pk,
        delivery.event,
        delivery.endpoint_id,
        attempts,
        error or "sent",
    )
    if delay is not None and delay <= MAX_COUNTDOWN_SECONDS:
        from notifications.tasks import deliver

        try:
            deliver.apply_async(args=(delivery.pk,), countdown=delay)
        except Exception:
            logger.exception("could not enqueue the retry of delivery %s; the tick will", delivery.pk)
    return str(outcome)


def deliveries_due(now: Any = None) -> int:
    """Enqueue pending deliveries whose next attempt is due (lost messages, waits too long for a countdown).
    Called by the tick; a failure is logged and never stops the tick's eviction work."""
    from notifications.tasks import deliver

    try:
        due = list(
            NotificationDelivery.objects.filter(
                status=DeliveryStatus.PENDING, next_attempt_at__lte=now or timezone.now()
            )
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:500]
        )
        for delivery_id in due:
            deliver.delay(delivery_id)
    except Exception:
        logger.exception("could not enqueue due notification deliveries; the next tick tries again")
        return 0
    return len(due)


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
    from evictions.models import EvictionRequest, PodEviction, PodStatus, RequestStatus

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
        .only("pk", "request_id", "namespace", "name", "blocked_since", "blocking_pdb", "budget_needs", "budget_has")
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
            budget = f" by budget {pod.blocking_pdb}" if pod.blocking_pdb else ""
            numbers = (
                f" (needs {pod.budget_needs} healthy pods, has {pod.budget_has})"
                if pod.budget_needs is not None and pod.budget_has is not None
                else ""
            )
            payload = build_payload(
                event=Event.BLOCKED,
                request=request,
                text=f"{pod.namespace}/{pod.name} has been blocked{budget} for {_minutes(waited)}{numbers}",
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


# --- managing endpoints ---------------------------------------------------------------------------------------

ADD = "notifications.add_notificationendpoint"
CHANGE = "notifications.change_notificationendpoint"
DELETE = "notifications.delete_notificationendpoint"


def _authorize(actor: Actor, perm: str) -> None:
    if not isinstance(actor, System):
        require_perm(actor, perm)


def _collect(errors: dict[str, list[str]], field: str, func: Any, *args: Any) -> Any:
    try:
        return func(*args)
    except ValidationError as error:
        errors.setdefault(field, []).extend(error.messages)
        return None


def _shown(endpoint: NotificationEndpoint) -> dict[str, Any]:
    """What the audit log says about an endpoint: everything but the URL, which it only says exists."""
    return {
        "name": endpoint.name,
        "kind": endpoint.kind,
        "cluster": endpoint.cluster.name if endpoint.cluster_id and endpoint.cluster else "all clusters",
        "events": list(endpoint.events),
        "blocked_after_minutes": endpoint.blocked_after_minutes,
        "enabled": endpoint.enabled,
        "emails": endpoint.emails,
        "url": "set" if endpoint.url_secret else "none",
    }


def endpoint_create(
    *,
    actor: Actor,
    name: str,
    kind: str,
    events: list[str],
    cluster: Cluster | None = None,
    url: str = "",
    emails: str = "",
    blocked_after_minutes: int = 10,
    enabled: bool = True,
) -> NotificationEndpoint:
    _authorize(actor, ADD)
    errors: dict[str, list[str]] = {}
    clean_name = _collect(errors, "name", validation.validate_name, name)
    clean_events = _collect(errors, "events", validation.validate_events, events)
    clean_minutes = _collect(errors, "blocked_after_minutes", validation.validate_blocked_after, blocked_after_minutes)
    clean_url, clean_emails = "", ""
    if kind == EndpointKind.WEBHOOK:
        clean_url = _collect(errors, "url", validation.validate_webhook_url, url)
        if (emails or "").strip():
            errors.setdefault("emails", []).append("Only e-mail endpoints have addresses.")
    elif kind == EndpointKind.EMAIL:
        clean_emails = _collect(errors, "emails", validation.validate_emails, emails)
        if (url or "").strip():
            errors.setdefault("url", []).append("Only webhook endpoints have a URL.")
    else:
        errors.setdefault("kind", []).append("Choose webhook or email.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        endpoint = NotificationEndpoint.objects.create(
            name=clean_name,
            kind=kind,
            cluster=cluster,
            url_secret=clean_url or "",
            emails=clean_emails or "",
            events=clean_events,
            blocked_after_minutes=clean_minutes,
            enabled=bool(enabled),
            created_by=actor if isinstance(actor, get_user_model()) else None,
        )
        audit_record(
            actor=actor,
            action="notification_endpoint.create",
            target=endpoint,
            cluster=cluster,
            details=_shown(endpoint),
        )
    return endpoint


def endpoint_update(
    *,
    actor: Actor,
    endpoint: NotificationEndpoint,
    name: str | None = None,
    kind: str | None = None,
    events: list[str] | None = None,
    cluster: Cluster | Unchanged | None = UNCHANGED,
    url: str | None = None,
    emails: str | None = None,
    blocked_after_minutes: int | None = None,
    enabled: bool | None = None,
) -> NotificationEndpoint:
    """Change what was given (None, or UNCHANGED for cluster, keeps a value); a blank URL keeps the stored one."""
    _authorize(actor, CHANGE)
    errors: dict[str, list[str]] = {}
    changes: dict[str, Any] = {}
    if name is not None and name != endpoint.name:
        changes["name"] = _collect(errors, "name", validation.validate_name, name)
    if events is not None:
        clean_events = _collect(errors, "events", validation.validate_events, events)
        if clean_events != endpoint.events:
            changes["events"] = clean_events
    if blocked_after_minutes is not None and blocked_after_minutes != endpoint.blocked_after_minutes:
        changes["blocked_after_minutes"] = _collect(
            errors, "blocked_after_minutes", validation.validate_blocked_after, blocked_after_minutes
        )
    if enabled is not None and bool(enabled) != endpoint.enabled:
        changes["enabled"] = bool(enabled)
    if not isinstance(cluster, Unchanged) and (cluster.pk if cluster else None) != endpoint.cluster_id:
        changes["cluster"] = cluster
    new_kind = kind if kind is not None else endpoint.kind
    if new_kind not in EndpointKind.values:
        errors.setdefault("kind", []).append("Choose webhook or email.")
    elif new_kind != endpoint.kind:
        changes["kind"] = new_kind
    if new_kind == EndpointKind.WEBHOOK:
        if url and url.strip():
            clean_url = _collect(errors, "url", validation.validate_webhook_url, url)
            if clean_url != endpoint.url_secret:
                changes["url_secret"] = clean_url
        elif not endpoint.url_secret or endpoint.kind != EndpointKind.WEBHOOK:
            errors.setdefault("url", []).append("Enter the webhook URL.")
        if emails and emails.strip():
            errors.setdefault("emails", []).append("Only e-mail endpoints have addresses.")
        elif endpoint.emails:
            changes["emails"] = ""
    elif new_kind == EndpointKind.EMAIL:
        if emails is not None or endpoint.kind != EndpointKind.EMAIL:
            clean_emails = _collect(errors, "emails", validation.validate_emails, emails)
            if clean_emails != endpoint.emails:
                changes["emails"] = clean_emails
        if url and url.strip():
            errors.setdefault("url", []).append("Only webhook endpoints have a URL.")
        elif endpoint.url_secret:
            changes["url_secret"] = ""
    if errors:
        raise ValidationError(errors)
    if not changes:
        return endpoint
    with transaction.atomic():
        locked = NotificationEndpoint.objects.select_for_update().select_related("cluster").get(pk=endpoint.pk)
        for field, value in changes.items():
            setattr(locked, field, value)
        locked.save()
        shown = {field: value for field, value in changes.items() if field not in {"url_secret", "cluster"}}
        if "cluster" in changes:
            shown["cluster"] = changes["cluster"].name if changes["cluster"] else "all clusters"
        if "url_secret" in changes:
            shown["url"] = "changed" if changes["url_secret"] else "removed"
        audit_record(
            actor=actor,
            action="notification_endpoint.update",
            target=locked,
            cluster=locked.cluster,
            details={"name": locked.name, "changes": shown},
        )
    return locked


def endpoint_delete(*, actor: Actor, endpoint: NotificationEndpoint) -> None:
    """Delete the endpoint and its delivery log."""
    _authorize(actor, DELETE)
    with transaction.atomic():
        locked = NotificationEndpoint.objects.select_for_update().select_related("cluster").get(pk=endpoint.pk)
        details = _shown(locked)
        details.pop("url")
        audit_record(
            actor=actor,
            action="notification_endpoint.delete",
            target=locked,
            cluster=locked.cluster,
            details=details,
        )
        locked.delete()
