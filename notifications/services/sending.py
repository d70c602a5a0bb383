"""Sending a delivery: one attempt at a time (webhook POST or e-mail), its outcome in words, retries with backoff."""

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
from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone

from clusters.crypto import SecretUnreadable
from core import dispatch
from core.urlguard import forbidden_address_reason
from notifications.models import DeliveryStatus, EndpointKind, NotificationDelivery, NotificationEndpoint

logger = logging.getLogger(__name__)


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
DELIVER = "notifications.tasks.deliver"  # the task that sends one delivery (by name: see core.dispatch)


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
        try:
            dispatch.send(DELIVER, delivery.pk, countdown=delay)
        except Exception:
            logger.exception("could not enqueue the retry of delivery %s; the tick will", delivery.pk)
    return str(outcome)


def deliveries_due(now: Any = None) -> int:
    """Enqueue pending deliveries whose next attempt is due (lost messages, waits too long for a countdown).
    Called by the tick; a failure is logged and never stops the tick's eviction work."""
    try:
        due = list(
            NotificationDelivery.objects.filter(
                status=DeliveryStatus.PENDING, next_attempt_at__lte=now or timezone.now()
            )
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:500]
        )
        for delivery_id in due:
            dispatch.send(DELIVER, delivery_id)
    except Exception:
        logger.exception("could not enqueue due notification deliveries; the next tick tries again")
        return 0
    return len(due)
