"""The tick's heartbeat: when beat's tick last started, kept where the web process (/metrics) can read it.

Beat and workers run in other processes (other containers in docker-compose) than the web server, so the time of the
last tick is kept where all of them can see it: in Redis when it is the broker, else beside the file-system broker's
queue (which only works on one machine anyway).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from django.conf import settings

from core.redis import redis_client

logger = logging.getLogger(__name__)

TICK_KEY = "drainboard:tick:last"
TICK_FILE = "tick-last"


def tick_file() -> Path:
    return Path(settings.BROKER_DIR) / TICK_FILE


def record_tick(started: float | None = None) -> None:
    """Called by the tick as it starts. A failure here must never stop the tick: it is logged and forgotten."""
    started = time.time() if started is None else started
    url = str(settings.CELERY_BROKER_URL)
    try:
        if url.startswith("filesystem://"):
            path = tick_file()
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(repr(started))
            tmp.replace(path)  # atomic: a reader never sees half a number
        else:
            client = redis_client(url)
            try:
                client.set(TICK_KEY, repr(started))
            finally:
                client.close()
    except Exception as error:  # noqa: BLE001
        logger.warning("could not record the tick time: %s", type(error).__name__)


def last_tick() -> float | None:
    """Unix time at which the last tick started, or None if no tick was ever recorded (or the store is down)."""
    url = str(settings.CELERY_BROKER_URL)
    try:
        if url.startswith("filesystem://"):
            return float(tick_file().read_text())
        client = redis_client(url)
        try:
            value = client.get(TICK_KEY)
        finally:
            client.close()
        return float(value) if value is not None else None  # type: ignore[arg-type]
    except (OSError, ValueError):
        return None
    except Exception as error:  # noqa: BLE001
        logger.warning("could not read the tick time: %s", type(error).__name__)
        return None
