"""LOG_FORMAT=json: one JSON object per line with the request id (and the Celery task), never a secret."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from core.logs import JsonFormatter
from core.request_id import RequestIdFilter, set_request_id

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-bearer-token-never-logged"


def _run(tmp_path: Path, log_format: str | None, code: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    env = {**base, "DEBUG": "true", "DRAINBOARD_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings"}
    if log_format:
        env["LOG_FORMAT"] = log_format
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup();" + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


REQUEST = (
    "from django.test import Client;"
    f"Client().get('/no-such-page/?token={SECRET}', HTTP_X_REQUEST_ID='req-4711', HTTP_HOST='127.0.0.1',"
    f" HTTP_AUTHORIZATION='Bearer {SECRET}', HTTP_COOKIE='sessionid={SECRET}')"
)


def test_a_request_logs_one_json_line_with_its_request_id_and_no_secret(tmp_path):
    result = _run(tmp_path, "json", REQUEST)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is a JSON object
    not_found = [r for r in records if r["logger"] == "django.request"]
    assert len(not_found) == 1, lines  # once: Django's own console handler does not print a second copy
    record = not_found[0]
    assert record["request_id"] == "req-4711"
    assert record["level"] == "WARNING"
    assert record["message"] == "Not Found: /no-such-page/"
    assert record["status_code"] == 404
    assert set(record) >= {"time", "level", "logger", "message", "request_id"}
    assert SECRET not in result.stderr


def test_the_default_stays_the_human_format(tmp_path):
    result = _run(tmp_path, None, REQUEST)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "Not Found" in line]
    assert len(lines) == 1
    assert "WARNING django.request [req-4711] Not Found: /no-such-page/" in lines[0]
    assert SECRET not in result.stderr


def test_an_unknown_log_format_stops_start_up(tmp_path):
    result = _run(tmp_path, "xml", "")
    assert result.returncode != 0
    assert "LOG_FORMAT must be plain or json" in result.stderr


def _format(record: logging.LogRecord) -> dict:
    RequestIdFilter().filter(record)
    return json.loads(JsonFormatter().format(record))


def test_a_celery_task_log_line_names_the_task():
    from celery import shared_task

    captured: list[dict] = []

    @shared_task(name="tests.log_something")
    def log_something() -> None:
        captured.append(_format(logging.LogRecord("evictions.tasks", logging.INFO, __file__, 1, "tick", (), None)))

    log_something.apply(task_id="task-42")
    assert captured[0]["task_name"] == "tests.log_something"
    assert captured[0]["task_id"] == "task-42"
    assert captured[0]["message"] == "tick"


def test_outside_a_task_and_a_request_the_ids_are_plain():
    record = _format(logging.LogRecord("x", logging.ERROR, __file__, 1, "boom %s", ("now",), None))
    assert record["request_id"] == "-" and record["message"] == "boom now"
    assert "task_id" not in record


def test_exceptions_are_kept_in_the_line():
    token = set_request_id("req-9")
    try:
        try:
            raise ValueError("bad value")
        except ValueError:
            record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
        entry = _format(record)
    finally:
        from core.request_id import _current

        _current.reset(token)
    assert entry["request_id"] == "req-9"
    assert "ValueError: bad value" in entry["exception"]


def test_only_listed_extras_leave_and_only_as_plain_values():
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Not Found", (), None)
    record.request = f"<WSGIRequest: GET '/?token={SECRET}'>"  # Django attaches the request itself
    record.anything = SECRET
    record.status_code = 404
    entry = _format(record)
    assert SECRET not in json.dumps(entry)
    assert list(entry) == ["time", "level", "logger", "message", "request_id", "status_code"]
    record.status_code = object()  # not a plain value: dropped, not str()-ed
    assert "status_code" not in _format(record)
