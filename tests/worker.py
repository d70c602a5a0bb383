"""Start a real Celery worker process against the test database and broker, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """The URL of the database pytest-django created, so the worker writes where the test reads."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    if connection.vendor == "postgresql":
        auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
        return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    raise RuntimeError(f"no worker support for {connection.vendor}")


@contextmanager
def celery_worker(
    *,
    concurrency: int = 2,
    extra_env: dict[str, str] | None = None,
    pool: str = "prefork",
    queues: str = "celery,watch,notify",  # one worker serves all queues in tests; make run and compose split them
    name: str = "test",
    purge: bool = True,
) -> Iterator[subprocess.Popen[str]]:
    from config.celery import app

    if purge:
        app.control.purge()  # messages left by earlier tests must not run against this test's rows
    env = {**os.environ, "DATABASE_URL": test_database_url(), "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-l",
            "INFO",
            "--concurrency",
            str(concurrency),
            "--pool",
            pool,
            "-Q",
            queues,
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"{name}-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if " ready." in line:
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the Celery worker did not start:\n" + "".join(lines[-40:]))
        process.output_lines = lines  # type: ignore[attr-defined]
        yield process
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        connection.close()


def wait_until(predicate, *, timeout: float = 30, interval: float = 0.2, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def run_ticks_until(predicate, *, timeout: float, message: str, every: float = 1.0) -> None:
    """Beat is not running in tests: run the engine's tick in this process (it only sends work to the workers) until
    the predicate holds."""
    from evictions.tasks import tick

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        tick()
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
