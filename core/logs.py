"""LOG_FORMAT=json: one JSON object per log line, with the request id and, inside a Celery task, the task."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# Extra attributes that callers attach and that are safe to pass on. Anything else on a record (Django attaches the
# whole HttpRequest to django.request records, with its cookies and headers) is never written out.
_SAFE_EXTRAS = ("status_code",)


def _current_task() -> Any:
    try:
        from celery import current_task
    except ImportError:  # pragma: no cover - Celery is a dependency; the formatter must still never fail
        return None
    return current_task


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        task = _current_task()
        request = getattr(task, "request", None) if task else None
        if request is not None and getattr(request, "id", None):
            entry["task_name"] = task.name
            entry["task_id"] = request.id
        for key in _SAFE_EXTRAS:
            value = getattr(record, key, None)
            if isinstance(value, int | float | str | bool):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
