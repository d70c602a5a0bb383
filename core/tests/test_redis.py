"""The shared Redis client: a dead server answers within seconds."""

from __future__ import annotations

from core.redis import redis_client


def test_the_redis_connection_has_short_timeouts():
    client = redis_client("redis://127.0.0.1:6379/0")
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["socket_connect_timeout"] <= 2 and kwargs["socket_timeout"] <= 2
