"""On PostgreSQL, a worker or a person changing a request or a pod must not deadlock with a transaction that creates
another request on the same cluster (found by the chaos suite: two drains submitted together while the first
started). Creating a request holds the audit chain head and checks its foreign key to the cluster row (FOR KEY
SHARE) at commit; a transaction that had locked that cluster row FOR UPDATE (explicitly, or through
select_related) and then waited for the audit chain head made a cycle."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from audit.services import System, audit_record
from evictions.models import EvictionRequest, PodEviction, PodStatus, RequestStatus
from evictions.services.pods import pod_skip
from evictions.services.requests import request_start
from tests.factories import ClusterFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def new_request(cluster, user) -> EvictionRequest:
    return EvictionRequest.objects.create(
        cluster=cluster,
        kind="pods",
        status=RequestStatus.SCHEDULED,
        requester=user,
        reason="locking test",
        targets=[],
        options={},
        plan={"pods": []},
    )


def waiting_on_a_lock(pid: int) -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return bool(row) and row[0] == "Lock"


def concurrently_with_a_request_created_on_the_same_cluster(cluster, user, change) -> EvictionRequest:
    """Run `change` in another connection while this one, as request_create does, holds the audit chain head and has
    inserted a request whose foreign key to the cluster is checked at commit; `change` must not fail."""
    errors: list[BaseException] = []
    starter_pid: list[int] = []

    def run() -> None:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                starter_pid.append(cursor.fetchone()[0])
            change()
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    # As request_create does: the audit chain head is locked, and the new row's foreign key to the cluster is
    # checked (FOR KEY SHARE on the cluster row) only at commit, Django's constraints being deferred.
    with transaction.atomic():
        audit_record(actor=System("test"), action="request.create", target=cluster, cluster=cluster)
        second = new_request(cluster, user)
        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 10
        while not (starter_pid and waiting_on_a_lock(starter_pid[0])) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert starter_pid and waiting_on_a_lock(starter_pid[0]), "the change did not reach the audit head lock"
    thread.join(timeout=20)
    assert not errors, errors
    return second


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("row locks and deferred foreign-key checks are PostgreSQL's; SQLite has one writer at a time")


def test_a_request_starting_while_another_is_created_on_its_cluster_does_not_deadlock(postgresql, rita):
    cluster = ClusterFactory()
    first = new_request(cluster, rita)
    second = concurrently_with_a_request_created_on_the_same_cluster(
        cluster, rita, lambda: request_start(request_id=first.pk)
    )
    first.refresh_from_db()
    assert first.status == RequestStatus.SUCCEEDED  # no pods to evict: started and finished at once
    assert EvictionRequest.objects.filter(pk=second.pk).exists()


def test_a_pod_skipped_while_a_request_is_created_on_its_cluster_does_not_deadlock(postgresql, rita, olga):
    cluster = ClusterFactory()
    first = new_request(cluster, rita)
    pod = PodEviction.objects.create(request=first, namespace="shop", name="web-1", uid="u-1", status="blocked")
    second = concurrently_with_a_request_created_on_the_same_cluster(
        cluster, rita, lambda: pod_skip(actor=olga, pod_id=pod.pk, reason="owner agreed")
    )
    pod.refresh_from_db()
    assert pod.status == PodStatus.SKIPPED
    assert EvictionRequest.objects.filter(pk=second.pk).exists()
