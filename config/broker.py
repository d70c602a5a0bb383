"""The Redis broker transport: kombu's, except that a channel whose connection is gone fails with a connection error.

When Redis goes away, Celery collects the broken connection (its transport lets go of its client) and reconnects.
Two things still reach the old channel afterwards: closing it puts its unacknowledged messages back, and a
late-acknowledged task that was running meanwhile acknowledges its message on it when it ends. Both build a Redis
client from the channel's connection settings, which are gone, so kombu raised AttributeError; Celery handles only
connection errors there, so the worker died ("Unrecoverable error", exit status 1) and waited for a supervisor. A
thread-pool worker, whose budget watcher always holds a task, did so on nearly every Redis restart.

Raising a connection error instead lets Celery do what it does for any lost connection: log "Couldn't ack", skip the
restore, and reconnect. Nothing is lost: the messages stay in Redis's unacked set until the visibility timeout gives
them back (or went with a Redis that kept nothing), and the database is the source of truth, so the tick sends the
work again anyway. Registered for redis:// and rediss:// URLs by config.celery.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis


class Channel(redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            raise ConnectionError("the broker connection of this channel is closed (Redis went away)")
        return super()._connparams(asynchronous=asynchronous)


class Transport(redis.Transport):
    Channel = Channel
