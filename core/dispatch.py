"""The one way from a service to Celery: a task sent by its name, after the transaction that wrote its rows commits.

Services never import a tasks module (tasks import services; nothing imports back), as Zulip's actions queue work by
queue name. Routing and priority come from CELERY_TASK_ROUTES by the same name, so they hold for every sender."""

from __future__ import annotations

from typing import Any

from django.db import transaction

# Countdowns stay far below the broker's visibility timeout; longer waits are the tick's job.
MAX_COUNTDOWN_SECONDS = 60.0


def send(name: str, *args: Any, countdown: float | None = None) -> None:
    """Send the task now (a caller outside a transaction, or one that must not wait for a commit)."""
    from celery import current_app

    options: dict[str, Any] = {}
    if countdown and countdown > 0:
        options["countdown"] = min(countdown, MAX_COUNTDOWN_SECONDS)
    current_app.send_task(name, args=args, **options)


def send_on_commit(name: str, *args: Any, countdown: float | None = None, robust: bool = False) -> None:
    """Send the task once the current transaction commits: never a task that runs before its row exists. `robust`:
    a broker that is down is logged, not raised, so it cannot fail the commit's caller (the tick sends it later)."""
    transaction.on_commit(lambda: send(name, *args, countdown=countdown), robust=robust)
