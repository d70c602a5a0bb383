"""Pages: admins list, add, edit and delete endpoints and read the delivery log; others get 403; the URL never
appears in any page, not even after a form error."""

from __future__ import annotations

import pytest

from notifications import services
from notifications.models import NotificationDelivery, NotificationEndpoint
from notifications.tests.helpers import make_request, make_webhook
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db

HOOK = "https://hooks.example.com/services/T000/B000/page-secret-token"


def test_the_list_shows_kind_scope_events_and_last_delivery(admin_client, rita):
    prod = ClusterFactory(name="prod-eu")
    make_webhook(HOOK, name="ops chat", cluster=prod, events=["blocked", "finished"], blocked_after_minutes=15)
    services.notify(event="finished", request=make_request(prod, rita))
    NotificationDelivery.objects.update(status="failed")

    response = admin_client.get("/notifications/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "ops chat" in html and "prod-eu" in html and "Pod blocked too long (after 15 min), Finished" in html
    assert "badge-red" in html and ">failed<" in html
    assert "page-secret-token" not in html and "hooks.example.com" not in html
    assert 'href="/notifications/"' in html  # the nav link


def test_the_list_does_not_grow_queries_with_endpoints(admin_client, django_assert_max_num_queries):
    for index in range(10):
        make_webhook(HOOK, name=f"hook {index}", cluster=ClusterFactory())
    with django_assert_max_num_queries(8):
        assert admin_client.get("/notifications/").status_code == 200


def test_viewers_and_operators_get_403_and_no_nav_link(viewer_client, operator_client):
    for client in (viewer_client, operator_client):
        for path in ["/notifications/", "/notifications/add/", "/notifications/deliveries/"]:
            assert client.get(path).status_code == 403, path
        assert "/notifications/" not in client.get("/").content.decode()


def test_add_a_webhook(admin_client):
    response = admin_client.post(
        "/notifications/add/",
        {
            "name": "ops chat",
            "kind": "webhook",
            "url": HOOK,
            "events": ["started", "finished"],
            "blocked_after_minutes": 10,
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()
    endpoint = NotificationEndpoint.objects.get()
    assert (endpoint.url_secret, endpoint.events, endpoint.cluster) == (HOOK, ["started", "finished"], None)


def test_a_form_error_never_sends_the_url_back(admin_client):
    response = admin_client.post(
        "/notifications/add/",
        {"name": "", "kind": "webhook", "url": HOOK, "events": ["started"], "blocked_after_minutes": 10},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "page-secret-token" not in html
    assert 'type="password"' in html
    response = admin_client.post(
        "/notifications/add/",
        {
            "name": "x",
            "kind": "webhook",
            "url": "http://0.0.0.0/page-secret-token",
            "events": ["started"],
            "blocked_after_minutes": 10,
        },
    )
    html = response.content.decode()
    assert "not a unicast host address" in html and "page-secret-token" not in html
    assert not NotificationEndpoint.objects.exists()


def test_edit_shows_an_empty_url_field_and_blank_keeps_it(admin_client):
    endpoint = make_webhook(HOOK, name="chat", events=["started"])
    page = admin_client.get(f"/notifications/{endpoint.pk}/edit/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "page-secret-token" not in html and "Leave blank to keep" in html
    response = admin_client.post(
        f"/notifications/{endpoint.pk}/edit/",
        {"name": "chat 2", "kind": "webhook", "url": "", "events": ["finished"], "blocked_after_minutes": 10},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.url_secret, endpoint.events, endpoint.enabled) == (
        "chat 2",
        HOOK,
        ["finished"],
        False,
    )


def test_delete_asks_then_deletes(admin_client):
    endpoint = make_webhook(HOOK, name="chat")
    assert "Delete chat?" in admin_client.get(f"/notifications/{endpoint.pk}/delete/").content.decode()
    assert admin_client.post(f"/notifications/{endpoint.pk}/delete/").status_code == 302
    assert not NotificationEndpoint.objects.exists()


def test_the_delivery_log_filters_by_endpoint_and_status_newest_first(admin_client, rita):
    prod = ClusterFactory(name="prod-eu")
    chat = make_webhook(HOOK, name="chat", events=["started", "finished"])
    request = make_request(prod, rita)
    services.notify(event="started", request=request)
    services.notify(event="finished", request=request)
    NotificationDelivery.objects.filter(event="started").update(
        status="failed", attempts=5, last_status_code=500, last_error="HTTP 500"
    )

    html = admin_client.get("/notifications/deliveries/").content.decode()
    assert html.index("finished: running") < html.index("started")
    assert "HTTP 500" in html and f"/requests/{request.pk}/" in html
    assert "page-secret-token" not in html

    failed = admin_client.get("/notifications/deliveries/", {"endpoint": chat.pk, "status": "failed"}).content.decode()
    assert failed.count('class="badge badge-red"') == 1 and "badge-green" not in failed and "badge-amber" not in failed


def test_the_delivery_log_paginates(admin_client, rita):
    make_webhook(HOOK, events=["started"])
    request = make_request(ClusterFactory(), rita)
    for _ in range(55):
        services.notify(event="started", request=request)
    first = admin_client.get("/notifications/deliveries/", {"status": "pending"})
    assert "50 deliveries on this page" in first.content.decode()
    assert "status=pending&amp;cursor=" in first.content.decode()
    second = admin_client.get(
        "/notifications/deliveries/", {"status": "pending", "cursor": first.context["page"].next_cursor}
    )
    assert "5 deliveries on this page" in second.content.decode()
    seen = {d.pk for d, _ in first.context["rows"]} | {d.pk for d, _ in second.context["rows"]}
    assert len(seen) == 55
    back = admin_client.get("/notifications/deliveries/", {"cursor": second.context["page"].prev_cursor})
    assert [d.pk for d, _ in back.context["rows"]] == [d.pk for d, _ in first.context["rows"]]


def test_an_edited_delivery_log_link_is_a_400_with_the_first_page(admin_client, rita):
    make_webhook(HOOK, events=["started"])
    services.notify(event="started", request=make_request(ClusterFactory(), rita))
    response = admin_client.get("/notifications/deliveries/", {"cursor": "bm90LW91cnM"})
    assert response.status_code == 400
    assert "This page link is not valid" in response.content.decode() and len(response.context["rows"]) == 1


def test_the_delivery_log_does_not_grow_queries_with_rows(admin_client, rita, django_assert_max_num_queries):
    for index in range(5):
        make_webhook(HOOK, name=f"hook {index}", events=["started"])
    for _ in range(4):
        services.notify(event="started", request=make_request(ClusterFactory(), rita))
    with django_assert_max_num_queries(10):
        assert admin_client.get("/notifications/deliveries/").status_code == 200
