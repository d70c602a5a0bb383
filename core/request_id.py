"""A request id for every web request, carried into logs and audit events."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

_current: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_META_KEY = "drainboard.request_id"


def current_request_id() -> str:
    return _current.get()


def set_request_id(value: str) -> contextvars.Token[str]:
    return _current.set(value)


class RequestIdMiddleware:
    """Takes a well-formed X-Request-ID from a proxy, or makes one; echoes it in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE.match(incoming) else uuid.uuid4().hex
        token = _current.set(request_id)
        # Django logs 4xx/5xx answers ("Not Found: /x") after the middleware chain has returned, when the context
        # variable is reset: the filter below finds the id on the request the log record carries.
        request.META[_META_KEY] = request_id
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _current.get()
        if request_id == "-":
            meta = getattr(getattr(record, "request", None), "META", None)
            if isinstance(meta, dict):
                request_id = meta.get(_META_KEY, "-")
        record.request_id = request_id
        return True
