"""The webhook URL is a secret: after a whole life (created, notified, failed, retried, edited, listed) it is in
no API answer, no page, no log line, no audit event, no delivery and no database column in plain text."""

from __future__ import annotations

import logging

import pytest
from django.db import connection
from rest_framework.test import APIClient

from notifications import services
from notifications.models import NotificationDelivery
from notifications.tests.helpers import make_request
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db


def _all_database_text() -> str:
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks.append(repr(cursor.fetchall()))
    return "\n".join(chunks)


def test_the_url_appears_nowhere(alice, rita, webhook, admin_client, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr("core.dispatch.send", lambda *args, **kwargs: None)
    api = APIClient()
    api.force_authenticate(alice)
    cluster = ClusterFactory(name="prod-eu")
    answers = []

    created = api.post(
        "/api/v1/notification-endpoints/",
        {"name": "chat", "kind": "webhook", "url": webhook.url, "events": ["started"], "cluster": cluster.pk},
        format="json",
    )
    assert created.status_code == 201
    endpoint_id = created.json()["id"]
    answers.append(created.content)

    webhook.respond_with(500)
    services.notify(event="started", request=make_request(cluster, rita))
    delivery = NotificationDelivery.objects.get()
    services.delivery_send(delivery_id=delivery.pk)
    NotificationDelivery.objects.update(next_attempt_at=None)
    services.delivery_send(delivery_id=delivery.pk)
    assert NotificationDelivery.objects.get().status == "sent"

    answers.append(
        api.patch(f"/api/v1/notification-endpoints/{endpoint_id}/", {"url": webhook.url + "/v2"}, format="json").content
    )
    for path in [
        "/api/v1/notification-endpoints/",
        f"/api/v1/notification-endpoints/{endpoint_id}/",
        "/api/v1/notification-deliveries/",
        "/api/v1/notification-deliveries/?status=sent",
    ]:
        answers.append(api.get(path).content)
    for path in ["/notifications/", f"/notifications/{endpoint_id}/edit/", "/notifications/deliveries/", "/audit/"]:
        response = admin_client.get(path)
        assert response.status_code == 200, path
        answers.append(response.content)

    secret = webhook.secret
    for answer in answers:
        assert secret.encode() not in answer
    assert secret not in caplog.text
    assert secret not in _all_database_text()
    assert f"127.0.0.1:{webhook.port}" not in _all_database_text()
