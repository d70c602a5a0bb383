"""A budget that frees a disruption gives it to a pod nobody is attempting: a pod still claimed (an attempt in flight,
or one a killed worker left behind) is passed over. Found by the chaos suite: the watcher kept choosing the stranded
pod, whose attempt returned at once, and every pod behind that budget waited for the claim to run out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from evictions import tasks
from evictions.models import EvictionAttempt, EvictionRequest, PodEviction, PodStatus, RequestStatus
from kubesim import Simulator
from tests.kubesim_cluster import register_sim

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster():
    with Simulator(scenario="demo") as sim:
        yield register_sim(sim, name="demo")


def blocked_pod(cluster, user, name: str, *, since: timedelta, claimed: bool) -> PodEviction:
    request = EvictionRequest.objects.create(
        cluster=cluster,
        kind="drain",
        status=RequestStatus.RUNNING,
        requester=user,
        reason="stranded claim",
        node="node-1",
        pods_created_at=timezone.now(),
    )
    now = timezone.now()
    return PodEviction.objects.create(
        request=request,
        namespace="shop",
        name=name,
        uid=f"uid-{name}",  # no such pod in the cluster: the attempt is answered 404
        status=PodStatus.BLOCKED,
        blocking_pdb="shop/web-pdb",
        blocked_since=now - since,
        next_attempt_at=now,
        claimed_until=now + timedelta(seconds=40) if claimed else None,
    )


def test_a_freed_disruption_goes_to_the_longest_blocked_pod_that_is_not_claimed(cluster, rita):
    stranded = blocked_pod(cluster, rita, "web-old", since=timedelta(minutes=5), claimed=True)
    waiting = blocked_pod(cluster, rita, "web-new", since=timedelta(minutes=1), claimed=False)
    tasks._retry_freed(cluster.pk, {"shop/web-pdb": 1})
    assert EvictionAttempt.objects.filter(pod=waiting).count() == 1
    assert not EvictionAttempt.objects.filter(pod=stranded).exists()
    stranded.refresh_from_db()
    assert stranded.status == PodStatus.BLOCKED and stranded.claimed_until is not None  # left to its claim


def test_the_tick_sends_a_pod_whose_claim_a_killed_worker_left_behind_even_with_a_live_watcher(cluster, rita, settings):
    from evictions.services import pods as pod_services

    settings.TICK_SECONDS = 2
    stranded = blocked_pod(cluster, rita, "web-old", since=timedelta(minutes=5), claimed=True)
    waiting = blocked_pod(cluster, rita, "web-new", since=timedelta(minutes=1), claimed=False)
    PodEviction.objects.filter(pk__in=[stranded.pk, waiting.pk]).update(
        next_attempt_at=timezone.now() - timedelta(seconds=60)
    )
    PodEviction.objects.filter(pk=stranded.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    cluster.watcher_until = timezone.now() + timedelta(seconds=10)
    cluster.save(update_fields=["watcher_until"])
    assert pod_services.pods_due() == [stranded.pk]  # the other one is the live watcher's
