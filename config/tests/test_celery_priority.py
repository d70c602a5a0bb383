"""The tick goes before a backlog: on Redis, beat's tick (priority 0) is taken ahead of tasks already queued."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings

from config.celery import app
from evictions.tasks import attempt_pod, tick


def test_the_tick_and_follow_rounds_go_ahead_of_every_other_task():
    from evictions.tasks import follow_request

    assert app.conf.task_default_priority == 3
    assert app.conf.beat_schedule["tick"]["options"]["priority"] == 0
    assert tick.priority == 0 and follow_request.priority == 0
    assert attempt_pod.priority in (None, 3)  # None: the default applies when it is sent


def test_a_tick_sent_after_a_backlog_is_received_first_from_redis():
    if not settings.REDIS_URL:
        pytest.skip("priorities are a Redis feature; the file-system broker of `make run` has none (CI uses Redis)")
    queue = f"priority-test-{uuid.uuid4().hex}"
    options = app.conf.beat_schedule["tick"]["options"]
    with app.connection_for_write() as connection:
        for n in range(20):  # a backlog of attempts, sent with the default priority
            attempt_pod.apply_async(args=(n,), queue=queue, connection=connection)
        tick.apply_async(queue=queue, connection=connection, **options)
        received = []
        with connection.SimpleQueue(queue) as simple:
            for _ in range(21):
                message = simple.get(timeout=5)
                received.append(message.headers["task"])
                message.ack()
            simple.queue.delete()
    assert received[0] == "evictions.tasks.tick"
    assert received[1:] == ["evictions.tasks.attempt_pod"] * 20


def test_a_follow_round_sent_by_name_keeps_its_priority():
    """Services send tasks by name (core.dispatch), which a task's decorator options do not reach when the sending
    process never imported the tasks module: the route carries the priority."""
    assert app.amqp.router.route({}, "evictions.tasks.follow_request")["priority"] == 0
    assert app.amqp.router.route({}, "evictions.tasks.tick")["priority"] == 0
    assert "priority" not in app.amqp.router.route({}, "evictions.tasks.attempt_pod")


def test_a_follow_round_sent_by_name_after_a_backlog_is_received_first_from_redis():
    if not settings.REDIS_URL:
        pytest.skip("priorities are a Redis feature; the file-system broker of `make run` has none (CI uses Redis)")
    queue = f"priority-test-{uuid.uuid4().hex}"
    with app.connection_for_write() as connection:
        for n in range(5):
            app.send_task("evictions.tasks.attempt_pod", args=(n,), queue=queue, connection=connection)
        app.send_task("evictions.tasks.follow_request", args=(1,), queue=queue, connection=connection)
        received = []
        with connection.SimpleQueue(queue) as simple:
            for _ in range(6):
                message = simple.get(timeout=5)
                received.append(message.headers["task"])
                message.ack()
            simple.queue.delete()
    assert received[0] == "evictions.tasks.follow_request"
