"""Sign-in, brute-force lockout, roles as groups, security headers, admin bootstrap."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command

from accounts.roles import ROLE_PERMISSIONS, ROLES
from audit.models import AuditEvent


@pytest.mark.django_db
def test_the_five_roles_exist_with_their_permissions():
    for role in ROLES:
        group = Group.objects.get(name=role)
        have = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
        assert have == set(ROLE_PERMISSIONS[role])


def test_sign_in_and_out(client, alice, password):
    page = client.get("/login/")
    assert page.status_code == 200 and b"Sign in" in page.content
    response = client.post("/login/", {"username": "alice", "password": password})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_wrong_password_says_so(client, alice):
    response = client.post("/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"do not match" in response.content


def test_repeated_failures_lock_the_user_out(client, alice, password, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"username": "alice", "password": "wrong"})
    locked = client.post("/login/", {"username": "alice", "password": password})
    assert locked.status_code == 429
    assert b"Too many failed sign-ins" in locked.content
    assert client.get("/").status_code == 302  # still not signed in


def test_security_headers_are_set(client):
    response = client.get("/login/")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Request-ID"]


def test_healthz_reports_database_and_broker(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_ensure_admin_creates_the_admin_once(capsys, monkeypatch, settings):
    settings.DEBUG = True  # `make run`: shown once (pytest-django runs tests with DEBUG off; see
    # test_commands_production.py for production, where it goes to a file instead)
    monkeypatch.delenv("DRAINBOARD_ADMIN_PASSWORD", raising=False)
    call_command("ensure_admin")
    first = capsys.readouterr().out
    assert "with password:" in first
    password = first.split("with password:")[1].split()[0]
    admin = get_user_model().objects.get(username="admin")
    assert admin.check_password(password) and admin.groups.filter(name="admin").exists()
    call_command("ensure_admin")
    assert "unchanged" in capsys.readouterr().out
    assert AuditEvent.objects.filter(action="user.create").count() == 1


@pytest.mark.django_db
def test_ensure_admin_takes_the_password_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("DRAINBOARD_ADMIN_PASSWORD", "from-the-environment-123")
    call_command("ensure_admin")
    assert "from-the-environment-123" not in capsys.readouterr().out
    assert get_user_model().objects.get(username="admin").check_password("from-the-environment-123")


def test_api_token_is_shown_once_and_replaced(client, alice):
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    first = client.post("/account/").content.decode()
    assert "shown once" in first
    again = client.get("/account/").content.decode()
    assert "You have an API token" in again
    from rest_framework.authtoken.models import Token

    key = Token.objects.get(user=alice).key
    assert key in first and key not in again


WRONG_PASSWORD = "not-the-password-Zq81"


def _fail_sign_ins(client, times: int) -> None:
    for _ in range(times):
        client.post("/login/", {"username": "alice", "password": WRONG_PASSWORD}, REMOTE_ADDR="203.0.113.7")


@pytest.mark.django_db
def test_a_lock_out_writes_one_audit_event_with_the_username_and_address_never_the_password(
    client, alice, password, settings
):
    from audit.selectors import audit_chain_verify

    _fail_sign_ins(client, settings.AXES_FAILURE_LIMIT - 1)
    assert not AuditEvent.objects.filter(action="account.locked_out").exists()
    _fail_sign_ins(client, 3)  # the one that locks, then two more while locked
    client.post("/login/", {"username": "alice", "password": password}, REMOTE_ADDR="203.0.113.7")

    event = AuditEvent.objects.get(action="account.locked_out")
    assert event.actor_name == "system:sign-in"
    assert (event.object_type, event.object_id) == ("auth.user", str(alice.pk))
    assert event.details["username"] == "alice"
    assert event.details["ip_address"] == "203.0.113.7"
    assert event.details["failures"] == settings.AXES_FAILURE_LIMIT
    row = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert WRONG_PASSWORD not in row and password not in row
    assert audit_chain_verify().ok


@pytest.mark.django_db(transaction=True)
def test_a_lock_out_is_not_recorded_without_its_audit_event(client, alice, settings):
    from unittest import mock

    from axes.models import AccessAttempt

    _fail_sign_ins(client, settings.AXES_FAILURE_LIMIT - 1)
    with (
        mock.patch("accounts.services.audit_record", side_effect=RuntimeError("audit write failed")),
        pytest.raises(RuntimeError),
    ):
        _fail_sign_ins(client, 1)
    # The failure that would have locked the user out was rolled back with its audit event.
    assert AccessAttempt.objects.get(username="alice").failures_since_start == settings.AXES_FAILURE_LIMIT - 1
