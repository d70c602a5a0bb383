"""Per-cluster request rate limit shared by every worker: a one-second window in Redis (or in-process without it)."""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Any

from django.conf import settings

_local_lock = threading.Lock()
_local_windows: dict[tuple[int, int], int] = {}


@lru_cache(maxsize=1)
def _redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _take(cluster_id: int, second: int) -> int:
    if settings.REDIS_URL:
        key = f"drainboard:rate:{cluster_id}:{second}"
        client = _redis(settings.REDIS_URL)
        pipe = client.pipeline()
        pipe.incr(key)
        pipe.expire(key, 5)
        count, _ = pipe.execute()
        return int(count)
    # The embedded broker means a single machine: one window per process is a fair approximation.
    with _local_lock:
        for stale in [k for k in _local_windows if k[1] < second - 2]:
            del _local_windows[stale]
        _local_windows[(cluster_id, second)] = _local_windows.get((cluster_id, second), 0) + 1
        return _local_windows[(cluster_id, second)]


def acquire(cluster_id: int, qps: int, *, max_wait: float = 30.0) -> float:
    """Wait until this cluster's budget for the current second has room; returns the seconds waited."""
    started = time.monotonic()
    while True:
        now = time.time()
        if _take(cluster_id, int(now)) <= max(1, qps):
            return time.monotonic() - started
        if time.monotonic() - started > max_wait:
            raise TimeoutError(f"rate limit of {qps}/s for cluster {cluster_id} did not free up in {max_wait}s")
        time.sleep(max(0.005, int(now) + 1 - now))
