"""Approvals, windows and notifications end to end: a real Celery worker process, kubesim over HTTPS, and webhook
receivers on 127.0.0.1 (one of them failing)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.selectors import audit_chain_verify
from audit.services import System
from evictions.models import EvictionAttempt, EvictionRequest, PodEviction, PodStatus, RequestStatus
from evictions.planning import DrainOptions
from evictions.services.approvals import PolicyInput, policy_set, request_approve
from evictions.services.requests import RequestInput, request_create
from evictions.services.windows import WindowInput, window_create
from kubesim import Simulator
from notifications.models import NotificationDelivery
from notifications.services import endpoint_create
from tests.kubesim_cluster import register_sim
from tests.webhook import WebhookReceiver
from tests.worker import celery_worker, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(240)]

ALL_OPTIONS = DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True, force=True)
EVENTS = ["approval_requested", "approved", "rejected", "started", "blocked", "needs_intervention", "finished"]
TEST = System("test")


@pytest.fixture
def sim():
    with Simulator(scenario="demo", time_scale=10) as simulator:
        yield simulator


def test_a_drain_needing_approval_waits_for_it_then_runs_in_its_window_and_notifies(rita, adam, sim, webhook):
    cluster = register_sim(sim, name="prod")
    policy_set(actor=TEST, cluster_id=cluster.pk, data=PolicyInput(required_approvals=1))
    now = timezone.now()
    window = window_create(
        actor=TEST,
        cluster_id=cluster.pk,
        data=WindowInput(
            kind="one_off", label="tonight", starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(minutes=30)
        ),
    )
    endpoint_create(actor=TEST, name="team channel", kind="webhook", events=EVENTS, cluster=cluster, url=webhook.url)
    with WebhookReceiver(default_status=500) as broken:
        endpoint_create(actor=TEST, name="broken hook", kind="webhook", events=EVENTS, url=broken.url)
        with celery_worker():
            request = request_create(
                actor=rita,
                data=RequestInput(
                    cluster=cluster,
                    kind="drain",
                    reason="kernel upgrade",
                    node="node-2",
                    options=ALL_OPTIONS,
                    schedule="window",
                ),
            )
            webhook.wait_for(1)  # the approval request reached the channel: the worker is up and nothing else runs
            time.sleep(2)
            assert EvictionRequest.objects.get(pk=request.pk).status == RequestStatus.AWAITING_APPROVAL
            assert not PodEviction.objects.filter(request=request).exists()
            assert not EvictionAttempt.objects.exists()
            assert [n["unschedulable"] for n in sim.state()["nodes"] if n["name"] == "node-2"] == [False]

            request_approve(actor=adam, request_id=request.pk, comment="go ahead")
            wait_until(
                lambda: EvictionRequest.objects.get(pk=request.pk).finished, timeout=150, message="the drain to finish"
            )
            request.refresh_from_db()
            assert request.status == RequestStatus.SUCCEEDED, request.status_reason
            assert window.starts_at <= request.started_at < request.finished_at <= window.ends_at
            assert request.window_ends_at == window.ends_at
            evictable = PodEviction.objects.filter(request=request).exclude(status=PodStatus.SKIPPED)
            assert evictable.exists() and all(p.status == PodStatus.EVICTED for p in evictable)

            bodies = webhook.wait_for(4, timeout=30)
            events = [b["drainboard"]["event"] for b in bodies]
            assert events[:4] == ["approval_requested", "approved", "started", "finished"], events
            assert all(b["drainboard"]["request_id"] == request.pk for b in bodies)
            assert "adam" in bodies[1]["text"]

            # The broken endpoint was retried (10 s backoff) and every failure is in the delivery log.
            broken.wait_for(5, timeout=40)
            wait_until(
                lambda: NotificationDelivery.objects.filter(endpoint__name="broken hook", attempts__gte=2).exists(),
                timeout=30,
                message="a retried delivery",
            )
    failed = NotificationDelivery.objects.filter(endpoint__name="broken hook")
    assert failed.count() == 4 and all(d.status != "sent" for d in failed)
    assert all(d.last_status_code == 500 and "500" in d.last_error for d in failed if d.attempts)
    assert NotificationDelivery.objects.filter(endpoint__name="team channel", status="sent").count() == 4
    assert audit_chain_verify().ok
