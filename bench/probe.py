"""Loaded into the benchmark's Celery workers with `celery worker --include bench.probe`: one JSON line per task.

For every task a worker runs, the line gives the task's name, the CPU time of the thread that ran it
(`time.thread_time`, right for prefork children and for the thread pool alike), its wall time, the database
queries it made (counted with a connection execute wrapper) and when it started. The lines go to
`$BENCH_PROBE_DIR/probe-<pid>.jsonl`; bench/scale.py reads them. Nothing here is imported by the application.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from celery.signals import task_postrun, task_prerun

_local = threading.local()
_files: dict[int, Any] = {}
_lock = threading.Lock()


def _out() -> Any:
    pid = os.getpid()
    with _lock:
        if pid not in _files:
            folder = os.environ.get("BENCH_PROBE_DIR", "var/bench/scale")
            _files[pid] = open(os.path.join(folder, f"probe-{pid}.jsonl"), "a", buffering=1)
        return _files[pid]


class _Counter:
    def __init__(self) -> None:
        self.queries = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.queries += 1
        return execute(sql, params, many, context)


@task_prerun.connect
def _start(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    from django.db import connection

    counter = _Counter()
    connection.execute_wrappers.append(counter)
    _local.run = (task_id, time.time(), time.thread_time(), time.perf_counter(), counter)


@task_postrun.connect
def _end(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    from django.db import connection

    run = getattr(_local, "run", None)
    if run is None or run[0] != task_id:
        return
    _, started, cpu, wall, counter = run
    _local.run = None
    if counter in connection.execute_wrappers:
        connection.execute_wrappers.remove(counter)
    line = {
        "task": getattr(task, "name", "?"),
        "start": round(started, 4),
        "cpu": round(time.thread_time() - cpu, 6),
        "wall": round(time.perf_counter() - wall, 6),
        "queries": counter.queries,
        "pid": os.getpid(),
    }
    _out().write(json.dumps(line) + "\n")
