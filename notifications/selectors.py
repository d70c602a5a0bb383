"""Reads of notification endpoints and the delivery log, shared by pages and the API."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import BooleanField, Case, OuterRef, QuerySet, Subquery, Value, When

from core.keyset import Order
from notifications.models import NotificationDelivery, NotificationEndpoint


@dataclass(frozen=True)
class DeliveryFilters:
    endpoint: int | None = None
    status: str = ""
    request: int | None = None
    event: str = ""


def endpoint_list() -> QuerySet[NotificationEndpoint]:
    """Endpoints with their cluster and the status and time of their latest delivery, in one query.

    The URL is not even loaded: `url_is_set` says whether there is one, so a list never decrypts a secret.
    """
    latest = NotificationDelivery.objects.filter(endpoint=OuterRef("pk")).order_by("-created_at", "-pk")
    return (
        NotificationEndpoint.objects.select_related("cluster", "created_by")
        .defer("url_secret")
        .annotate(
            url_is_set=Case(When(url_secret="", then=Value(False)), default=Value(True), output_field=BooleanField()),
            last_delivery_status=Subquery(latest.values("status")[:1]),
            last_delivery_at=Subquery(latest.values("created_at")[:1]),
        )
        .order_by("name", "pk")
    )


# Newest first: the order of the delivery log's signed keyset cursors, on the page and in the API.
DELIVERY_ORDER = Order("newest", "Newest first", "created_at", True)


def delivery_list(filters: DeliveryFilters) -> QuerySet[NotificationDelivery]:
    """The delivery log, newest first."""
    rows = (
        NotificationDelivery.objects.select_related("endpoint", "request")
        .defer("endpoint__url_secret")
        .order_by("-created_at", "-pk")
    )
    if filters.endpoint is not None:
        rows = rows.filter(endpoint_id=filters.endpoint)
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.request is not None:
        rows = rows.filter(request_id=filters.request)
    if filters.event:
        rows = rows.filter(event=filters.event)
    return rows
