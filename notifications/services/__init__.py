"""Notification services: notify() and notify_long_blocks() record deliveries, delivery_send() sends one, and
endpoint_create/update/delete manage endpoints. Import from here; the modules are an implementation detail."""

from notifications.services.endpoints import (
    ADD,
    CHANGE,
    DELETE,
    UNCHANGED,
    Unchanged,
    endpoint_create,
    endpoint_delete,
    endpoint_update,
)
from notifications.services.notices import build_payload, notify, notify_long_blocks, request_url
from notifications.services.sending import (
    MAX_ATTEMPTS,
    RETRY_DELAYS_SECONDS,
    SendFailed,
    deliveries_due,
    delivery_send,
    error_in_words,
)

__all__ = [
    "ADD",
    "CHANGE",
    "DELETE",
    "MAX_ATTEMPTS",
    "RETRY_DELAYS_SECONDS",
    "UNCHANGED",
    "SendFailed",
    "Unchanged",
    "build_payload",
    "deliveries_due",
    "delivery_send",
    "endpoint_create",
    "endpoint_delete",
    "endpoint_update",
    "error_in_words",
    "notify",
    "notify_long_blocks",
    "request_url",
]
