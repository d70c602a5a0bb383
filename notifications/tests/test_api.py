"""REST API: admins manage endpoints (the URL write-only), others get 403; unknown fields 400; the delivery log
with filters and pagination; both in the OpenAPI schema."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from audit.services import System
from notifications import services
from notifications.models import NotificationDelivery, NotificationEndpoint
from notifications.tests.helpers import make_request, make_webhook
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/notification-endpoints/"
LOG = "/api/v1/notification-deliveries/"
HOOK = "https://hooks.example.com/services/T000/B000/api-secret-token"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_an_admin_creates_a_webhook_and_never_sees_its_url(api):
    prod = ClusterFactory(name="prod-eu")
    response = api.post(
        URL,
        {"name": "ops chat", "kind": "webhook", "url": HOOK, "events": ["approval_requested"], "cluster": prod.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["has_url"] is True and "url" not in body and "url_secret" not in body
    assert (body["cluster"], body["cluster_name"], body["events"]) == (prod.pk, "prod-eu", ["approval_requested"])
    assert body["created_by"] == "alice" and body["blocked_after_minutes"] == 10 and body["enabled"] is True
    assert "api-secret-token" not in response.content.decode()
    assert NotificationEndpoint.objects.get().url_secret == HOOK

    for answer in [api.get(URL), api.get(f"{URL}{body['id']}/")]:
        assert answer.status_code == 200
        assert "api-secret-token" not in answer.content.decode()
    assert api.get(URL).json()["results"][0]["has_url"] is True


def test_an_email_endpoint_for_every_cluster(api):
    body = {"name": "mail", "kind": "email", "emails": "ops@example.com", "events": ["finished"]}
    response = api.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["cluster"] is None and response.json()["has_url"] is False


def test_unknown_fields_and_bad_values_are_400_with_field_messages(api):
    response = api.post(
        URL, {"name": "x", "kind": "webhook", "url": HOOK, "events": ["started"], "colour": "red"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"colour": ["Unknown field."]}

    response = api.post(URL, {"name": "x", "kind": "webhook", "url": "ftp://x/y", "events": []}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"events"}  # the serializer's own checks come first

    response = api.post(
        URL,
        {"name": "x", "kind": "webhook", "url": "http://169.254.169.254/latest", "events": ["started"]},
        format="json",
    )
    assert response.status_code == 400
    assert "metadata" in response.json()["url"][0]
    assert not NotificationEndpoint.objects.exists()


def test_partial_update_keeps_the_url_unless_given(api):
    endpoint = services.endpoint_create(actor=System("test"), name="chat", kind="webhook", url=HOOK, events=["started"])
    response = api.patch(f"{URL}{endpoint.pk}/", {"name": "chat 2", "url": ""}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "chat 2" and response.json()["has_url"] is True
    endpoint.refresh_from_db()
    assert endpoint.url_secret == HOOK

    response = api.patch(f"{URL}{endpoint.pk}/", {"enabled": False, "blocked_after_minutes": 20}, format="json")
    assert response.status_code == 200
    assert (response.json()["enabled"], response.json()["blocked_after_minutes"]) == (False, 20)
    assert api.patch(f"{URL}{endpoint.pk}/", {"secret": "x"}, format="json").status_code == 400


def test_delete(api):
    endpoint = make_webhook(HOOK)
    assert api.delete(f"{URL}{endpoint.pk}/").status_code == 204
    assert not NotificationEndpoint.objects.exists()
    assert AuditEvent.objects.filter(action="notification_endpoint.delete").exists()
    assert api.get(f"{URL}{endpoint.pk}/").status_code == 404


@pytest.mark.parametrize("who", ["vera", "olga", "rita", "adam"])
def test_only_admins_reach_endpoints_and_the_log(who, request):
    user = request.getfixturevalue(who)
    endpoint = make_webhook(HOOK)
    client = client_for(user)
    assert client.get(URL).status_code == 403
    assert client.get(f"{URL}{endpoint.pk}/").status_code == 403
    assert (
        client.post(
            URL, {"name": "x", "kind": "email", "emails": "a@b.example", "events": ["started"]}, format="json"
        ).status_code
        == 403
    )
    assert client.patch(f"{URL}{endpoint.pk}/", {"name": "y"}, format="json").status_code == 403
    assert client.delete(f"{URL}{endpoint.pk}/").status_code == 403
    assert client.get(LOG).status_code == 403
    assert "admin" in client.get(URL).json()["detail"]
    assert APIClient().get(URL).status_code in (401, 403)


def test_the_delivery_log_filters_and_paginates(api, rita):
    prod = ClusterFactory(name="prod-eu")
    chat = make_webhook(HOOK, name="chat", events=["started", "finished"])
    other = make_webhook(HOOK, name="other", events=["started"])
    first, second = make_request(prod, rita), make_request(prod, rita)
    services.notify(event="started", request=first)
    services.notify(event="finished", request=second)
    NotificationDelivery.objects.filter(event="finished").update(status="failed", last_error="HTTP 500", attempts=5)

    body = api.get(LOG).json()
    assert set(body) == {"next", "previous", "results"} and body["next"] is None and body["previous"] is None
    assert len(body["results"]) == 3
    assert [row["event"] for row in body["results"]] == ["finished", "started", "started"]  # newest first
    row = body["results"][0]
    assert (row["endpoint"], row["endpoint_name"], row["request"], row["status"]) == (
        chat.pk,
        "chat",
        second.pk,
        "failed",
    )
    assert (row["attempts"], row["last_error"]) == (5, "HTTP 500")
    assert "api-secret-token" not in str(body)

    def shown(**query) -> int:
        return len(api.get(LOG, query).json()["results"])

    assert shown(endpoint=other.pk) == 1
    assert shown(status="failed") == 1
    assert shown(request=first.pk) == 2
    assert shown(event="finished") == 1
    assert shown(limit=1) == 1
    bad = api.get(LOG, {"status": "exploded", "colour": "red"})
    assert bad.status_code == 400 and set(bad.json()) == {"status", "colour"}


def test_the_delivery_log_pages_by_signed_cursor_and_still_answers_offset(api, rita):
    prod = ClusterFactory(name="prod-eu")
    make_webhook(HOOK, name="chat", events=["started"])
    requests = [make_request(prod, rita) for _ in range(5)]
    for request in requests:
        services.notify(event="started", request=request)
    newest_first = [r.pk for r in reversed(requests)]

    first = api.get(LOG, {"limit": 2, "event": "started"}).json()
    assert [row["request"] for row in first["results"]] == newest_first[:2]
    assert first["previous"] is None and "cursor=" in first["next"] and "event=started" in first["next"]
    second = api.get(first["next"]).json()
    assert [row["request"] for row in second["results"]] == newest_first[2:4]
    back = api.get(second["previous"]).json()
    assert [row["request"] for row in back["results"]] == newest_first[:2]
    last = api.get(second["next"]).json()
    assert [row["request"] for row in last["results"]] == newest_first[4:] and last["next"] is None

    edited = api.get(LOG, {"cursor": first["next"].split("cursor=")[1][:-2] + "xx"})
    assert edited.status_code == 400 and list(edited.json()) == ["cursor"]
    # The same order (newest, by created_at) of another list: a cursor belongs to its list.
    requests_cursor = api.get("/api/v1/requests/", {"limit": 1}).json()["next"].split("cursor=")[1]
    assert api.get(LOG, {"cursor": requests_cursor}).status_code == 400

    older = api.get(LOG, {"offset": 1, "limit": 2}).json()
    assert older["count"] == 5 and [row["request"] for row in older["results"]] == newest_first[1:3]


def test_endpoints_are_in_the_openapi_schema(admin_client):
    text = admin_client.get("/api/schema/").content.decode()
    for path in [
        "/api/v1/notification-endpoints/:",
        "/api/v1/notification-endpoints/{id}/:",
        "/api/v1/notification-deliveries/:",
    ]:
        assert path in text, path
    for component in [
        "NotificationEndpoint",
        "NotificationEndpointCreateRequest",
        "NotificationDelivery",
        "NotificationEventEnum",
    ]:
        assert f"    {component}:" in text, component
