"""core.dispatch: a task sent by name, after the commit, with its countdown capped."""

from __future__ import annotations

import pytest
from celery import current_app
from django.db import transaction


@pytest.fixture
def sent(monkeypatch):
    calls: list[tuple[str, tuple, dict]] = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args=(), **options: calls.append((name, args, options)))
    return calls


def test_a_task_is_sent_by_name_only_after_the_commit(db, sent, django_capture_on_commit_callbacks):
    from core import dispatch

    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            dispatch.send_on_commit("notifications.tasks.deliver", 7)
            assert sent == []
    assert sent == [("notifications.tasks.deliver", (7,), {})]


def test_a_rolled_back_transaction_sends_nothing(db, sent, django_capture_on_commit_callbacks):
    from core import dispatch

    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            dispatch.send_on_commit("notifications.tasks.deliver", 7)
            raise RuntimeError("rolled back")
    assert sent == []


@pytest.mark.parametrize(
    ("countdown", "options"), [(None, {}), (0, {}), (5, {"countdown": 5}), (600, {"countdown": 60})]
)
def test_a_countdown_is_capped_below_the_brokers_visibility_timeout(sent, countdown, options):
    from core import dispatch

    dispatch.send("evictions.tasks.attempt_pod", 1, countdown=countdown)
    assert sent == [("evictions.tasks.attempt_pod", (1,), options)]
