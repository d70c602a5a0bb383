"""The budget watcher: one per cluster, across requests; when its time is up with pods still blocked, it hands over
to a fresh watcher at once instead of leaving the cluster unwatched until the next tick; a freed disruption goes to
a pod nobody is attempting (found by the chaos suite: the watcher kept choosing a pod a killed worker left claimed,
whose attempt returned at once, and every pod behind that budget waited for the claim to run out). Against kubesim
over HTTPS."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from evictions import tasks
from evictions.models import EvictionAttempt, PodEviction, PodStatus
from evictions.services import budgets as budget_services
from evictions.services import pods as pod_services
from kubesim import Simulator
from tests.factories import running_drain
from tests.kubesim_cluster import register_sim

pytestmark = pytest.mark.django_db


@pytest.fixture
def sim():
    with Simulator(scenario="demo") as running:
        yield running


@pytest.fixture
def cluster(sim):
    return register_sim(sim, name="demo")


def blocked_pod(
    cluster, user, name: str, budget: str, *, since: timedelta = timedelta(0), claimed: bool = False
) -> PodEviction:
    """A pod a budget holds back in a request of its own; its uid is no pod in the cluster (an attempt gets 404)."""
    request = running_drain(cluster, user, reason="watch")
    now = timezone.now()
    return PodEviction.objects.create(
        request=request,
        namespace="shop",
        name=name,
        uid=f"uid-{name}",
        status=PodStatus.BLOCKED,
        blocking_pdb=budget,
        blocked_since=now - since,
        next_attempt_at=now,
        claimed_until=now + timedelta(seconds=40) if claimed else None,
    )


def test_one_watcher_serves_every_request_of_a_cluster(cluster, rita):
    blocked_pod(cluster, rita, "web-a", "shop/never-frees")
    blocked_pod(cluster, rita, "web-b", "shop/never-frees")
    assert pod_services.blocked_pods(cluster.pk).count() == 2
    assert pod_services.clusters_needing_watchers() == [cluster.pk]
    cluster.watcher_until = timezone.now() + timedelta(seconds=10)
    cluster.save(update_fields=["watcher_until"])
    assert pod_services.clusters_needing_watchers() == []  # a live lease: the tick starts no second watcher


def test_a_watcher_whose_time_is_up_hands_over_while_pods_are_still_blocked(cluster, rita, monkeypatch):
    blocked_pod(cluster, rita, "web-a", "shop/never-frees")  # no budget of that name: nothing frees it
    monkeypatch.setattr(budget_services, "FOLLOW_SECONDS", 1)
    monkeypatch.setattr(budget_services, "WATCH_TIMEOUT_SECONDS", 1)
    sent = []
    monkeypatch.setattr("core.dispatch.send", lambda name, *args, **kw: sent.append(args))
    tasks.watch_budgets(cluster.pk)
    assert sent == [(cluster.pk,)]
    cluster.refresh_from_db()
    assert cluster.watcher_until is None  # the lease is free for the next one


def test_a_watcher_with_nothing_blocked_ends_without_a_successor(cluster, monkeypatch):
    sent = []
    monkeypatch.setattr("core.dispatch.send", lambda name, *args, **kw: sent.append(args))
    tasks.watch_budgets(cluster.pk)
    assert sent == []


def test_the_tick_leaves_pods_waiting_for_a_budget_to_a_live_watcher(cluster, rita, settings):
    settings.TICK_SECONDS = 2
    waiting = blocked_pod(cluster, rita, "web-a", "shop/web-pdb")
    unnamed = blocked_pod(cluster, rita, "web-b", "")  # a 429 that named no budget: no watcher serves it
    overdue = timezone.now() - timedelta(seconds=30)
    PodEviction.objects.update(next_attempt_at=overdue)
    assert sorted(pod_services.pods_due()) == sorted([waiting.pk, unnamed.pk])  # no watcher: the tick sends both
    cluster.watcher_until = timezone.now() + timedelta(seconds=10)
    cluster.save(update_fields=["watcher_until"])
    assert pod_services.pods_due() == [unnamed.pk]


@pytest.mark.parametrize("watcher_alive, countdown_sent", [(True, False), (False, True)])
def test_a_budget_refusal_leaves_the_retry_to_a_live_watcher(cluster, rita, monkeypatch, watcher_alive, countdown_sent):
    from clusters.kubetypes import Answer
    from evictions.outcomes import Budget, Next, Outcome

    pod = blocked_pod(cluster, rita, "web-a", "shop/web-pdb")
    if watcher_alive:
        cluster.watcher_until = timezone.now() + timedelta(seconds=10)
        cluster.save(update_fields=["watcher_until"])
    sent = []
    monkeypatch.setattr(pod_services, "after_commit", lambda task, *args, **kw: sent.append(f"evictions.tasks.{task}"))
    token = timezone.now() + timedelta(seconds=8)
    PodEviction.objects.filter(pk=pod.pk).update(claimed_until=token)  # claimed by this attempt
    claimed = PodEviction.objects.select_related("request__cluster").get(pk=pod.pk)
    refusal = Outcome(Next.BLOCKED, "Blocked by a disruption budget.", retry_in=5, budget=Budget("web-pdb", 3, 2))
    pod_services._record(claimed=claimed, answer=Answer(status=429), outcome=refusal, at=timezone.now(), token=token)
    pod.refresh_from_db()
    assert pod.status == PodStatus.BLOCKED and pod.next_attempt_at > timezone.now()  # the fallback's date is kept
    assert ("evictions.tasks.attempt_pod" in sent) is countdown_sent


def test_a_freed_disruption_goes_to_the_longest_blocked_pod_that_is_not_claimed(cluster, rita):
    stranded = blocked_pod(cluster, rita, "web-old", "shop/web-pdb", since=timedelta(minutes=5), claimed=True)
    waiting = blocked_pod(cluster, rita, "web-new", "shop/web-pdb", since=timedelta(minutes=1))
    budget_services.retry_freed(cluster.pk, {"shop/web-pdb": 1})
    assert EvictionAttempt.objects.filter(pod=waiting).count() == 1
    assert not EvictionAttempt.objects.filter(pod=stranded).exists()
    stranded.refresh_from_db()
    assert stranded.status == PodStatus.BLOCKED and stranded.claimed_until is not None  # left to its claim


def test_the_tick_sends_a_pod_whose_claim_a_killed_worker_left_behind_even_with_a_live_watcher(cluster, rita, settings):
    settings.TICK_SECONDS = 2
    stranded = blocked_pod(cluster, rita, "web-old", "shop/web-pdb", since=timedelta(minutes=5), claimed=True)
    waiting = blocked_pod(cluster, rita, "web-new", "shop/web-pdb", since=timedelta(minutes=1))
    PodEviction.objects.filter(pk__in=[stranded.pk, waiting.pk]).update(
        next_attempt_at=timezone.now() - timedelta(seconds=60)
    )
    PodEviction.objects.filter(pk=stranded.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    cluster.watcher_until = timezone.now() + timedelta(seconds=10)
    cluster.save(update_fields=["watcher_until"])
    assert pod_services.pods_due() == [stranded.pk]  # the other one is the live watcher's


def test_the_watcher_writes_the_budget_numbers_it_sees_on_the_pods_it_holds(sim, cluster, rita, monkeypatch):
    """A pod planned to wait its turn has had no 429 to name the numbers: the watcher's list gives them, and a change
    to the budget, seen as a watch event, updates them."""
    sim.set_pdb("shop", "web-pdb", min_available=3)  # all three web pods: no disruption allowed, nothing is freed
    sim.reconcile()  # processed (observedGeneration): the watcher reads only a processed budget's numbers
    waiting = blocked_pod(cluster, rita, "web-a", "shop/web-pdb")
    elsewhere = blocked_pod(cluster, rita, "web-b", "shop/never-frees")  # a budget the cluster does not have
    monkeypatch.setattr(budget_services, "FOLLOW_SECONDS", 3)
    monkeypatch.setattr(budget_services, "WATCH_TIMEOUT_SECONDS", 1)
    monkeypatch.setattr("core.dispatch.send", lambda *args, **kw: None)
    seen = []
    budgets_seen = pod_services.budgets_seen

    def spy(cluster_id, pdbs):
        changed = budgets_seen(cluster_id, pdbs)
        seen.append(
            (len(pdbs), changed, PodEviction.objects.values_list("budget_needs", "budget_has").get(pk=waiting.pk))
        )
        if len(seen) == 1:  # after the list: the budget tightens, which the watch reports
            sim.set_pdb("shop", "web-pdb", min_available=4)
        return changed

    monkeypatch.setattr(pod_services, "budgets_seen", spy)
    tasks.watch_budgets(cluster.pk)
    assert seen[0][0] > 1 and seen[0][1:] == (1, (3, 3))  # the list: every budget, one pod changed
    assert (1, 1, (4, 3)) in seen[1:]  # the event: that budget alone, the new numbers
    elsewhere.refresh_from_db()
    assert (elsewhere.budget_needs, elsewhere.budget_has) == (None, None)
    assert PodEviction.objects.get(pk=waiting.pk).status == PodStatus.BLOCKED  # nothing was freed
    # One set of numbers from the budget itself, with the time it was read: what the pages and the API say.
    waiting.refresh_from_db()
    assert (waiting.budget_needs, waiting.budget_has, waiting.budget_allowed, waiting.budget_expected) == (4, 3, 0, 3)
    assert waiting.budget_seen_at is not None
    assert waiting.budget_words == (  # three pods, all Ready: a fourth is missing, none is unready
        "shop/web-pdb allows 0 disruptions: it needs 4 healthy pods and has 3, 1 short"
        f" (as of {waiting.budget_seen_at:%H:%M:%S} UTC)"
    )
