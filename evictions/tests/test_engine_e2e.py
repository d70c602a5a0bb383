"""The eviction engine end to end: a real Celery worker process, the database the tests use (PostgreSQL and Redis
in CI), and kubesim over HTTPS."""

from __future__ import annotations

import pytest

from audit.selectors import audit_chain_verify
from audit.services import System
from clusters import services as cluster_services
from evictions.models import EvictionAttempt, EvictionRequest, PodEviction, PodStatus, RequestStatus
from evictions.planning import DrainOptions
from evictions.services import pods as pod_services
from evictions.services.requests import RequestInput, request_create
from kubesim import Simulator
from tests.worker import celery_worker, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

ALL_OPTIONS = DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True, force=True)


@pytest.fixture
def sim():
    with Simulator(scenario="demo", time_scale=10) as simulator:
        yield simulator


@pytest.fixture
def cluster(sim):
    connection = cluster_services.connection_from_input(api_url=sim.url, ca_pem=sim.ca_pem, token=sim.token)
    created = cluster_services.cluster_create(actor=System("test"), name="demo", connection=connection, qps_limit=50)
    cluster_services.cluster_check(actor=System("test"), cluster=created)
    created.refresh_from_db()
    assert created.reachable
    return created


def request_status(request_id: int) -> str:
    return EvictionRequest.objects.get(pk=request_id).status


def finished(request_id: int) -> bool:
    return request_status(request_id) in {RequestStatus.SUCCEEDED, RequestStatus.FAILED, RequestStatus.CANCELLED}


def test_drain_waits_for_replacements_and_finishes(rita, cluster, sim):
    with celery_worker():
        request = request_create(
            actor=rita,
            data=RequestInput(
                cluster=cluster, kind="drain", reason="kernel upgrade", node="node-2", options=ALL_OPTIONS
            ),
        )
        wait_until(lambda: finished(request.pk), timeout=90, message="the drain to finish")
    request.refresh_from_db()
    assert request.status == RequestStatus.SUCCEEDED, request.status_reason
    pods = {p.name: p for p in PodEviction.objects.filter(request=request)}
    daemonset = [p for p in pods.values() if p.name.startswith("kube-proxy")]
    assert daemonset and all(p.status == PodStatus.SKIPPED for p in daemonset)
    evictable = [p for p in pods.values() if p not in daemonset]
    assert evictable and all(p.status == PodStatus.EVICTED for p in evictable), {p.name: p.status for p in evictable}
    web = [p for p in evictable if p.namespace == "shop"]
    answers = [
        list(EvictionAttempt.objects.filter(pod=p).order_by("at").values_list("http_status", flat=True)) for p in web
    ]
    assert any(a[0] == 429 and a[-1] == 201 for a in answers), answers
    assert [n["unschedulable"] for n in sim.state()["nodes"] if n["name"] == "node-2"] == [True]
    assert all(p.seconds_to_evict is not None for p in evictable)
    assert audit_chain_verify().ok


def test_pod_under_two_budgets_needs_intervention_and_delete_directly_resolves_it(rita, olga, cluster, sim):
    with celery_worker():
        request = request_create(
            actor=rita,
            data=RequestInput(
                cluster=cluster,
                kind="pods",
                reason="move prometheus",
                targets=(pod_target("monitoring", "prometheus-0"),),
            ),
        )
        wait_until(
            lambda: request_status(request.pk) == RequestStatus.NEEDS_INTERVENTION,
            timeout=30,
            message="needs intervention",
        )
        pod = PodEviction.objects.get(request=request)
        assert pod.status == PodStatus.NEEDS_INTERVENTION
        assert "More than one PodDisruptionBudget" in pod.note
        assert pod.attempts == 1  # no blind retries
        pod_services.pod_force_delete(
            actor=olga,
            pod_id=pod.pk,
            reason="two PDBs, agreed with owners",
            confirm_name="prometheus-0",
            grace_period_seconds=0,
        )
        wait_until(lambda: finished(request.pk), timeout=30, message="the request to finish")
    pod.refresh_from_db()
    assert pod.status == PodStatus.DELETED
    assert request_status(request.pk) == RequestStatus.SUCCEEDED


def pod_target(namespace: str, name: str):
    from evictions.planning import PodTarget

    return PodTarget(namespace=namespace, name=name)
