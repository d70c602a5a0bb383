"""gunicorn's settings for the web process (`gunicorn -c config/gunicorn.py config.wsgi:application`), from the
environment: threaded workers, so that a few open dashboards polling every 2 seconds over htmx do not queue up
behind one another as they did with three single-request workers."""

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {value!r}") from None
    if number < 1:
        raise SystemExit(f"{name} must be at least 1, got {number}")
    return number


bind = "0.0.0.0:8000"  # docker-compose.yml publishes it on 127.0.0.1:8000 and its health check calls it there
worker_class = "gthread"
# Processes: about one per core. Threads per process: requests each serves at once (mostly waiting on the database).
workers = _int("GUNICORN_WORKERS", 2)
threads = _int("GUNICORN_THREADS", 8)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = 30
keepalive = 5
accesslog = "-"
