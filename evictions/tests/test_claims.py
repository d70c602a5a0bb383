"""Short claims kept alive while their attempt runs (evictions/claims.py): a slow eviction keeps its pod however long
the cluster takes; a claim that ran out under its attempt is not used to write the pod; a killed worker's claim frees
the pod within CLAIM_SECONDS. Against kubesim over HTTPS, on the real database."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from evictions import claims
from evictions.claims import CLAIM_SECONDS, RENEW_SECONDS, Keeper, keeper
from evictions.models import EvictionAttempt, PodEviction, PodStatus
from evictions.services import pods as pod_services
from kubesim import Simulator
from tests.factories import running_drain
from tests.kubesim_cluster import register_sim

pytestmark = pytest.mark.django_db


@pytest.fixture
def sim():
    with Simulator(scenario="demo") as running:
        yield running


def pod_to_evict(sim, user, *, claimed_until=None) -> PodEviction:
    """A web pod on node-2 (web-pdb allows one disruption: its eviction is accepted), due now in a running request."""
    cluster = register_sim(sim, name="demo")
    web = next(
        p
        for p in sim.store.list("pods")
        if p["metadata"]["name"].startswith("web-") and p["spec"]["nodeName"] == "node-2"
    )
    now = timezone.now()
    request = running_drain(cluster, user, node="node-2", reason="claims")
    return PodEviction.objects.create(
        request=request,
        namespace="shop",
        name=web["metadata"]["name"],
        uid=web["metadata"]["uid"],
        status=PodStatus.PENDING,
        next_attempt_at=now,
        claimed_until=claimed_until,
    )


def test_the_keeper_moves_on_a_held_claim_before_it_runs_out_and_not_before(sim, rita):
    now = timezone.now()
    token = claims.claim_until(now)
    pod = pod_to_evict(sim, rita, claimed_until=token)
    mine = Keeper()
    with mine.holding(pod.pk, token) as claim:
        assert mine.renew_due(now + timedelta(seconds=RENEW_SECONDS - 1)) == 0  # fresh: left alone
        later = now + timedelta(seconds=RENEW_SECONDS + 0.5)
        assert mine.renew_due(later) == 1
        assert claim.until == later + timedelta(seconds=CLAIM_SECONDS)
        pod.refresh_from_db()
        assert pod.claimed_until == claim.until
    assert mine.renew_due(now + timedelta(seconds=CLAIM_SECONDS)) == 0  # released: no longer renewed


def test_a_claim_another_attempt_took_is_lost_not_renewed(sim, rita):
    now = timezone.now()
    token = claims.claim_until(now)
    pod = pod_to_evict(sim, rita, claimed_until=token)
    theirs = now + timedelta(seconds=CLAIM_SECONDS + 5)
    PodEviction.objects.filter(pk=pod.pk).update(claimed_until=theirs)  # ours ran out; another worker claimed it
    mine = Keeper()
    with mine.holding(pod.pk, token) as claim:
        assert mine.renew_due(now + timedelta(seconds=RENEW_SECONDS + 0.5)) == 0
    assert claim.until is None
    pod.refresh_from_db()
    assert pod.claimed_until == theirs  # theirs untouched


def test_an_answer_that_comes_after_the_claim_ran_out_is_logged_and_changes_nothing(sim, rita):
    from clusters.kubetypes import Answer
    from evictions.outcomes import Next, Outcome

    now = timezone.now()
    theirs = now + timedelta(seconds=CLAIM_SECONDS)
    pod = pod_to_evict(sim, rita, claimed_until=theirs)  # another attempt holds the pod now
    claimed = PodEviction.objects.select_related("request__cluster").get(pk=pod.pk)
    accepted = Outcome(Next.TERMINATING, "Eviction accepted.")
    pod_services._record(claimed=claimed, answer=Answer(status=201), outcome=accepted, at=now, token=None)
    pod.refresh_from_db()
    assert (pod.status, pod.attempts, pod.claimed_until) == (PodStatus.PENDING, 0, theirs)
    late = EvictionAttempt.objects.get(pod=pod)
    assert late.http_status == 201 and late.outcome == pod_services.LATE


@pytest.mark.django_db(transaction=True)  # the keeper's thread has its own connection: it must see committed rows
def test_an_eviction_slower_than_the_claim_keeps_its_pod_and_is_recorded(sim, rita):
    pod = pod_to_evict(sim, rita)
    slow = CLAIM_SECONDS + 3
    sim.inject_fault("latency", count=1, path=r"/eviction$", method="POST", latency=slow)
    second: dict[str, object] = {}

    def another_worker() -> None:  # tries to claim the pod after the first claim's original end
        try:
            time.sleep(CLAIM_SECONDS + 1)
            second["claimed"] = pod_services._claim(pod.pk, timezone.now())
        finally:
            connections.close_all()

    thread = threading.Thread(target=another_worker)
    thread.start()
    started = time.monotonic()
    outcome = pod_services.pod_attempt(pod_id=pod.pk)
    thread.join()
    assert time.monotonic() - started >= slow
    assert second["claimed"] is None  # the claim was still held, renewed
    assert outcome is not None
    pod.refresh_from_db()
    assert pod.status == PodStatus.TERMINATING and pod.attempts == 1 and pod.claimed_until is None
    assert EvictionAttempt.objects.get(pod=pod).http_status == 201
    assert keeper._held == {}


@pytest.mark.django_db(transaction=True)
def test_a_claim_no_process_renews_frees_its_pod_after_claim_seconds(sim, rita):
    """What a SIGKILLed worker leaves: the claim, never renewed, lets the pod go CLAIM_SECONDS after it was taken."""
    now = timezone.now()
    pod = pod_to_evict(sim, rita, claimed_until=claims.claim_until(now))
    assert pod_services._claim(pod.pk, now + timedelta(seconds=CLAIM_SECONDS - 1)) is None
    assert pod_services._claim(pod.pk, now + timedelta(seconds=CLAIM_SECONDS + 0.1)) is not None
