"""/healthz: 200 when the database and the broker answer, 503 naming the part that failed, never a secret."""

from __future__ import annotations

import socket
from unittest import mock

import pytest
import redis
from django.db import connection
from django.test.utils import override_settings

from config import health


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens there


def test_healthy_with_the_configured_broker(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_a_redis_broker_on_a_closed_port_is_reported_without_its_password(client, db):
    url = f"redis://:hunter2-secret@127.0.0.1:{_closed_port()}/0"
    with override_settings(CELERY_BROKER_URL=url):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy", "database": "ok", "broker": "unreachable (cannot connect)"}
    assert b"hunter2" not in response.content and b"127.0.0.1" not in response.content


def test_a_broker_that_does_not_answer_in_time_is_reported_as_timed_out(db):
    stuck = mock.Mock()
    stuck.ping.side_effect = redis.exceptions.TimeoutError("Timeout reading from socket")
    with (
        override_settings(CELERY_BROKER_URL="redis://redis.internal:6379/0"),
        mock.patch.object(health, "redis_client", return_value=stuck) as factory,
    ):
        assert health.check_broker() == "unreachable (timed out)"
    factory.assert_called_once_with("redis://redis.internal:6379/0")
    stuck.close.assert_called_once()


def test_a_file_system_broker_whose_folder_is_not_writable_is_unhealthy(client, db, settings, tmp_path):
    missing = tmp_path / "gone" / "queue"
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "data_folder_in": str(missing),
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "queue folder not writable (FileNotFoundError)"
    assert str(tmp_path) not in response.content.decode()


def test_a_file_system_broker_with_a_writable_folder_is_healthy(db, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path)}
    assert health.check_broker() == "ok"
    assert list(tmp_path.iterdir()) == []  # the probe file is removed


def test_a_database_that_fails_is_reported_by_kind(client, db):
    from django.db import OperationalError

    def broken(*args, **kwargs):
        raise OperationalError("could not connect to server: password authentication failed for user x")

    with mock.patch.object(connection, "cursor", broken):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "unreachable (OperationalError)"
    assert "password" not in response.content.decode()


@pytest.mark.skipif(
    not str(__import__("django.conf").conf.settings.CELERY_BROKER_URL).startswith("redis"),
    reason="the real Redis broker is only configured when REDIS_URL is set",
)
def test_the_real_redis_broker_answers(db):
    assert health.check_broker() == "ok"
