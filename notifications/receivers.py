"""How notifications hear about eviction requests: a receiver of evictions.signals.request_event, connected when the
app is ready. It records the deliveries in the sender's transaction (services.notify never raises)."""

from __future__ import annotations

from typing import Any

from notifications import services


def on_request_event(sender: Any, *, event: str, request: Any, text: str = "", **kwargs: Any) -> None:
    services.notify(event=event, request=request, text=text)
