"""The eviction engine end to end: a real Celery worker process, the database the tests use (PostgreSQL and Redis
in CI), and kubesim over HTTPS."""

from __future__ import annotations

import itertools

import pytest

from audit.selectors import audit_chain_verify
from clusters import services as cluster_services
from evictions.models import REQUEST_FINISHED, EvictionAttempt, EvictionRequest, PodEviction, PodStatus, RequestStatus
from evictions.planning import DrainOptions
from evictions.services import pods as pod_services
from evictions.services.requests import RequestInput, request_create
from kubesim import Simulator
from tests.kubesim_cluster import register_sim
from tests.worker import celery_worker, run_ticks_until, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

ALL_OPTIONS = DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True, force=True)


@pytest.fixture
def sim():
    with Simulator(scenario="demo", time_scale=10) as simulator:
        yield simulator


@pytest.fixture
def cluster(sim):
    created = register_sim(sim, name="demo")
    assert created.reachable
    return created


def request_status(request_id: int) -> str:
    return EvictionRequest.objects.get(pk=request_id).status


def finished(request_id: int) -> bool:
    return request_status(request_id) in REQUEST_FINISHED


def test_drain_waits_for_replacements_and_finishes(rita, cluster, sim):
    # Take the web budget's one allowed disruption first (a web pod on another node), so that the node's web pods
    # are pushed back (429) until replacements are Ready.
    from clusters import kube

    endpoint = kube.Endpoint.for_cluster(cluster)
    elsewhere = next(p for p in kube.list_pods(endpoint, namespace="shop") if p.node != "node-2")
    evicted = kube.evict(endpoint, namespace="shop", name=elsewhere.name, uid=elsewhere.uid, api_version="policy/v1")
    assert evicted.status == 201
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
    assert request_status(request.pk) == RequestStatus.DONE_WITH_EXCEPTIONS  # a person deleted a pod directly


def pod_target(namespace: str, name: str):
    from evictions.planning import PodTarget

    return PodTarget(namespace=namespace, name=name)


def test_worker_killed_mid_drain_is_recovered_without_double_evictions(rita, cluster, sim):
    import os
    import signal

    original = {p["name"]: p["uid"] for p in sim.state()["pods"] if p["node"] == "node-2"}
    with celery_worker() as worker:
        request = request_create(
            actor=rita,
            data=RequestInput(cluster=cluster, kind="drain", reason="kill test", node="node-2", options=ALL_OPTIONS),
        )

        def some_done_some_waiting() -> bool:
            statuses = set(PodEviction.objects.filter(request=request).values_list("status", flat=True))
            return PodStatus.EVICTED in statuses and bool(statuses & {PodStatus.BLOCKED, PodStatus.TERMINATING})

        wait_until(some_done_some_waiting, timeout=60, interval=0.05, message="a drain half-way")
        os.killpg(worker.pid, signal.SIGKILL)
    with celery_worker():
        run_ticks_until(lambda: finished(request.pk), timeout=120, message="the drain to finish after the kill")
    assert request_status(request.pk) == RequestStatus.SUCCEEDED
    rows = list(PodEviction.objects.filter(request=request))
    assert len({(r.namespace, r.name) for r in rows}) == len(rows)  # one row per pod
    evicted_uids = {r.uid for r in rows if r.status == PodStatus.EVICTED}
    # Every eviction and delete the cluster accepted was for one of the node's original pods, each at most once.
    accepted = [
        e
        for e in sim.request_log()
        if e["method"] in {"POST", "DELETE"}
        and "/pods/" in e["path"]
        and e["status"] in (200, 201)
        and "dryRun" not in str(e.get("query", ""))
    ]
    names = [e["path"].split("/pods/")[1].split("/")[0] for e in accepted]
    assert set(names) <= set(original), set(names) - set(original)
    assert evicted_uids <= set(original.values())
    # The StatefulSet pod recreated under the same name on another node was never evicted.
    survivors = [p for p in sim.state()["pods"] if p["name"].startswith("postgres-") and not p["terminating"]]
    assert len(survivors) == 3


