"""Notification settings come from the environment: e-mail backend by DEBUG, bad values stop start-up."""

from __future__ import annotations

import pytest

from config.tests.test_settings import production_env, run_manage

SHOW = "from django.conf import settings as s; print(s.EMAIL_BACKEND, s.DEFAULT_FROM_EMAIL, s.DRAINBOARD_BASE_URL)"


def test_production_sends_mail_over_smtp_and_links_to_the_base_url(tmp_path):
    env = {**production_env(tmp_path), "DRAINBOARD_BASE_URL": "https://drainboard.example.com/", "EMAIL_HOST": "smtp"}
    result = run_manage(env, "shell", "-c", SHOW)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == [
        "django.core.mail.backends.smtp.EmailBackend",
        "drainboard@localhost",
        "https://drainboard.example.com",
    ]


def test_development_prints_mail_to_the_console(tmp_path):
    result = run_manage({"DEBUG": "true", "DRAINBOARD_VAR_DIR": str(tmp_path)}, "shell", "-c", SHOW)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split()[0] == "django.core.mail.backends.console.EmailBackend"


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("DRAINBOARD_BASE_URL", "drainboard.example.com", "DRAINBOARD_BASE_URL must start with http"),
        ("EMAIL_PORT", "smtp", "EMAIL_PORT must be an integer"),
        ("EMAIL_USE_TLS", "maybe", "EMAIL_USE_TLS must be a boolean"),
    ],
)
def test_bad_values_stop_start_up_with_their_name(tmp_path, name, value, words):
    result = run_manage({**production_env(tmp_path), name: value}, "check")
    assert result.returncode != 0
    assert words in result.stderr


def test_tls_and_ssl_together_are_refused(tmp_path):
    result = run_manage({**production_env(tmp_path), "EMAIL_USE_TLS": "true", "EMAIL_USE_SSL": "true"}, "check")
    assert "at most one of EMAIL_USE_TLS and EMAIL_USE_SSL" in result.stderr
