"""The clusters' beat tick, run by a real Celery worker process: it refreshes the reachability of clusters that are
due."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from clusters import services
from clusters.models import Cluster
from clusters.tasks import tick
from tests.factories import ClusterFactory
from tests.tlsserver import TLSServer, kubernetes_routes
from tests.worker import celery_worker, wait_until


@pytest.mark.django_db
def test_tick_finds_clusters_never_checked_or_checked_too_long_ago(settings):
    settings.CLUSTER_CHECK_INTERVAL_SECONDS = 60
    never = ClusterFactory()
    stale = ClusterFactory(last_checked_at=timezone.now() - timedelta(seconds=120))
    ClusterFactory(last_checked_at=timezone.now() - timedelta(seconds=5))
    assert sorted(services.clusters_due_for_check()) == sorted([never.pk, stale.pk])


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_tick_and_records_reachability(alice):
    server = TLSServer(kubernetes_routes("worker-token"))
    try:
        cluster = services.cluster_create(
            actor=alice,
            name="via-worker",
            connection=services.connection_from_input(api_url=server.url, ca_pem=server.ca_pem, token="worker-token"),
        )
        with celery_worker():
            tick.delay()

            def checked() -> bool:
                return Cluster.objects.get(pk=cluster.pk).reachable is True

            wait_until(checked, timeout=45, message="the worker to check the cluster")
        refreshed = Cluster.objects.get(pk=cluster.pk)
        assert refreshed.server_version == "v1.30.2"
        event = AuditEvent.objects.get(action="cluster.check")
        assert event.actor_name == "system:tick"
        assert any(path == "/version" for _, path, _ in server.requests)
    finally:
        server.stop()
