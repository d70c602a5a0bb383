"""Two workers claiming the same pod at the same instant: exactly one wins, on PostgreSQL's row locking.

The scale benchmark (bench/scale.py) found pods evicted twice: the claim was an UPDATE whose conditions Django
had moved into a subquery (because one of them went through the request), and PostgreSQL re-checks only the outer
WHERE clause on the row version a waiting UPDATE gets, so a second worker saw the claim as still free."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from evictions.models import PodEviction, PodStatus
from evictions.services.pods import _claim
from tests.factories import ClusterFactory, running_drain

pytestmark = pytest.mark.django_db(transaction=True)


def waiting_on_a_lock() -> int:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # inside a transaction the view is otherwise frozen
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def test_a_claim_waiting_on_another_workers_claim_does_not_also_win(rita):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL row-lock re-checking; SQLite serialises every writer, so the race cannot happen")
    now = timezone.now()
    request = running_drain(ClusterFactory(), rita, reason="race")
    pod = PodEviction.objects.create(
        request=request, namespace="shop", name="web-1", uid="u-1", status=PodStatus.BLOCKED, next_attempt_at=now
    )
    first_holds, second_started, results = threading.Event(), threading.Event(), {}

    def first() -> None:
        try:
            with transaction.atomic():
                results["first"] = _claim(pod.pk, timezone.now())
                first_holds.set()
                assert second_started.wait(10)
                for _ in range(100):  # commit only once the second claim is queued behind our row lock
                    if waiting_on_a_lock():
                        break
                    time.sleep(0.05)
                results["second_was_waiting"] = waiting_on_a_lock() > 0
        finally:
            connections.close_all()

    def second() -> None:
        try:
            assert first_holds.wait(10)
            second_started.set()
            results["second"] = _claim(pod.pk, timezone.now() + timedelta(milliseconds=1))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results["second_was_waiting"], "the second claim never queued behind the first: the test proved nothing"
    assert results["first"] is not None
    assert results["second"] is None
