"""Celery tasks for evictions: each takes ids, calls services, and is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from evictions.services import budgets as budget_services
from evictions.services import pods as pod_services
from evictions.services import requests as request_services
from evictions.services import tick as tick_services


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def start_request(request_id: int) -> None:
    request_services.request_start(request_id=request_id)


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def attempt_pod(pod_id: int) -> None:
    pod_services.pod_attempt(pod_id=pod_id)


# Follow rounds and the tick are short and decide how soon work ends and lost work is found again: with Redis they
# are taken before the default priority (3) of a backlog of attempts (see CELERY_TASK_DEFAULT_PRIORITY).
@shared_task(ignore_result=True, soft_time_limit=30, time_limit=45, priority=0)
def follow_request(request_id: int, round_token: str = "") -> None:
    pod_services.request_follow_round(request_id=request_id, round_token=round_token)


@shared_task(
    ignore_result=True,
    soft_time_limit=budget_services.FOLLOW_SECONDS + 10,
    time_limit=budget_services.FOLLOW_SECONDS + 20,
)
def watch_budgets(cluster_id: int) -> None:
    budget_services.budgets_watch(cluster_id=cluster_id)


@shared_task(ignore_result=True, soft_time_limit=30, time_limit=45)
def deadline_reached(pod_id: int) -> None:
    pod_services.pod_deadline_reached(pod_id=pod_id)


@shared_task(ignore_result=True, soft_time_limit=30, time_limit=45)
def uncordon_node(request_id: int) -> None:
    request_services.request_uncordon(request_id=request_id)


@shared_task(ignore_result=True, soft_time_limit=20, time_limit=30, priority=0)
def tick() -> dict[str, int]:
    """Beat runs this every TICK_SECONDS (clusters and notifications have their own ticks)."""
    return tick_services.tick_run()
