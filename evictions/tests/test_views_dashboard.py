"""The dashboard page: every role that reads sees the panels, only operators get the buttons, each panel refreshes
alone over htmx, a cluster that cannot be read does not break it, and its query count does not grow with rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from evictions.models import EvictionRequest, PodEviction, PodStatus, RequestStatus
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


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


def populate(requester, clusters: int, per_cluster: int, prefix: str = "c") -> None:
    """Clusters marked unreachable (no cluster call), each with running, stuck, blocked, queued and finished work."""
    now = timezone.now()
    for c in range(clusters):
        cluster = ClusterFactory(name=f"{prefix}{c}", reachable=False, last_error="refused")
        for r in range(per_cluster):
            running = make_request(cluster, requester)
            make_pod(running, f"web-{r}-a", status=PodStatus.BLOCKED, blocking_pdb=f"shop/pdb-{r}", budget_needs=2)
            make_pod(running, f"web-{r}-b", status=PodStatus.NEEDS_INTERVENTION, note="past its deadline")
            make_request(cluster, requester, status=RequestStatus.NEEDS_INTERVENTION, status_reason="stuck")
            make_request(cluster, requester, status=RequestStatus.SCHEDULED, started_at=None)
            make_request(cluster, requester, status=RequestStatus.AWAITING_APPROVAL, started_at=None)
            make_request(cluster, requester, status=RequestStatus.SUCCEEDED, finished_at=now)


@pytest.fixture
def stuck(alice):
    cluster = ClusterFactory(name="prod", reachable=False, last_error="connection refused")
    request = make_request(cluster, alice, status=RequestStatus.NEEDS_INTERVENTION, status_reason="Past the deadline")
    pod = make_pod(
        request,
        "checkout-1",
        namespace="payments",
        status=PodStatus.NEEDS_INTERVENTION,
        note="Blocked by payments/checkout-pdb past the deadline",
        blocking_pdb="payments/checkout-pdb",
        budget_needs=1,
        budget_has=0,
        blocked_since=timezone.now() - timedelta(minutes=40),
    )
    return pod


def test_viewer_reads_every_panel_without_buttons(viewer_client, stuck):
    response = viewer_client.get(reverse("dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    for panel in ("dash-clusters", "dash-stuck", "dash-blocked", "dash-upcoming", "dash-recent"):
        assert f'id="{panel}"' in html
        assert f"?panel={panel.removeprefix('dash-')}" in html  # refreshes itself
    assert "Blocked by payments/checkout-pdb past the deadline" in html  # the reason, in words
    assert "Unreachable: connection refused" in html
    assert reverse("pod-retry", args=[stuck.pk]) not in html
    assert reverse("pod-force-delete", args=[stuck.pk]) not in html
    assert reverse("pod-skip", args=[stuck.pk]) not in html
    assert "Retry waiting pods" not in html


def test_operator_gets_the_buttons_one_click_away(operator_client, stuck):
    html = operator_client.get(reverse("dashboard")).content.decode()
    assert f'action="{reverse("pod-retry", args=[stuck.pk])}"' in html
    assert f'href="{reverse("pod-skip", args=[stuck.pk])}"' in html
    assert f'href="{reverse("pod-force-delete", args=[stuck.pk])}"' in html
    assert f'action="{reverse("request-retry", args=[stuck.request_id])}"' in html
    assert f'action="{reverse("request-extend", args=[stuck.request_id])}"' in html


def test_retry_from_the_dashboard_uses_the_pod_route(operator_client, stuck):
    response = operator_client.post(reverse("pod-retry", args=[stuck.pk]))
    assert response.status_code == 302
    stuck.refresh_from_db()
    assert stuck.status != PodStatus.NEEDS_INTERVENTION


def test_requester_and_approver_read_it_too(rita, adam, stuck):
    for user in (rita, adam):
        html = signed_in(user).get(reverse("dashboard")).content.decode()
        assert "Blocked by payments/checkout-pdb past the deadline" in html
        assert reverse("pod-retry", args=[stuck.pk]) not in html


def test_a_person_without_a_role_sees_no_data(nora, stuck):
    response = signed_in(nora).get(reverse("dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "no role that may read" in html
    assert "checkout" not in html


def test_signed_out_goes_to_the_login(client):
    assert client.get(reverse("dashboard")).status_code == 302


@pytest.mark.parametrize("panel", ["clusters", "stuck", "blocked", "upcoming", "recent"])
def test_each_panel_refreshes_alone_as_a_partial(viewer_client, stuck, panel):
    response = viewer_client.get(reverse("dashboard") + f"?panel={panel}", **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<section id="dash-{panel}"')
    assert "<html" not in html


def test_blocked_panel_of_a_cluster_that_cannot_be_read_shows_the_reason(viewer_client, alice):
    cluster = ClusterFactory(name="gone", api_url="https://127.0.0.1:1")  # never checked: called, refused
    request = make_request(cluster, alice)
    make_pod(request, "web-1", status=PodStatus.BLOCKED, blocking_pdb="shop/web-pdb", budget_needs=2, budget_has=1)
    response = viewer_client.get(reverse("dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Could not read cluster gone" in html
    assert f'href="{reverse("cluster-pdbs", args=[cluster.pk])}#pdb-shop_web-pdb"' in html


def test_cluster_values_are_escaped(viewer_client, alice):
    cluster = ClusterFactory(name="prod", paused=True, paused_reason="<b>pause</b>")
    request = make_request(cluster, alice, status=RequestStatus.NEEDS_INTERVENTION, status_reason="<i>why</i>")
    make_pod(request, "web-1", status=PodStatus.NEEDS_INTERVENTION, note="<script>x</script>", blocking_pdb="a/<u>")
    html = viewer_client.get(reverse("dashboard")).content.decode()
    for raw in ("<script>x", "<b>pause", "<i>why", "<u>"):
        assert raw not in html


def test_dashboard_query_count_does_not_grow_with_rows(operator_client, alice, django_assert_max_num_queries):
    # Session, user and permissions: a few queries; each panel a fixed handful (see evictions.dashboard).
    populate(alice, clusters=2, per_cluster=2)
    with django_assert_max_num_queries(22) as small:
        assert operator_client.get(reverse("dashboard")).status_code == 200
    populate(alice, clusters=6, per_cluster=8, prefix="more")
    with django_assert_max_num_queries(len(small.captured_queries)) as large:
        response = operator_client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)
    assert response.content.decode().count('class="card dash-card') == 8


def test_panel_query_counts_are_bounded(viewer_client, alice, django_assert_max_num_queries):
    populate(alice, clusters=3, per_cluster=5)
    for panel in ("clusters", "stuck", "blocked", "upcoming", "recent"):
        with django_assert_max_num_queries(12):
            assert viewer_client.get(reverse("dashboard") + f"?panel={panel}", **HTMX).status_code == 200


# ---- a cluster card's counts agree with the lists they summarise ---------------------------------------------------


def card_counts(client, cluster_name: str) -> dict[str, tuple[int, str]]:
    """Each count of the cluster's card: what it says, and the list it links to."""
    import re

    html = client.get(reverse("dashboard") + "?panel=clusters", **HTMX).content.decode()
    card = html[html.index(f'data-cluster="{cluster_name}"') :]
    card = card[: card.index("</dl>")]
    counts = {
        what: (int(count), href.replace("&amp;", "&"))
        for what, href, count in re.findall(r'<a class="dash-count" data-count="([^"]+)" href="([^"]+)">(\d+)<', card)
    }
    active = re.search(r'<span class="dash-count" data-count="active">(\d+)<', card)
    assert active is not None
    counts["active"] = (int(active[1]), "")
    return counts


