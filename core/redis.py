"""A Redis client for the few places that talk to Redis directly (health check, core.heartbeat): short timeouts, so a
dead server answers within seconds instead of hanging a page or a task."""

from __future__ import annotations

import redis

TIMEOUT_SECONDS = 2.0


def redis_client(url: str, *, timeout: float = TIMEOUT_SECONDS) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
