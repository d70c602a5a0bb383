"""The dashboard's reads: counts per cluster, what needs a person, budgets blocking now (live against kubesim, and
for a cluster that cannot be read), upcoming and recent requests, a cluster's budget history and the bar chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from evictions import dashboard
from evictions.dashboard import bar_chart
from evictions.models import EvictionAttempt, EvictionRequest, PodEviction, PodStatus, RequestStatus, Schedule
from kubesim import Simulator
from tests.factories import ClusterFactory
from tests.kubesim_cluster import register_sim

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def sim():
    with Simulator(scenario="demo", time_scale=10) as simulator:
        yield simulator


@pytest.fixture
def cluster(sim):
    sim.load_scenario("demo")
    created = register_sim(sim, name="demo")
    assert created.reachable
    return created


@pytest.fixture
def unreachable():
    # Nothing listens on port 1: the connection is refused at once.
    return ClusterFactory(name="gone", api_url="https://127.0.0.1:1")


def make_request(cluster, requester, **fields) -> EvictionRequest:
    now = timezone.now()
    values = {
        "kind": "drain",
        "node": "node-2",
        "reason": "kernel upgrade",
        "status": RequestStatus.RUNNING,
        "started_at": now,
        "pods_created_at": now,
        "deadline_at": now + timedelta(minutes=30),
    }
    values.update(fields)
    return EvictionRequest.objects.create(cluster=cluster, requester=requester, **values)


def make_pod(request, name, **fields) -> PodEviction:
    values = {"namespace": "shop", "uid": f"uid-{name}", "node": "node-2", "status": PodStatus.PENDING}
    values.update(fields)
    return PodEviction.objects.create(request=request, name=name, **values)


def blocked(request, name, pdb="shop/web-pdb", ago=60, **fields) -> PodEviction:
    values = {
        "status": PodStatus.BLOCKED,
        "blocking_pdb": pdb,
        "budget_needs": 2,
        "budget_has": 1,
        "blocked_since": timezone.now() - timedelta(seconds=ago),
        "namespace": pdb.split("/")[0],
    }
    values.update(fields)
    return make_pod(request, name, **values)


def test_cluster_cards_count_requests_and_pods_per_cluster(alice):
    prod, staging = ClusterFactory(name="prod"), ClusterFactory(name="staging", paused=True, paused_reason="upgrade")
    running = make_request(prod, alice)
    blocked(running, "web-1")
    blocked(running, "web-2")
    make_pod(running, "db-1", status=PodStatus.NEEDS_INTERVENTION)
    make_pod(running, "done", status=PodStatus.EVICTED)
    make_request(prod, alice, status=RequestStatus.SCHEDULED)  # a drain waiting for its turn
    make_request(prod, alice, status=RequestStatus.SCHEDULED, kind="pods", node="")
    make_request(prod, alice, status=RequestStatus.NEEDS_INTERVENTION)
    make_request(prod, alice, status=RequestStatus.SUCCEEDED)
    make_request(staging, alice, status=RequestStatus.AWAITING_APPROVAL)

    cards = {card.cluster.name: card for card in dashboard.cluster_cards()}
    assert list(cards) == ["prod", "staging"]
    p = cards["prod"]
    assert (p.running, p.blocked_pods, p.stuck_pods, p.drains_queued, p.stuck_requests) == (1, 2, 1, 1, 1)
    assert p.needs_attention
    s = cards["staging"]
    assert (s.running, s.awaiting, s.blocked_pods, s.status) == (0, 1, 0, "paused")
    assert not s.needs_attention


def test_interventions_list_stuck_pods_and_requests_longest_waiting_first_and_bounded(alice):
    prod = ClusterFactory(name="prod")
    request = make_request(prod, alice, status=RequestStatus.NEEDS_INTERVENTION, status_reason="Past its deadline")
    for index in range(4):
        make_pod(request, f"web-{index}", status=PodStatus.NEEDS_INTERVENTION, note=f"stuck {index}")
    PodEviction.objects.filter(name="web-2").update(updated_at=timezone.now() - timedelta(hours=3))
    make_pod(request, "fine", status=PodStatus.EVICTED)

    found = dashboard.interventions(limit=3)
    assert [item.pod.name for item in found.pods] == ["web-2", "web-0", "web-1"]
    assert found.pods[0].stuck_for.startswith("3h") or found.pods[0].stuck_for == "180m"
    assert (found.pods_total, found.more_pods) == (4, 1)
    assert [item.request.pk for item in found.requests] == [request.pk]
    assert found.requests[0].request.status_reason == "Past its deadline"
    assert not found.empty


def test_blocked_budgets_group_pods_by_cluster_and_budget_with_the_requests_they_hold(alice):
    prod, other = ClusterFactory(name="prod", reachable=False, last_error="refused"), ClusterFactory(name="other")
    first, second = make_request(prod, alice), make_request(prod, alice)
    read = timezone.now() - timedelta(seconds=30)
    blocked(first, "web-1", ago=300, budget_seen_at=read - timedelta(seconds=60))
    blocked(first, "web-2", ago=100, budget_has=0, budget_allowed=0, budget_expected=2, budget_seen_at=read)
    blocked(second, "web-3", ago=50)  # a 429's numbers from before the watcher read the budget
    blocked(first, "db-1", pdb="data/db-pdb")
    blocked(make_request(other, alice), "web-1")  # the same budget name on another cluster is another budget
    make_pod(first, "done", status=PodStatus.EVICTED, blocking_pdb="shop/web-pdb")  # finished: not held

    panel = dashboard.blocked_budgets(live=False)
    assert panel.total == 3
    top = panel.budgets[0]
    # One set of numbers, the ones read last, with their time (not the largest "needs" beside the smallest "has").
    assert (top.cluster.name, top.pdb, top.pods, top.needs, top.has) == ("prod", "shop/web-pdb", 3, 2, 0)
    assert top.words == (
        f"shop/web-pdb allows 0 disruptions: it needs 2 healthy pods and has 0 (2 unready) (as of {read:%H:%M:%S} UTC)"
    )
    assert top.blocked_for == "300s" or top.blocked_for == "5m"
    assert [(h.request_id, h.pods) for h in top.requests] == [
        (first.pk, ("shop/web-1", "shop/web-2")),
        (second.pk, ("shop/web-3",)),
    ]
    assert top.anchor == "pdb-shop_web-pdb"
    assert top.live is None

    bounded = dashboard.blocked_budgets(limit=1, live=False)
    assert len(bounded.budgets) == 1 and bounded.more == 2


def test_blocked_budgets_read_live_numbers_and_unready_pods_from_the_cluster(alice, cluster, sim):
    request = make_request(cluster, alice)
    blocked(request, "search-74d8f6c9b5-0", pdb="search/search-pdb")
    blocked(request, "web-1", pdb="shop/web-pdb")
    budgets = {b.pdb: b for b in dashboard.blocked_budgets().budgets}
    search = budgets["search/search-pdb"].live
    assert search is not None and not search.error
    assert search.disruptions_allowed == 0
    assert "allows 0 disruption(s)" in search.numbers
    unready = [p for p in sim.state()["pods"] if p["namespace"] == "search" and not p["ready"]]
    assert unready and any(unready[0]["name"] in line and "not Ready" in line for line in search.unready)
    web = budgets["shop/web-pdb"].live
    assert web is not None and web.unready == () and web.disruptions_allowed == 1


def test_blocked_budgets_of_a_cluster_that_cannot_be_read_say_why(alice, unreachable):
    blocked(make_request(unreachable, alice), "web-1")
    [budget] = dashboard.blocked_budgets().budgets
    assert budget.live is not None and budget.live.error.startswith("Could not read cluster gone")

    # Marked unreachable by its last check: not called at all, its last error is the answer.
    unreachable.reachable, unreachable.last_error = False, "connection refused"
    unreachable.save()
    [budget] = dashboard.blocked_budgets().budgets
    assert budget.live is not None and budget.live.error == "Cluster gone is unreachable: connection refused."


def test_upcoming_says_when_each_request_may_start(alice):
    now = timezone.now()
    prod = ClusterFactory(name="prod", max_concurrent_drains=1)
    later = now + timedelta(days=2)
    waiting = make_request(prod, alice, status=RequestStatus.AWAITING_APPROVAL, started_at=None)
    not_before = make_request(
        prod, alice, status=RequestStatus.SCHEDULED, started_at=None, not_before=later, schedule=Schedule.NOT_BEFORE
    )
    first = make_request(prod, alice, status=RequestStatus.SCHEDULED, started_at=None)
    second = make_request(prod, alice, status=RequestStatus.SCHEDULED, started_at=None)
    windowed = make_request(prod, alice, status=RequestStatus.SCHEDULED, started_at=None, schedule=Schedule.WINDOW)
    make_request(prod, alice)  # running: not upcoming

    panel = dashboard.upcoming(now=now)
    rows = {row.request.pk: row for row in panel.rows}
    assert list(rows) == [waiting.pk, not_before.pk, first.pk, second.pk, windowed.pk]
    assert rows[waiting.pk].when == "After approval"
    assert rows[not_before.pk].when.startswith("Not before ") and rows[not_before.pk].queue is None
    assert (rows[first.pk].queue, rows[second.pk].queue) == (1, 2)
    assert rows[second.pk].when == "Number 2 in line: 1 drain at once on prod"
    assert rows[windowed.pk].when.startswith("No maintenance window opens in the next 15 days")
    assert dashboard.upcoming(now=now, limit=2).more == 3


def test_recent_finished_lists_the_last_to_finish_with_how_long_they_ran(alice):
    now = timezone.now()
    prod = ClusterFactory(name="prod")
    early = make_request(
        prod, alice, status=RequestStatus.SUCCEEDED, started_at=now - timedelta(minutes=50), finished_at=now
    )
    late = make_request(
        prod,
        alice,
        status=RequestStatus.FAILED,
        started_at=now - timedelta(minutes=5),
        finished_at=now - timedelta(minutes=1),
    )
    make_request(prod, alice, status=RequestStatus.REJECTED, started_at=None, finished_at=now - timedelta(hours=1))
    make_request(prod, alice)  # running

    rows = dashboard.recent_finished()
    assert [row.request.pk for row in rows][:2] == [early.pk, late.pk]
    assert (rows[0].duration, rows[1].duration, rows[2].duration) == ("50m", "4m", "")
    assert rows[0].colour == "green" and rows[1].colour == "red"
    assert len(dashboard.recent_finished(limit=1)) == 1


def test_budget_history_adds_up_time_blocked_per_budget_most_first(alice):
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    prod, other = ClusterFactory(name="prod"), ClusterFactory(name="other")
    recent = make_request(prod, alice)
    EvictionRequest.objects.filter(pk=recent.pk).update(created_at=now - timedelta(days=2))
    # web-pdb: held one pod 10 minutes until the eviction was accepted, another 5 minutes until it was deleted.
    web1 = blocked(
        recent, "web-1", blocked_since=now - timedelta(hours=1), eviction_accepted_at=now - timedelta(minutes=50)
    )
    blocked(
        recent,
        "web-2",
        status=PodStatus.DELETED,
        blocked_since=now - timedelta(hours=1),
        finished_at=now - timedelta(minutes=55),
    )
    # db-pdb: one pod still waiting, for 30 minutes now.
    blocked(recent, "db-1", pdb="data/db-pdb", blocked_since=now - timedelta(minutes=30))
    make_pod(recent, "never-blocked", status=PodStatus.EVICTED)
    for minute in (59, 58, 57):
        EvictionAttempt.objects.create(pod=web1, at=now - timedelta(minutes=minute), http_status=429, budget="b")
    EvictionAttempt.objects.create(pod=web1, at=now - timedelta(minutes=56), http_status=429)  # throttled: no budget
    # Older than the window, and another cluster: not counted.
    old = make_request(prod, alice)
    EvictionRequest.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=40))
    blocked(old, "web-9", blocked_since=now - timedelta(days=40), eviction_accepted_at=now - timedelta(days=39))
    blocked(make_request(other, alice), "web-1", blocked_since=now - timedelta(hours=5))

    rows = dashboard.budget_history(prod.pk, now=now)
    assert [(r.pdb, r.pods, r.answers, round(r.seconds)) for r in rows] == [
        ("data/db-pdb", 1, 0, 1800),
        ("shop/web-pdb", 2, 3, 900),
    ]
    assert rows[1].total_words == "15m"
    assert dashboard.budget_history(prod.pk, now=now, top=1)[0].pdb == "data/db-pdb"
    assert dashboard.budget_history(ClusterFactory().pk, now=now) == []


def test_bar_chart_layout_as_a_table():
    chart = bar_chart(
        [("a/big", 100.0, "1m"), ("b/half", 50.0, "50s"), ("c/tiny", 0.1, "0s"), ("d/none", 0.0, "0s")],
        width=500,
        label_width=100,
        words_width=100,
        bar_height=20,
        gap=10,
    )
    # room for bars: 500 - 100 - 100 = 300 px; the largest fills it, the others in proportion, at least 2 px.
    assert [(b.label, b.y, b.width, b.text_y, b.words_x) for b in chart.bars] == [
        ("a/big", 10, 300, 25, 408),
        ("b/half", 40, 150, 55, 258),
        ("c/tiny", 70, 2, 85, 110),
        ("d/none", 100, 0, 115, 108),
    ]
    assert (chart.width, chart.height, chart.label_width, chart.bar_height) == (500, 130, 100, 20)
    assert bar_chart([]).bars == () and bar_chart([("x", 0.0, "")]).bars[0].width == 0
