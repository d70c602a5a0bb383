"""Settings come from the environment and fail loudly; production values pass `check --deploy`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.production import manage
from tests.production import production_env as production_settings

ROOT = Path(__file__).resolve().parents[2]


def run_manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return manage(env, *args, check=False)


def production_env(tmp_path: Path) -> dict[str, str]:
    return production_settings(tmp_path, DEBUG="false", REDIS_URL="redis://127.0.0.1:6379/0")


def test_check_deploy_with_production_settings_reports_no_warnings(tmp_path):
    result = run_manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be at least 50"),
        ({"FIELD_ENCRYPTION_KEYS": "not-a-key"}, "FIELD_ENCRYPTION_KEYS entry 1 is not a Fernet key"),
        ({"FIELD_ENCRYPTION_KEYS": ""}, "FIELD_ENCRYPTION_KEYS must be set"),
        ({"AUDIT_HMAC_KEY": "short"}, "AUDIT_HMAC_KEY must be at least 32"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must be set"),
        ({"DEBUG": "maybe"}, "DEBUG must be a boolean"),
        ({"DATABASE_URL": "nosuchdb://x"}, "DATABASE_URL is not a database URL"),
        ({"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL must start with redis://"),
        ({"CSRF_TRUSTED_ORIGINS": "drainboard.example.com"}, "CSRF_TRUSTED_ORIGINS entries need a scheme"),
        ({"TICK_SECONDS": "soon"}, "TICK_SECONDS must be an integer"),
        ({"CELERY_TASK_TIME_LIMIT": "10", "CELERY_TASK_SOFT_TIME_LIMIT": "20"}, "must be greater than"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be"),
        ({"AUDIT_FULL_VERIFY_HOUR": "24"}, "AUDIT_FULL_VERIFY_HOUR must be an hour"),
    ],
)
def test_bad_values_stop_start_up_with_the_setting_named(tmp_path, change, message):
    result = run_manage({**production_env(tmp_path), **change}, "check")
    assert result.returncode != 0
    assert message in result.stderr


def test_celery_is_configured_for_reliability():
    from django.conf import settings

    from config.celery import app

    conf = app.conf
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_acks_late is True and conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.beat_schedule["tick"]["task"] == "evictions.tasks.tick"
    if not settings.REDIS_URL:
        assert conf.broker_url == "filesystem://"
    else:
        assert conf.broker_url.startswith("redis://")
        assert conf.broker_transport_options["visibility_timeout"] >= 3600


def test_healthz_is_served_over_plain_http_in_production_for_health_checks(tmp_path):
    """docker-compose's health check calls http://127.0.0.1:8000/healthz inside the container."""
    env = production_env(tmp_path)
    code = (
        "import django; django.setup();"
        "from django.test import Client; from django.core.management import call_command;"
        "call_command('migrate', verbosity=0);"
        "r = Client().get('/healthz', HTTP_HOST='drainboard.example.com');"
        "print(r.status_code, r.headers.get('Location'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] in {"200", "503"}  # answered, not redirected to https


def test_each_app_has_its_own_part_of_the_tick():
    from config.celery import app

    schedule = app.conf.beat_schedule
    assert schedule["tick"]["task"] == "evictions.tasks.tick"
    assert schedule["clusters-tick"]["task"] == "clusters.tasks.tick"
    assert schedule["notifications-tick"]["task"] == "notifications.tasks.tick"
    assert {schedule[name]["schedule"] for name in ("tick", "clusters-tick", "notifications-tick")} == {
        schedule["tick"]["schedule"]
    }
