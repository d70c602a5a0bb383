"""notify(): who is told, what they are sent, in the caller's transaction, never raising; notify_long_blocks;
endpoint create/update/delete with validation, permissions and an audit trail that never holds the URL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import System
from notifications import services
from notifications.events import Event
from notifications.models import DeliveryStatus, EndpointKind, NotificationDelivery, NotificationEndpoint
from notifications.services import notices
from notifications.tests.helpers import make_blocked_pod, make_email, make_request, make_webhook
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db

HOOK = "https://hooks.example.com/services/T000/B000/very-secret-token"


@pytest.fixture
def prod():
    return ClusterFactory(name="prod-eu")


@pytest.fixture
def staging():
    return ClusterFactory(name="staging")


# ---- notify: matching -----------------------------------------------------------------------------------------


def test_notify_reaches_the_clusters_endpoints_and_the_global_ones_that_want_the_event(prod, staging, rita):
    on_prod = make_webhook(HOOK, name="prod", cluster=prod, events=["approval_requested", "finished"])
    everywhere = make_email("ops@example.com", name="all", events=["approval_requested"])
    make_webhook(HOOK, name="staging only", cluster=staging, events=["approval_requested"])
    make_webhook(HOOK, name="other events", cluster=prod, events=["finished"])
    make_webhook(HOOK, name="disabled", events=["approval_requested"], enabled=False)
    request = make_request(prod, rita, status="awaiting_approval")

    assert services.notify(event=Event.APPROVAL_REQUESTED, request=request) == 2

    deliveries = NotificationDelivery.objects.order_by("endpoint__name")
    assert [d.endpoint_id for d in deliveries] == [everywhere.pk, on_prod.pk]
    assert {d.event for d in deliveries} == {"approval_requested"}
    assert {d.status for d in deliveries} == {DeliveryStatus.PENDING}
    assert all(d.request_id == request.pk and d.dedupe_key == "" for d in deliveries)


def test_notify_with_no_matching_endpoint_creates_nothing(prod, rita):
    make_webhook(HOOK, events=["finished"])
    assert services.notify(event="started", request=make_request(prod, rita)) == 0
    assert not NotificationDelivery.objects.exists()


def test_notify_refuses_an_unknown_event_without_raising(prod, rita):
    make_webhook(HOOK, events=list(Event.values))
    assert services.notify(event="exploded", request=make_request(prod, rita)) == 0


def test_the_same_event_twice_is_two_deliveries(prod, rita):
    make_webhook(HOOK, events=["needs_intervention"])
    request = make_request(prod, rita)
    services.notify(event="needs_intervention", request=request)
    services.notify(event="needs_intervention", request=request)
    assert NotificationDelivery.objects.count() == 2


def test_notify_finds_endpoints_in_one_query_and_never_decrypts_a_url(prod, rita, monkeypatch):
    for index in range(5):
        make_webhook(HOOK, name=f"hook {index}", events=["started"])
    request = make_request(prod, rita)

    def boom(token):
        raise AssertionError("notify must not decrypt webhook URLs")

    monkeypatch.setattr("clusters.crypto.decrypt", boom)
    with CaptureQueriesContext(connection) as queries:
        assert services.notify(event="started", request=request) == 5
    endpoint_queries = [q for q in queries.captured_queries if "notificationendpoint" in q["sql"].lower()]
    assert len(endpoint_queries) == 1
    assert len(queries.captured_queries) <= 4  # savepoint, the endpoints, one insert, release


# ---- notify: payload ------------------------------------------------------------------------------------------


def test_the_payload_is_slack_compatible_and_describes_the_request(prod, rita, settings):
    settings.DRAINBOARD_BASE_URL = "https://drainboard.example.com"
    make_webhook(HOOK, events=["approval_requested"])
    request = make_request(prod, rita, status="awaiting_approval")

    services.notify(event="approval_requested", request=request)

    payload = NotificationDelivery.objects.get().payload
    assert payload == {
        "text": f"Drain of node-2 on prod-eu (#{request.pk}) needs approval — requested by rita: kernel upgrade",
        "drainboard": {
            "event": "approval_requested",
            "request_id": request.pk,
            "cluster": "prod-eu",
            "status": "awaiting_approval",
            "kind": "drain",
            "node": "node-2",
            "requester": "rita",
            "reason": "kernel upgrade",
            "url": f"https://drainboard.example.com/requests/{request.pk}/",
        },
    }


@pytest.mark.parametrize(
    ("event", "text", "expected"),
    [
        ("approved", "", "was approved"),
        ("rejected", "not during the sale", "was rejected: not during the sale"),
        ("started", "", "started — requested by rita: kernel upgrade"),
        ("needs_intervention", "shop/web-1: two budgets select it", "needs intervention: shop/web-1: two budgets"),
        ("finished", "", "finished: succeeded"),
    ],
)
def test_each_event_reads_as_one_line(prod, rita, event, text, expected):
    make_webhook(HOOK, events=[event])
    request = make_request(prod, rita, status="succeeded" if event == "finished" else "running")
    services.notify(event=event, request=request, text=text)
    line = NotificationDelivery.objects.get().payload["text"]
    assert line.startswith(f"Drain of node-2 on prod-eu (#{request.pk}) ")
    assert expected in line
    assert "\n" not in line


def test_a_request_done_with_exceptions_is_announced_as_such_with_its_exceptions(prod, rita, olga):
    from evictions.models import PodEviction
    from evictions.services.pods import pod_skip

    make_webhook(HOOK, events=["finished"])
    request = make_request(prod, rita, pods_created_at=timezone.now())
    PodEviction.objects.create(request=request, namespace="shop", name="web-1", uid="1", status="evicted")
    PodEviction.objects.create(request=request, namespace="shop", name="web-2", uid="2", status="deleted")
    stuck = PodEviction.objects.create(request=request, namespace="shop", name="web-3", uid="3", status="blocked")

    pod_skip(actor=olga, pod_id=stuck.pk, reason="its owner restarts it")

    payload = NotificationDelivery.objects.get(event="finished").payload
    assert payload["text"] == (
        f"Drain of node-2 on prod-eu (#{request.pk}) finished: done with exceptions — "
        "1 skipped, 1 deleted directly; 1 pod(s) evicted."
    )
    assert payload["drainboard"]["status"] == "done_with_exceptions"
    assert payload["drainboard"]["exceptions"] == {"skipped": 1, "deleted": 1}


def test_a_pod_request_names_its_pod(prod, rita):
    make_webhook(HOOK, events=["started"])
    request = make_request(prod, rita, kind="pods", node="", targets=[{"namespace": "shop", "name": "web-1"}])
    services.notify(event="started", request=request)
    assert (
        NotificationDelivery.objects.get()
        .payload["text"]
        .startswith(f"Eviction of shop/web-1 on prod-eu (#{request.pk})")
    )


def test_the_payload_never_holds_the_url(prod, rita):
    make_webhook(HOOK, events=list(Event.values))
    request = make_request(prod, rita)
    for event in Event.values:
        services.notify(event=event, request=request)
    for delivery in NotificationDelivery.objects.all():
        assert "very-secret-token" not in str(delivery.payload)


# ---- notify: in the caller's transaction, never raising -------------------------------------------------------


def test_deliveries_are_enqueued_only_after_the_callers_commit(
    prod, rita, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr("core.dispatch.send", lambda name, delivery_id, countdown=None: sent.append(delivery_id))
    make_webhook(HOOK, events=["approved"])
    request = make_request(prod, rita)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            services.notify(event="approved", request=request)
            assert sent == []
    assert len(callbacks) == 1
    assert sent == [NotificationDelivery.objects.get().pk]


def test_rolled_back_status_change_sends_nothing(prod, rita, django_capture_on_commit_callbacks):
    make_webhook(HOOK, events=["approved"])
    request = make_request(prod, rita)
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                services.notify(event="approved", request=request)
                raise RuntimeError("the approval failed")
    assert callbacks == []
    assert not NotificationDelivery.objects.exists()


def test_a_broken_notification_never_breaks_the_callers_transaction(prod, rita, monkeypatch, caplog):
    make_webhook(HOOK, events=["approved"])
    request = make_request(prod, rita)

    def broken(**kwargs):
        raise RuntimeError("payload bug")

    monkeypatch.setattr(notices, "build_payload", broken)
    with transaction.atomic():
        assert services.notify(event="approved", request=request) == 0
        request.status_reason = "still writable"
        request.save(update_fields=["status_reason"])  # the transaction is still usable
    request.refresh_from_db()
    assert request.status_reason == "still writable"
    assert "could not record approved notifications" in caplog.text


def test_a_broker_that_is_down_does_not_fail_the_commit(prod, rita, monkeypatch, django_capture_on_commit_callbacks):
    def down(name, delivery_id, countdown=None):
        raise ConnectionError("broker down")

    monkeypatch.setattr("core.dispatch.send", down)
    make_webhook(HOOK, events=["approved"])
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            services.notify(event="approved", request=make_request(prod, rita))
    assert NotificationDelivery.objects.get().status == DeliveryStatus.PENDING  # the tick sends it later


# ---- pods blocked too long ------------------------------------------------------------------------------------


def test_a_pod_blocked_past_the_endpoints_minutes_is_notified_once(prod, rita, django_capture_on_commit_callbacks):
    now = timezone.now()
    endpoint = make_webhook(HOOK, events=["blocked"], blocked_after_minutes=10)
    request = make_request(prod, rita)
    make_blocked_pod(request, "web-1", since=now - timedelta(minutes=14))

    with django_capture_on_commit_callbacks() as callbacks:
        assert services.notify_long_blocks(now=now) == 1
    assert len(callbacks) == 1
    delivery = NotificationDelivery.objects.get()
    assert (delivery.endpoint_id, delivery.request_id, delivery.event, delivery.dedupe_key) == (
        endpoint.pk,
        request.pk,
        "blocked",
        "blocked",
    )
    assert delivery.payload["text"] == (
        f"Drain of node-2 on prod-eu (#{request.pk}) is blocked: shop/web-1 has been blocked for 14 min by its "
        "budget: shop/web-pdb allows 0 disruptions: it needs 2 healthy pods and has 2, so evicting one would leave 1"
    )
    # Later ticks, and another blocked pod of the same request, say nothing more.
    make_blocked_pod(request, "web-2", since=now - timedelta(minutes=30))
    assert services.notify_long_blocks(now=now + timedelta(minutes=1)) == 0
    assert services.notify_long_blocks(now=now + timedelta(hours=2)) == 0
    assert NotificationDelivery.objects.count() == 1


def test_each_endpoint_waits_its_own_minutes(prod, rita):
    now = timezone.now()
    quick = make_webhook(HOOK, name="quick", events=["blocked"], blocked_after_minutes=5)
    patient = make_webhook(HOOK, name="patient", events=["blocked"], blocked_after_minutes=30)
    request = make_request(prod, rita)
    make_blocked_pod(request, "web-1", since=now - timedelta(minutes=6))

    assert services.notify_long_blocks(now=now) == 1
    assert NotificationDelivery.objects.get().endpoint_id == quick.pk
    assert services.notify_long_blocks(now=now + timedelta(minutes=25)) == 1
    assert set(NotificationDelivery.objects.values_list("endpoint_id", flat=True)) == {quick.pk, patient.pk}


def test_long_blocks_respect_cluster_scope_events_and_request_status(prod, staging, rita):
    now = timezone.now()
    make_webhook(HOOK, name="staging", cluster=staging, events=["blocked"])
    make_webhook(HOOK, name="no blocked", events=["needs_intervention"])
    make_webhook(HOOK, name="off", events=["blocked"], enabled=False)
    running = make_request(prod, rita)
    make_blocked_pod(running, "web-1", since=now - timedelta(hours=1))
    paused = make_request(prod, rita, status="paused")
    make_blocked_pod(paused, "web-1", since=now - timedelta(hours=1))
    assert services.notify_long_blocks(now=now) == 0

    everywhere = make_webhook(HOOK, name="everywhere", events=["blocked"])
    stuck = make_request(prod, rita, status="needs_intervention")
    make_blocked_pod(stuck, "web-1", since=now - timedelta(hours=1))
    make_blocked_pod(make_request(prod, rita), "fresh", since=now - timedelta(minutes=1))
    assert services.notify_long_blocks(now=now) == 2
    assert set(NotificationDelivery.objects.values_list("endpoint_id", "request_id")) == {
        (everywhere.pk, running.pk),
        (everywhere.pk, stuck.pk),
    }


def test_the_unique_constraint_refuses_a_second_blocked_notice(prod, rita):
    from django.db import IntegrityError

    endpoint = make_webhook(HOOK, events=["blocked"])
    request = make_request(prod, rita)
    NotificationDelivery.objects.create(endpoint=endpoint, request=request, event="blocked", dedupe_key="blocked")
    with pytest.raises(IntegrityError), transaction.atomic():
        NotificationDelivery.objects.create(endpoint=endpoint, request=request, event="blocked", dedupe_key="blocked")
    # Events without a dedupe key repeat freely.
    NotificationDelivery.objects.create(endpoint=endpoint, request=request, event="started")
    NotificationDelivery.objects.create(endpoint=endpoint, request=request, event="started")


def test_long_blocks_never_raise_into_the_tick(monkeypatch, caplog):
    def broken(now):
        raise RuntimeError("bug")

    monkeypatch.setattr(notices, "_notify_long_blocks", broken)
    assert services.notify_long_blocks() == 0
    assert "notify_long_blocks failed" in caplog.text


def test_the_tick_reports_blocked_notices(prod, rita, monkeypatch):
    from notifications import tasks

    make_webhook(HOOK, events=["blocked"], blocked_after_minutes=1)
    make_blocked_pod(make_request(prod, rita), "web-1", since=timezone.now() - timedelta(minutes=5))
    monkeypatch.setattr("core.dispatch.send", lambda *args, **kwargs: None)
    counts = tasks.tick()
    assert counts["blocked_notices"] == 1
    assert tasks.tick()["blocked_notices"] == 0


# ---- endpoints: create, update, delete ------------------------------------------------------------------------


def test_an_admin_creates_a_webhook_and_the_audit_never_holds_the_url(alice, prod):
    endpoint = services.endpoint_create(
        actor=alice, name=" Ops  chat ", kind="webhook", url=f"  {HOOK} ", events=["finished", "started"], cluster=prod
    )
    assert (endpoint.name, endpoint.url_secret, endpoint.events) == ("Ops chat", HOOK, ["started", "finished"])
    assert endpoint.created_by == alice
    event = AuditEvent.objects.get(action="notification_endpoint.create")
    assert event.cluster_name == "prod-eu" and event.actor_name == "alice"
    assert event.details["url"] == "set"
    assert "very-secret-token" not in str(event.details)


def test_the_url_is_encrypted_at_rest(alice):
    endpoint = services.endpoint_create(actor=alice, name="chat", kind="webhook", url=HOOK, events=["finished"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT url_secret FROM notifications_notificationendpoint WHERE id = %s", [endpoint.pk])
        stored = cursor.fetchone()[0]
    assert stored and "very-secret-token" not in stored and "hooks.example.com" not in stored
    assert NotificationEndpoint.objects.get(pk=endpoint.pk).url_secret == HOOK


def test_create_reports_every_problem_by_field(alice):
    with pytest.raises(ValidationError) as caught:
        services.endpoint_create(
            actor=alice, name="", kind="webhook", url="ftp://x", events=["nope"], blocked_after_minutes=0
        )
    errors = caught.value.message_dict
    assert set(errors) == {"name", "url", "events", "blocked_after_minutes"}
    assert "nope" in errors["events"][0]


@pytest.mark.parametrize(
    ("kind", "url", "emails", "field"),
    [
        ("webhook", "", "", "url"),
        ("webhook", HOOK, "ops@example.com", "emails"),
        ("email", "", "", "emails"),
        ("email", "", "ops@example.com, not-an-address", "emails"),
        ("email", HOOK, "ops@example.com", "url"),
        ("pager", "", "", "kind"),
    ],
)
def test_each_kind_needs_its_own_target(alice, kind, url, emails, field):
    with pytest.raises(ValidationError) as caught:
        services.endpoint_create(actor=alice, name="x", kind=kind, url=url, emails=emails, events=["started"])
    assert field in caught.value.message_dict
    assert "very-secret-token" not in str(caught.value)


def test_email_addresses_are_normalised(alice):
    endpoint = services.endpoint_create(
        actor=alice,
        name="mail",
        kind="email",
        emails="ops@example.com; sre@example.com ops@example.com",
        events=["finished"],
    )
    assert endpoint.emails == "ops@example.com, sre@example.com"
    assert endpoint.url_secret == ""


def test_only_admins_manage_endpoints(olga, vera, alice):
    with pytest.raises(PermissionDenied, match="admin"):
        services.endpoint_create(actor=olga, name="x", kind="webhook", url=HOOK, events=["started"])
    endpoint = services.endpoint_create(actor=alice, name="x", kind="webhook", url=HOOK, events=["started"])
    with pytest.raises(PermissionDenied):
        services.endpoint_update(actor=vera, endpoint=endpoint, name="y")
    with pytest.raises(PermissionDenied):
        services.endpoint_delete(actor=vera, endpoint=endpoint)
    services.endpoint_create(
        actor=System("setup"), name="by the system", kind="email", emails="a@b.example", events=["started"]
    )


def test_update_keeps_the_url_when_blank_and_says_only_changed(alice, prod):
    endpoint = services.endpoint_create(actor=alice, name="chat", kind="webhook", url=HOOK, events=["started"])
    endpoint = services.endpoint_update(actor=alice, endpoint=endpoint, url="", name="chat 2", cluster=prod)
    assert (endpoint.url_secret, endpoint.name, endpoint.cluster_id) == (HOOK, "chat 2", prod.pk)
    new_url = "https://hooks.example.com/services/T000/B000/another-secret"
    endpoint = services.endpoint_update(actor=alice, endpoint=endpoint, url=new_url, cluster=None)
    assert endpoint.url_secret == new_url and endpoint.cluster_id is None
    updates = AuditEvent.objects.filter(action="notification_endpoint.update").order_by("sequence")
    changes = [e.details["changes"] for e in updates]
    assert changes == [{"name": "chat 2", "cluster": "prod-eu"}, {"url": "changed", "cluster": "all clusters"}]
    assert "secret" not in str(changes)


def test_update_without_changes_writes_no_audit(alice):
    endpoint = services.endpoint_create(actor=alice, name="chat", kind="webhook", url=HOOK, events=["started"])
    services.endpoint_update(actor=alice, endpoint=endpoint, name="chat", url="", events=["started"])
    assert not AuditEvent.objects.filter(action="notification_endpoint.update").exists()


def test_switching_kind_drops_the_other_kinds_target(alice):
    endpoint = services.endpoint_create(actor=alice, name="chat", kind="webhook", url=HOOK, events=["started"])
    with pytest.raises(ValidationError) as caught:
        services.endpoint_update(actor=alice, endpoint=endpoint, kind="email")
    assert "emails" in caught.value.message_dict
    endpoint = services.endpoint_update(actor=alice, endpoint=endpoint, kind="email", emails="ops@example.com")
    assert (endpoint.kind, endpoint.url_secret, endpoint.emails) == (EndpointKind.EMAIL, "", "ops@example.com")
    with pytest.raises(ValidationError) as caught:
        services.endpoint_update(actor=alice, endpoint=endpoint, kind="webhook")
    assert "url" in caught.value.message_dict
    event = AuditEvent.objects.filter(action="notification_endpoint.update").get()
    assert event.details["changes"]["url"] == "removed"


def test_delete_removes_the_endpoint_and_its_log_and_is_audited(alice, prod, rita):
    endpoint = services.endpoint_create(actor=alice, name="chat", kind="webhook", url=HOOK, events=["started"])
    services.notify(event="started", request=make_request(prod, rita))
    services.endpoint_delete(actor=alice, endpoint=endpoint)
    assert not NotificationEndpoint.objects.exists() and not NotificationDelivery.objects.exists()
    event = AuditEvent.objects.get(action="notification_endpoint.delete")
    assert event.details["name"] == "chat" and "url" not in event.details


def test_deleting_a_cluster_deletes_its_endpoints(alice, prod):
    from clusters.services import cluster_delete

    make_webhook(HOOK, cluster=prod)
    everywhere = make_webhook(HOOK, name="everywhere")
    cluster_delete(actor=alice, cluster=prod)
    assert list(NotificationEndpoint.objects.all()) == [everywhere]


def test_key_rotation_re_encrypts_webhook_urls(alice, settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    endpoint = services.endpoint_create(actor=alice, name="chat", kind="webhook", url=HOOK, events=["finished"])
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new, *settings.FIELD_ENCRYPTION_KEYS]
    call_command("rotate_encryption_keys")
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert NotificationEndpoint.objects.get(pk=endpoint.pk).url_secret == HOOK
    rotated = AuditEvent.objects.get(action="secrets.rotate").details["rows"]
    assert rotated["notifications.NotificationEndpoint.url_secret"] == 1
