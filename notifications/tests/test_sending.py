"""Sending: a real HTTP receiver on 127.0.0.1; retries with backoff, failure after five attempts, errors in
words (never the URL, never a traceback), no redirects, e-mail, the tick's re-enqueueing, a real worker."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from notifications import services
from notifications.models import DeliveryStatus, NotificationDelivery
from notifications.services import sending
from notifications.tests.helpers import make_email, make_request, make_webhook
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_row(rita):
    return make_request(ClusterFactory(name="prod-eu"), rita)


@pytest.fixture
def enqueued(monkeypatch):
    """Record what would be enqueued instead of sending it to the broker."""
    calls: list[tuple[int, float | None]] = []

    def send(name, delivery_id, countdown=None):
        assert name == "notifications.tasks.deliver"
        calls.append((delivery_id, countdown))

    monkeypatch.setattr("core.dispatch.send", send)
    return calls


def _delivery(url: str, request, event: str = "approved") -> NotificationDelivery:
    make_webhook(url, events=[event])
    services.notify(event=event, request=request)
    return NotificationDelivery.objects.get()


def _make_due(delivery: NotificationDelivery) -> None:
    NotificationDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_a_delivery_posts_the_payload_as_json_and_is_marked_sent(webhook, request_row, enqueued):
    delivery = _delivery(webhook.url, request_row)

    assert services.delivery_send(delivery_id=delivery.pk) == "sent"

    [received] = webhook.received
    assert received.method == "POST" and received.path == f"/hooks/{webhook.secret}"
    assert received.headers["Content-Type"] == "application/json"
    assert received.json == delivery.payload
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == ("sent", 1, 200, "")
    assert delivery.sent_at is not None and delivery.next_attempt_at is None


def test_sending_twice_sends_once(webhook, request_row, enqueued):
    delivery = _delivery(webhook.url, request_row)
    assert services.delivery_send(delivery_id=delivery.pk) == "sent"
    assert services.delivery_send(delivery_id=delivery.pk) == "not_due"
    assert len(webhook.received) == 1


def test_a_failing_endpoint_is_retried_with_backoff_then_failed_after_five_attempts(
    webhook, request_row, enqueued, caplog
):
    caplog.set_level(logging.DEBUG)
    webhook.respond_with(500, times=5)
    delivery = _delivery(webhook.url, request_row)
    waits = []
    for attempt in range(1, 6):
        before = timezone.now()
        status = services.delivery_send(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        assert delivery.attempts == attempt
        assert (delivery.last_status_code, delivery.last_error) == (500, "HTTP 500")
        if attempt < 5:
            assert status == "pending"
            waits.append(round((delivery.next_attempt_at - before).total_seconds()))
            # Not due yet: a duplicate message does nothing.
            assert services.delivery_send(delivery_id=delivery.pk) == "not_due"
            _make_due(delivery)
    assert status == "failed"
    assert delivery.status == DeliveryStatus.FAILED and delivery.next_attempt_at is None
    assert waits == [10, 30, 120, 600]
    assert len(webhook.received) == 5
    # Short waits are a Celery countdown; longer ones are left to the tick (countdowns stay under the broker's
    # visibility timeout).
    assert [countdown for _, countdown in enqueued if countdown is not None] == [10, 30]
    assert webhook.url not in caplog.text and webhook.secret not in caplog.text
    assert "attempt 5: HTTP 500" in caplog.text


def test_a_delivery_that_succeeds_on_the_second_attempt(webhook, request_row, enqueued):
    webhook.respond_with(503)
    delivery = _delivery(webhook.url, request_row)
    assert services.delivery_send(delivery_id=delivery.pk) == "pending"
    _make_due(delivery)
    assert services.delivery_send(delivery_id=delivery.pk) == "sent"
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (2, 200, "")


def test_a_refused_connection_is_recorded_in_words(request_row, enqueued, caplog):
    from tests.webhook import WebhookReceiver

    caplog.set_level(logging.DEBUG)
    url = WebhookReceiver.refused_url()
    delivery = _delivery(url, request_row)
    services.delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.last_error == "connection refused"
    assert delivery.last_status_code is None and delivery.status == "pending"
    assert "nobody-listens" not in caplog.text and "Traceback" not in caplog.text


def test_a_slow_endpoint_times_out_in_words(webhook, request_row, enqueued, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(sending, "WEBHOOK_TIMEOUT_SECONDS", 0.3)
    webhook.respond_with(200, delay=1.5)
    delivery = _delivery(webhook.url, request_row)
    services.delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.last_error == "timed out waiting for an answer"
    assert delivery.status == "pending" and delivery.attempts == 1
    assert webhook.secret not in caplog.text and "Traceback" not in caplog.text


def test_redirects_are_not_followed(webhook, request_row, enqueued):
    webhook.respond_with(302, headers={"Location": "http://127.0.0.1:1/elsewhere"})
    delivery = _delivery(webhook.url, request_row)
    services.delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.last_error == "HTTP 302 (redirects are not followed)"
    assert len(webhook.received) == 1


def test_a_host_resolving_to_a_forbidden_address_is_refused_before_connecting(request_row, enqueued, monkeypatch):
    import socket

    monkeypatch.setattr(
        socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80))]
    )
    delivery = _delivery("http://metadata-alias.example.com/hook", request_row)
    services.delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert "forbidden address" in delivery.last_error
    assert "metadata-alias" not in delivery.last_error


def test_a_disabled_endpoint_fails_its_pending_deliveries(webhook, request_row, enqueued):
    delivery = _delivery(webhook.url, request_row)
    delivery.endpoint.enabled = False
    delivery.endpoint.save()
    assert services.delivery_send(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.last_error == "the endpoint was disabled before sending"
    assert webhook.received == []


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
        (TimeoutError("timed out http://secret.example/x"), "timed out waiting for an answer"),
        (ConnectionResetError(104, "reset"), "connection reset"),
        (ValueError("http://secret.example/x is odd"), "request failed (ValueError)"),
    ],
)
def test_errors_in_words_never_repeat_the_exception_text(error, words):
    assert services.error_in_words(error) == words


def test_an_email_endpoint_sends_one_mail_to_all_its_addresses(request_row, enqueued):
    make_email("ops@example.com, sre@example.com", events=["approved"])
    services.notify(event="approved", request=request_row)
    delivery = NotificationDelivery.objects.get()

    assert services.delivery_send(delivery_id=delivery.pk) == "sent"

    [message] = mail.outbox
    assert message.to == ["ops@example.com", "sre@example.com"]
    assert message.subject == f"[Drainboard] {delivery.payload['text']}"
    assert delivery.payload["drainboard"]["url"] in message.body


def test_a_mail_server_that_refuses_is_retried(request_row, enqueued, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    make_email("ops@example.com", events=["approved"])
    services.notify(event="approved", request=request_row)
    delivery = NotificationDelivery.objects.get()
    assert services.delivery_send(delivery_id=delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert delivery.last_error == "mail server: connection refused"


def test_the_tick_re_enqueues_due_deliveries_only(webhook, request_row, enqueued):
    due = _delivery(webhook.url, request_row)
    _make_due(due)
    later = NotificationDelivery.objects.create(
        endpoint=due.endpoint, event="started", next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    NotificationDelivery.objects.create(endpoint=due.endpoint, event="finished", status="sent")
    enqueued.clear()
    assert services.deliveries_due() == 1
    assert enqueued == [(due.pk, None)]
    assert services.deliveries_due(now=timezone.now() + timedelta(minutes=6)) == 2
    assert later.pk in [pk for pk, _ in enqueued]


def test_a_claimed_delivery_whose_worker_died_is_due_again_after_the_claim(webhook, request_row, enqueued):
    delivery = _delivery(webhook.url, request_row)
    assert sending._claim(delivery.pk, timezone.now())
    assert services.delivery_send(delivery_id=delivery.pk) == "not_due"
    assert services.deliveries_due(now=timezone.now() + timedelta(seconds=sending.CLAIM_SECONDS + 1)) == 1


# ---- a real worker ------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_a_real_worker_delivers_on_the_notify_queue(webhook):
    from django.db import transaction

    from tests.factories import UserFactory
    from tests.worker import celery_worker, wait_until

    rita = UserFactory(username="rita", roles=["requester"])
    request = make_request(ClusterFactory(name="prod-eu"), rita, status="awaiting_approval")
    make_webhook(webhook.url, events=["approval_requested"])
    with celery_worker() as worker:
        with transaction.atomic():
            assert services.notify(event="approval_requested", request=request) == 1
        [body] = webhook.wait_for(1, timeout=60)
        delivery = NotificationDelivery.objects.get()
        wait_until(lambda: NotificationDelivery.objects.get().status == "sent", message="the delivery to be sent")
        log = "".join(worker.output_lines)
    assert body == delivery.payload
    assert body["drainboard"]["request_id"] == request.pk
    assert "notifications.tasks.deliver" in log
    assert webhook.secret not in log


def test_a_webhook_on_localhost_is_allowed(webhook, request_row, enqueued):
    delivery = _delivery(webhook.url.replace("127.0.0.1", "localhost"), request_row)
    assert services.delivery_send(delivery_id=delivery.pk) == "sent"
    assert len(webhook.received) == 1


def test_a_url_that_cannot_be_decrypted_is_a_failure_in_words(webhook, request_row, enqueued, settings):
    from cryptography.fernet import Fernet

    delivery = _delivery(webhook.url, request_row)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    assert services.delivery_send(delivery_id=delivery.pk) == "pending"
    delivery.refresh_from_db()
    assert delivery.last_error == "the stored URL cannot be decrypted with FIELD_ENCRYPTION_KEYS"
    assert webhook.received == []