def listed(client, href: str) -> int:
    response = client.get(href)
    assert response.status_code == 200
    return len(response.context["rows"])


@pytest.mark.parametrize(
    ("status", "count"),
    [
        (RequestStatus.RUNNING, "running"),
        (RequestStatus.NEEDS_INTERVENTION, "needs_intervention"),
        (RequestStatus.PAUSED, "paused"),
        (RequestStatus.SCHEDULED, "scheduled"),
        (RequestStatus.AWAITING_APPROVAL, "awaiting_approval"),
    ],
)
def test_each_request_count_of_a_card_equals_the_rows_of_the_list_it_links_to(viewer_client, alice, status, count):
    prod, other = ClusterFactory(name="prod"), ClusterFactory(name="other")
    for _ in range(2):
        make_request(prod, alice, status=status)
    make_request(other, alice, status=status)  # another cluster's: not counted, not listed
    make_request(prod, alice, status=RequestStatus.SUCCEEDED, finished_at=timezone.now())

    counts = card_counts(viewer_client, "prod")
    shown, href = counts[count]
    assert shown == 2
    assert listed(viewer_client, href) == 2
    # A started request that is not finished is active, whichever of those statuses it is in.
    started = status in (RequestStatus.RUNNING, RequestStatus.NEEDS_INTERVENTION, RequestStatus.PAUSED)
    assert counts["active"][0] == (2 if started else 0)


def test_each_pod_count_of_a_card_equals_the_rows_of_the_list_it_links_to(viewer_client, alice):
    prod = ClusterFactory(name="prod")
    stuck = make_request(prod, alice, status=RequestStatus.NEEDS_INTERVENTION)
    make_pod(stuck, "web-1", status=PodStatus.NEEDS_INTERVENTION)
    make_pod(stuck, "web-2", status=PodStatus.BLOCKED, blocking_pdb="shop/web-pdb")
    make_pod(stuck, "web-3", status=PodStatus.BLOCKED, blocking_pdb="shop/web-pdb")
    make_pod(stuck, "web-4", status=PodStatus.EVICTED)

    counts = card_counts(viewer_client, "prod")
    for what, expected in (("blocked_pods", 2), ("stuck_pods", 1)):
        shown, href = counts[what]
        assert (what, shown, listed(viewer_client, href)) == (what, expected, expected)
    assert counts["running"][0] == 0 and counts["needs_intervention"][0] == 1 and counts["active"][0] == 1
