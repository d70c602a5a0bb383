"""Celery tasks for notifications: thin, each takes a delivery id and calls one service."""

from __future__ import annotations

from celery import shared_task

from notifications import services


@shared_task(ignore_result=True, soft_time_limit=30, time_limit=45)
def deliver(delivery_id: int) -> None:
    services.delivery_send(delivery_id=delivery_id)


@shared_task(ignore_result=True, soft_time_limit=20, time_limit=30)
def tick() -> dict[str, int]:
    """Beat runs this every TICK_SECONDS: notices for pods blocked too long, and deliveries whose retry is due."""
    return {"blocked_notices": services.notify_long_blocks(), "notifications_due": services.deliveries_due()}
