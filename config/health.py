"""/healthz: is the database answering and the Celery broker reachable? For load balancers and compose checks."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from core.redis import redis_client


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # noqa: BLE001 - any failure means unhealthy; only the kind is reported
        return f"unreachable ({type(error).__name__})"
    return "ok"


def check_broker() -> str:
    """Redis: a PING with a short timeout. File-system broker: its queue folder accepts a new file."""
    url = str(settings.CELERY_BROKER_URL)
    if url.startswith("filesystem://"):
        folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
        probe = folder / f".healthz-{os.getpid()}-{uuid.uuid4().hex}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            # The folder name is not a secret, but the error text may hold a full path: report the kind only.
            return f"queue folder not writable ({type(error).__name__})"
        return "ok"
    client = None
    try:
        client = redis_client(url)
        client.ping()
    except redis.exceptions.TimeoutError:
        return "unreachable (timed out)"
    except redis.exceptions.AuthenticationError:
        return "refused our credentials"
    except redis.exceptions.ConnectionError:
        return "unreachable (cannot connect)"
    except Exception as error:  # noqa: BLE001 - never the URL: it may carry a password
        return f"unreachable ({type(error).__name__})"
    finally:
        if client is not None:
            client.close()
    return "ok"


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 {"status": "ok", "database": "ok", "broker": "ok"}, or 503 with the failing part in words."""
    checks = {"database": check_database(), "broker": check_broker()}
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "unhealthy", **checks}, status=200 if healthy else 503)
