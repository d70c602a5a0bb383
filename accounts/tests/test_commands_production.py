"""The account commands with production settings (DEBUG unset), as docker compose and an operator run them: in a
subprocess, after `migrate`, against a SQLite file of their own."""

from __future__ import annotations

import re
import stat

import pytest

from tests.production import django_shell, manage, production_env

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def prod(tmp_path):
    env = production_env(tmp_path)
    env.pop("DRAINBOARD_ADMIN_PASSWORD", None)
    manage(env, "migrate", "--no-input", "-v", "0")
    return env


def password_of(env, username: str, password: str) -> bool:
    code = (
        "from django.contrib.auth import get_user_model; "
        f"print(get_user_model().objects.get(username={username!r}).check_password({password!r}))"
    )
    return django_shell(env, code).strip() == "True"


def test_ensure_admin_in_production_never_prints_the_password_and_leaves_it_in_a_private_file(prod, tmp_path):
    path = tmp_path / "secrets" / "admin-password"
    prod["DRAINBOARD_ADMIN_PASSWORD_FILE"] = str(path)
    result = manage(prod, "ensure_admin")
    output = result.stdout + result.stderr
    assert "with password:" not in output and "Password" not in output, output
    assert path.exists(), output
    password = path.read_text().strip()
    assert len(password) >= 12
    assert password not in output
    assert str(path) in result.stdout  # where to find it, and only that
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert password_of(prod, "admin", password)
    again = manage(prod, "ensure_admin")
    assert "unchanged" in again.stdout and path.read_text().strip() == password


def test_ensure_admin_in_production_takes_the_password_from_the_environment(prod, tmp_path):
    prod["DRAINBOARD_ADMIN_PASSWORD"] = "given-in-the-environment-42"
    prod["DRAINBOARD_ADMIN_PASSWORD_FILE"] = str(tmp_path / "admin-password")
    result = manage(prod, "ensure_admin")
    assert "given-in-the-environment-42" not in result.stdout + result.stderr
    assert not (tmp_path / "admin-password").exists()
    assert password_of(prod, "admin", "given-in-the-environment-42")


def test_ensure_admin_with_debug_still_shows_the_password_once_for_make_run(prod):
    prod["DEBUG"] = "true"
    result = manage(prod, "ensure_admin")
    shown = re.search(r"with password: (\S+)", result.stdout)
    assert shown, result.stdout
    assert password_of(prod, "admin", shown.group(1))


def test_user_add_works_with_production_settings(prod):
    result = manage(prod, "user_add", "bob", "--role", "requester", "--role", "approver")
    shown = re.search(r"Password \(shown once\): (\S+)", result.stdout)
    assert shown, result.stdout + result.stderr
    assert password_of(prod, "bob", shown.group(1))
    code = (
        "from django.contrib.auth import get_user_model; from audit.models import AuditEvent; "
        "u = get_user_model().objects.get(username='bob'); "
        "print(sorted(u.groups.values_list('name', flat=True)), u.has_perm('evictions.approve_evictionrequest'), "
        "AuditEvent.objects.filter(action='user.create', actor_name='system:cli').count())"
    )
    assert django_shell(prod, code).strip() == "['approver', 'requester'] True 1"
    chosen = manage(prod, "user_add", "carol", "--role", "viewer", "--password", "a-long-passphrase-for-carol")
    assert "a-long-passphrase-for-carol" not in chosen.stdout
    assert password_of(prod, "carol", "a-long-passphrase-for-carol")


def test_user_add_refuses_a_weak_password_or_a_taken_name(prod):
    weak = manage(prod, "user_add", "dave", "--role", "viewer", "--password", "12345", check=False)
    assert weak.returncode != 0 and "too short" in weak.stderr, weak.stdout + weak.stderr
    code = "from django.contrib.auth import get_user_model as m; print(m().objects.filter(username='dave').exists())"
    assert django_shell(prod, code).strip() == "False"
    manage(prod, "user_add", "erin", "--role", "viewer")
    taken = manage(prod, "user_add", "erin", "--role", "admin", check=False)
    assert taken.returncode != 0 and "already exists" in taken.stderr
