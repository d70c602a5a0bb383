"""The engine's part of beat's tick: start due work, recover lost work, flag stuck work, and say that the tick ran.
Every piece of work it finds is sent at once as a task by name (it holds no transaction)."""

from __future__ import annotations

from core.heartbeat import record_tick
from evictions.services import pods as pod_services
from evictions.services import requests as request_services
from evictions.services import windows as window_services
from evictions.services.common import send_now


def tick_run() -> dict[str, int]:
    """Beat runs this every TICK_SECONDS: start due work, recover lost work, flag stuck work. (Cluster checks and
    notifications have their own ticks: clusters.tasks.tick, notifications.tasks.tick.)"""
    record_tick()  # for /metrics: how long ago the last tick ran
    counts: dict[str, int] = {}
    counts["window_closed"] = window_services.requests_window_closed()
    counts["window_opened"] = window_services.requests_window_reopened()
    started = request_services.requests_due_to_start()
    for request_id in started:
        send_now("start_request", request_id)
    late = pod_services.pods_due()
    for pod_id in late:
        send_now("attempt_pod", pod_id)
    stuck = pod_services.pods_blocked_past_deadline()
    for pod_id in stuck:
        send_now("deadline_reached", pod_id)
    follow = pod_services.requests_needing_followers()
    for request_id in follow:
        send_now("follow_request", request_id)
    watch = pod_services.clusters_needing_watchers()
    for cluster_id in watch:
        send_now("watch_budgets", cluster_id)
    counts.update(started=len(started), late=len(late), stuck=len(stuck), follow=len(follow), watch=len(watch))
    return counts
