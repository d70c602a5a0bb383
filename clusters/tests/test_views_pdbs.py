"""A cluster's budgets page: live budgets from kubesim (those at zero first and highlighted, the pods each selects
with readiness and node, one pod list per namespace), a cluster that cannot be read, and the history chart from
Drainboard's own records, with a bounded query count."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from clusters import selectors
from evictions.models import EvictionAttempt, EvictionRequest, PodEviction, PodStatus, RequestStatus
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


def blocked_pod(cluster, requester, name, pdb, minutes, answers=0) -> PodEviction:
    now = timezone.now()
    request = EvictionRequest.objects.create(
        cluster=cluster, requester=requester, kind="pods", reason="r", status=RequestStatus.SUCCEEDED
    )
    pod = PodEviction.objects.create(
        request=request,
        namespace=pdb.split("/")[0],
        name=name,
        uid=f"uid-{name}",
        status=PodStatus.EVICTED,
        blocking_pdb=pdb,
        blocked_since=now - timedelta(minutes=minutes),
        eviction_accepted_at=now,
        finished_at=now,
    )
    for index in range(answers):
        EvictionAttempt.objects.create(pod=pod, at=now - timedelta(seconds=index), http_status=429, budget="words")
    return pod


def test_live_budgets_list_every_budget_zero_first_with_the_pods_each_selects(cluster, sim):
    sim.clear_request_log()
    live = selectors.cluster_budgets(cluster)
    assert not live.error
    keys = [b.key for b in live.budgets]
    assert set(keys) >= {"shop/web-pdb", "payments/checkout-pdb", "search/search-pdb", "monitoring/prometheus-pdb"}
    zero = [b.at_zero for b in live.budgets]
    assert zero == sorted(zero, reverse=True)  # those allowing no disruption come first
    search = next(b for b in live.budgets if b.key == "search/search-pdb")
    assert search.at_zero and search.selected == 3 and search.ready == 2
    assert not search.pods[0].ready  # the unready pod first
    assert search.rule == "minAvailable 3"
    # One PDB list for the cluster, then one pod list per namespace with budgets, not one per budget.
    paths = [entry["path"] for entry in sim.request_log() if entry["method"] == "GET"]
    namespaces = {b.pdb.namespace for b in live.budgets}
    assert sum(1 for p in paths if p.endswith("/poddisruptionbudgets")) == 1
    assert sorted(p for p in paths if p.endswith("/pods")) == sorted(
        f"/api/v1/namespaces/{ns}/pods" for ns in namespaces
    )
    # Read again within a few seconds: from the cache, no call.
    sim.clear_request_log()
    assert selectors.cluster_budgets(cluster) == live
    assert sim.request_log() == []


def test_page_shows_budgets_numbers_and_pods_to_a_viewer(viewer_client, cluster, sim):
    response = viewer_client.get(reverse("cluster-pdbs", args=[cluster.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="pdb-search_search-pdb" data-pdb="search/search-pdb" class="pdb-zero"' in html
    assert 'id="pdb-shop_web-pdb" data-pdb="shop/web-pdb" class=""' in html
    unready = next(p for p in sim.state()["pods"] if p["namespace"] == "search" and not p["ready"])
    assert f"<code>{unready['name']}</code> on {unready['node']}: Running, <b>not Ready</b>" in html
    assert "Healthy / desired / expected" in html
    assert 'not yet: evictions get 429 "still being processed"' in html.replace("&quot;", '"')  # etl-pdb is held
    assert "No budget held back an eviction on this cluster in the last 30 days." in html


def test_cluster_page_links_to_its_budgets(viewer_client):
    cluster = ClusterFactory(name="prod")
    html = viewer_client.get(reverse("cluster-detail", args=[cluster.pk])).content.decode()
    assert reverse("cluster-pdbs", args=[cluster.pk]) in html


def test_a_cluster_that_cannot_be_read_shows_the_error_in_words(viewer_client):
    cluster = ClusterFactory(name="gone", api_url="https://127.0.0.1:1")
    response = viewer_client.get(reverse("cluster-pdbs", args=[cluster.pk]))
    assert response.status_code == 200
    assert "Could not read the budgets of gone" in response.content.decode()


def test_history_chart_ranks_budgets_by_time_blocked(viewer_client, alice):
    cluster = ClusterFactory(name="gone", api_url="https://127.0.0.1:1")
    blocked_pod(cluster, alice, "web-1", "shop/web-pdb", minutes=10, answers=4)
    blocked_pod(cluster, alice, "web-2", "shop/web-pdb", minutes=20, answers=2)
    blocked_pod(cluster, alice, "db-1", "data/db-pdb", minutes=5)
    html = viewer_client.get(reverse("cluster-pdbs", args=[cluster.pk])).content.decode()
    assert 'id="budget-chart"' in html
    assert html.index(">shop/web-pdb</text>") < html.index(">data/db-pdb</text>")
    assert "30m, 2 pods" in html and "5m, 1 pod<" in html
    assert "<tr><td><code>shop/web-pdb</code></td><td>2</td><td>6</td><td>30m</td></tr>" in html
    assert "Its time blocked runs from when it was first held back" in html  # the definition is on the page


def test_roles(client, nora, vera):
    cluster = ClusterFactory(name="gone", api_url="https://127.0.0.1:1")
    url = reverse("cluster-pdbs", args=[cluster.pk])
    assert client.get(url).status_code == 302
    nobody = Client()
    nobody.force_login(nora, backend="django.contrib.auth.backends.ModelBackend")
    assert nobody.get(url).status_code == 403
    assert viewer(vera).get(url).status_code == 200
    assert viewer(vera).get(reverse("cluster-pdbs", args=[424242])).status_code == 404


def viewer(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_query_count_does_not_grow_with_history_rows(viewer_client, alice, django_assert_max_num_queries):
    cluster = ClusterFactory(name="gone", api_url="https://127.0.0.1:1")
    blocked_pod(cluster, alice, "web-1", "shop/web-pdb", minutes=10, answers=1)
    with django_assert_max_num_queries(12) as small:
        assert viewer_client.get(reverse("cluster-pdbs", args=[cluster.pk])).status_code == 200
    for index in range(15):
        blocked_pod(cluster, alice, f"pod-{index}", f"ns{index}/pdb-{index}", minutes=index + 1, answers=2)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = viewer_client.get(reverse("cluster-pdbs", args=[cluster.pk]))
    assert response.content.decode().count('<g class="bar-row">') == 10  # the top 10 only