def test_no_attempt_precedes_its_retry_after_under_throttling(rita, cluster, sim):
    sim.inject_fault("throttle", count=4, path=r"/eviction$", retry_after=2)
    targets = (pod_target("default", "toolbox"),)
    with celery_worker():
        request = request_create(
            actor=rita, data=RequestInput(cluster=cluster, kind="pods", reason="throttle test", targets=targets)
        )
        wait_until(lambda: finished(request.pk), timeout=60, message="the request to finish")
    attempts = list(EvictionAttempt.objects.filter(pod__request=request).order_by("at"))
    throttled = [a for a in attempts if a.http_status == 429]
    assert len(throttled) >= 2 and attempts[-1].http_status == 201
    for before, after in itertools.pairwise(attempts):
        if before.http_status == 429 and before.retry_after:
            assert (after.at - before.at).total_seconds() >= before.retry_after, (before.at, after.at)
    pod = PodEviction.objects.get(request=request)
    assert pod.status == PodStatus.EVICTED and not pod.blocking_pdb  # throttling is not shown as a PDB block


def test_unauthorized_marks_the_cluster_and_fails_pods_without_retry_storms(rita, cluster, sim):
    targets = (pod_target("batch", "adhoc-debug"), pod_target("default", "toolbox"))
    request = request_create(
        actor=rita, data=RequestInput(cluster=cluster, kind="pods", reason="401 test", targets=targets)
    )
    sim.rotate_token()  # the credentials Drainboard holds no longer work
    sim.clear_request_log()
    with celery_worker():
        run_ticks_until(lambda: finished(request.pk), timeout=60, message="the request to fail")
    assert request_status(request.pk) == RequestStatus.FAILED
    cluster.refresh_from_db()
    assert cluster.reachable is False and "Unauthorized" in cluster.last_error
    pods = list(PodEviction.objects.filter(request=request))
    assert all(p.status == PodStatus.FAILED for p in pods)
    evictions = [e for e in sim.request_log() if e["path"].endswith("/eviction")]
    assert len(evictions) <= len(pods)  # at most one try each: no retry storm


def test_pausing_the_cluster_stops_new_attempts_and_resuming_finishes(rita, olga, cluster, sim):
    import time

    from django.utils import timezone

    with celery_worker():
        request = request_create(
            actor=rita,
            data=RequestInput(cluster=cluster, kind="drain", reason="pause test", node="node-2", options=ALL_OPTIONS),
        )
        wait_until(
            lambda: PodEviction.objects.filter(request=request, status=PodStatus.BLOCKED).exists(),
            timeout=60,
            interval=0.05,
            message="a blocked pod",
        )
        cluster_services.cluster_pause(actor=olga, cluster=cluster, reason="investigating the web PDB")
        paused_at = timezone.now()
        time.sleep(4)  # longer than the replacement takes to become Ready and than one tick in tests
        late = EvictionAttempt.objects.filter(pod__request=request, at__gt=paused_at).count()
        assert late == 0, "an attempt started after the cluster was paused"
        assert request_status(request.pk) == RequestStatus.RUNNING
        cluster_services.cluster_resume(actor=olga, cluster=cluster, reason="budget is fine")
        run_ticks_until(lambda: finished(request.pk), timeout=60, message="the drain to finish after resuming")
    assert request_status(request.pk) == RequestStatus.SUCCEEDED


def test_stuck_workload_needs_intervention_at_its_deadline_with_the_unready_pods_named(rita, cluster, sim):
    from datetime import timedelta

    from django.utils import timezone

    checkout = sorted(p["name"] for p in sim.state()["pods"] if p["namespace"] == "payments")
    targets = tuple(pod_target("payments", name) for name in checkout)
    with celery_worker():
        request = request_create(
            actor=rita, data=RequestInput(cluster=cluster, kind="pods", reason="stuck test", targets=targets)
        )
        wait_until(
            lambda: (
                PodEviction.objects.filter(request=request, status=PodStatus.BLOCKED).exists()
                and PodEviction.objects.filter(request=request, status=PodStatus.EVICTED).exists()
            ),
            timeout=30,
            interval=0.05,
            message="one checkout pod evicted (its replacement never Ready) and the other blocked behind the budget",
        )
        # The deadline (minutes in real use) passes now.
        EvictionRequest.objects.filter(pk=request.pk).update(deadline_at=timezone.now() - timedelta(seconds=1))
        run_ticks_until(
            lambda: (
                request_status(request.pk) == RequestStatus.NEEDS_INTERVENTION
                and "Not Ready behind it"
                in PodEviction.objects.get(request=request, status=PodStatus.NEEDS_INTERVENTION).note
            ),
            timeout=30,
            message="needs intervention with the reason",
        )
    stuck = PodEviction.objects.get(request=request, status=PodStatus.NEEDS_INTERVENTION)
    assert "payments/checkout-pdb" in stuck.note and "at the deadline" in stuck.note
    assert "not Ready" in stuck.note and "checkout-" in stuck.note.split("Not Ready behind it:")[1]
