"""LOG_FORMAT=json: one JSON object per log line, with the request id and, inside a Celery task, the task."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger import json as jsonlogger

# The record's attributes that every line has, under the names our log collectors expect.
_FIELDS = ["levelname", "name", "message"]
_RENAMES = {"levelname": "level", "name": "logger", "exc_info": "exception", "stack_info": "stack"}
# Extra attributes that callers attach and that are safe to pass on (if a plain value). The library would write out
# every attribute it does not know (Django attaches the whole HttpRequest to django.request records, with its cookies,
# headers and query string), so what may leave is listed, in the order of the line; nothing else is serialised.
_SAFE_EXTRAS = ("status_code",)
_LINE = (
    "time",
    "level",
    "logger",
    "message",
    "request_id",
    "task_name",
    "task_id",
    *_SAFE_EXTRAS,
    "exception",
    "stack",
)


def _current_task() -> Any:
    try:
        from celery import current_task
    except ImportError:  # pragma: no cover - Celery is a dependency; the formatter must still never fail
        return None
    return current_task


class JsonFormatter(jsonlogger.JsonFormatter):
    def __init__(self) -> None:
        super().__init__(
            _FIELDS,
            rename_fields=_RENAMES,
            json_default=str,
            json_ensure_ascii=False,
        )

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        # Milliseconds in UTC (the library's own timestamp has microseconds); "-" until RequestIdFilter sets the id.
        fields: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "request_id": "-",
        }
        super().add_fields(fields, record, message_dict)
        if isinstance(record.msg, dict):
            fields["message"] = record.getMessage()  # whole, as before; the library would spread its keys
        task = _current_task()
        request = getattr(task, "request", None) if task else None
        if request is not None and getattr(request, "id", None):
            fields["task_name"] = task.name
            fields["task_id"] = request.id
        for key in _LINE:
            value = fields.get(key)
            if key in fields and (key not in _SAFE_EXTRAS or isinstance(value, int | float | str | bool)):
                log_data[key] = value
