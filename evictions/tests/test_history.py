"""History search: each filter as a table over one small world of requests and pods, the pod sort orders, the two
history pages and their query counts (keyset pages themselves: core/tests/test_keyset.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from clusters.models import Cluster
from core.keyset import InvalidCursor, keyset_page
from evictions.history import (
    POD_ORDERS,
    REQUEST_ORDERS,
    HistoryFilters,
    attach_pod_counts,
    pod_history,
    request_history,
)
from evictions.models import (
    Approval,
    Decision,
    EvictionAttempt,
    EvictionRequest,
    PodEviction,
    PodStatus,
    RequestStatus,
)
from tests.factories import ClusterFactory, UserFactory

T0 = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


def make_request(cluster, requester, *, created, **fields) -> EvictionRequest:
    values = {"kind": "drain", "node": "", "reason": "kernel upgrade", "status": RequestStatus.SUCCEEDED}
    values.update(fields)
    request = EvictionRequest.objects.create(cluster=cluster, requester=requester, **values)
    EvictionRequest.objects.filter(pk=request.pk).update(created_at=created)
    request.created_at = created
    return request


def make_pod(request, name, *, created, **fields) -> PodEviction:
    values = {"namespace": "shop", "uid": f"uid-{name}-{request.pk}", "node": "node-1", "status": PodStatus.EVICTED}
    values.update(fields)
    pod = PodEviction.objects.create(request=request, name=name, **values)
    PodEviction.objects.filter(pk=pod.pk).update(created_at=created)
    pod.created_at = created
    return pod


@pytest.fixture
def world(db):
    """Three requests on two clusters, by two requesters, approved by different people, with pods that got
    different answers."""
    rita, ross = UserFactory(username="rita"), UserFactory(username="ross")
    adam, anna = UserFactory(username="adam"), UserFactory(username="anna")
    prod, staging = ClusterFactory(name="prod"), ClusterFactory(name="staging")
    drain = make_request(prod, rita, created=T0, node="node-1")
    pods = make_request(prod, ross, created=T0 + timedelta(days=1), kind="pods", status=RequestStatus.FAILED)
    other = make_request(staging, rita, created=T0 + timedelta(days=2), status=RequestStatus.RUNNING, node="node-9")
    web = make_pod(drain, "web-7f9c", created=T0, seconds_to_evict=12.5)
    db_pod = make_pod(drain, "db-0", created=T0, namespace="data", seconds_to_evict=3.0)
    api = make_pod(
        pods, "api-1", created=T0 + timedelta(days=1), node="node-2", status=PodStatus.FAILED, delete_requested_by=ross
    )
    cache = make_pod(other, "cache-web", created=T0 + timedelta(days=2), node="node-9", status=PodStatus.BLOCKED)
    EvictionAttempt.objects.create(pod=web, at=T0, http_status=429)
    EvictionAttempt.objects.create(pod=web, at=T0 + timedelta(seconds=10), http_status=201)
    EvictionAttempt.objects.create(pod=api, at=T0 + timedelta(days=1), http_status=403)
    EvictionAttempt.objects.create(pod=cache, at=T0 + timedelta(days=2), http_status=429)
    Approval.objects.create(request=drain, requester=rita, approver=adam, decision=Decision.APPROVE, created_at=T0)
    Approval.objects.create(request=pods, requester=ross, approver=anna, decision=Decision.REJECT, created_at=T0)
    Approval.objects.create(request=other, requester=rita, approver=anna, decision=Decision.APPROVE, created_at=T0)
    Approval.objects.create(
        request=pods, pod=api, requester=ross, approver=adam, decision=Decision.APPROVE, created_at=T0
    )
    return {
        "prod": prod.pk,
        "staging": staging.pk,
        "drain": drain.pk,
        "pods": pods.pk,
        "other": other.pk,
        "web": web.pk,
        "db": db_pod.pk,
        "api": api.pk,
        "cache": cache.pk,
    }


REQUEST_CASES = [
    ({}, ["other", "pods", "drain"]),
    ({"cluster": "prod"}, ["pods", "drain"]),
    ({"status": "failed"}, ["pods"]),
    ({"requester": "rita"}, ["other", "drain"]),
    ({"node": "node-1"}, ["drain"]),  # the drained node
    ({"node": "node-2"}, ["pods"]),  # a pod's node
    ({"namespace": "data"}, ["drain"]),
    ({"pod": "web"}, ["other", "drain"]),
    ({"pod": "WEB-7F"}, ["drain"]),  # pod names are lower case: the search is too
    ({"approver": "adam"}, ["pods", "drain"]),  # a direct delete's approval counts
    ({"approver": "anna"}, ["other"]),  # a rejection does not
    ({"answer": 429}, ["other", "drain"]),
    ({"answer": 403}, ["pods"]),
    ({"answer": 500}, []),
    ({"since": T0.date() + timedelta(days=1)}, ["other", "pods"]),
    ({"until": T0.date() + timedelta(days=1)}, ["pods", "drain"]),
    ({"since": T0.date() + timedelta(days=1), "until": T0.date() + timedelta(days=1)}, ["pods"]),
    ({"cluster": "prod", "requester": "rita", "answer": 429}, ["drain"]),
]


def _filters(world, given) -> HistoryFilters:
    if "cluster" in given:
        given = {**given, "cluster": world[given["cluster"]]}
    return HistoryFilters(**given)


@pytest.mark.parametrize(("given", "expected"), REQUEST_CASES)
def test_request_history_filters(world, given, expected):
    rows = request_history(_filters(world, given)).order_by("-created_at", "-id")
    assert list(rows.values_list("pk", flat=True)) == [world[name] for name in expected]


POD_CASES = [
    ({}, {"web", "db", "api", "cache"}),
    ({"cluster": "staging"}, {"cache"}),
    ({"namespace": "data"}, {"db"}),
    ({"pod": "web"}, {"web", "cache"}),
    ({"node": "node-2"}, {"api"}),
    ({"status": "blocked"}, {"cache"}),
    ({"requester": "ross"}, {"api"}),
    ({"approver": "adam"}, {"web", "db", "api"}),  # approved the request, or this pod's delete
    ({"approver": "anna"}, {"cache"}),
    ({"answer": 429}, {"web", "cache"}),
    ({"answer": 201}, {"web"}),
    ({"since": T0.date() + timedelta(days=2)}, {"cache"}),
    ({"until": T0.date()}, {"web", "db"}),
]


@pytest.mark.parametrize(("given", "expected"), POD_CASES)
def test_pod_history_filters(world, given, expected):
    assert set(pod_history(_filters(world, given)).values_list("pk", flat=True)) == {world[n] for n in expected}


def test_pod_history_sorts_by_time_to_evict_leaving_out_pods_without_one(world):
    slowest = keyset_page(pod_history(), POD_ORDERS["slowest"])
    assert [p.pk for p in slowest.rows] == [world["web"], world["db"]]
    fastest = keyset_page(pod_history(), POD_ORDERS["fastest"])
    assert [p.pk for p in fastest.rows] == [world["db"], world["web"]]


def test_attach_pod_counts_counts_one_page_in_one_query(world, django_assert_num_queries):
    requests = list(request_history().order_by("-created_at"))
    with django_assert_num_queries(1):
        attach_pod_counts(requests)
    drain = next(r for r in requests if r.pk == world["drain"])
    assert (drain.pod_total, drain.pod_done, drain.pod_blocked, drain.pod_stuck) == (2, 2, 0, 0)


@pytest.fixture
def many(db):
    """25 requests, created in groups of five at the same instant: the id must break the ties."""
    rita = UserFactory(username="rita")
    cluster = ClusterFactory()
    return [make_request(cluster, rita, created=T0 + timedelta(minutes=n // 5)) for n in range(25)]


def test_a_page_cursor_belongs_to_its_list(many):
    cursor = keyset_page(request_history(), REQUEST_ORDERS["newest"], "", 5).next_cursor
    with pytest.raises(InvalidCursor):
        keyset_page(pod_history(), POD_ORDERS["newest"], cursor, 5)


# ---- pages ---------------------------------------------------------------------------------------------------------


def test_requests_page_filters_by_the_new_fields(world, admin_client):
    def shown(**query) -> list[int]:
        response = admin_client.get(reverse("requests"), query)
        assert response.status_code == 200
        return [r.pk for r, _ in response.context["rows"]]

    assert shown(approver="adam") == [world["pods"], world["drain"]]
    assert shown(answer="403") == [world["pods"]]
    assert shown(pod="cache", namespace="shop") == [world["other"]]
    assert shown(sort="oldest") == [world["drain"], world["pods"], world["other"]]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"answer": "abc"}, "Enter a whole number"),
        ({"answer": "42"}, "greater than or equal to 100"),
        ({"cluster": "prod"}, "Select a valid choice"),
        ({"since": "2025-13-01"}, "Enter a valid date"),
        ({"since": "2025-06-03", "until": "2025-06-01"}, "on or after the first one"),
        ({"sort": "sideways"}, "Select a valid choice"),
    ],
)
@pytest.mark.parametrize("page", ["requests", "evictions"])
def test_a_bad_filter_is_a_form_error_not_a_500(world, admin_client, page, query, message):
    response = admin_client.get(reverse(page), query)
    assert response.status_code == 200
    assert message in response.content.decode()


@pytest.mark.parametrize("page", ["requests", "evictions"])
def test_a_tampered_cursor_is_a_400_with_the_first_page(world, admin_client, page):
    response = admin_client.get(reverse(page), {"cursor": "bm90LW91cnM"})
    assert response.status_code == 400
    assert "This page link is not valid" in response.content.decode()
    assert len(response.context["rows"]) >= 3


def test_evictions_page_lists_pods_with_request_cluster_answer_and_time(world, admin_client):
    PodEviction.objects.filter(pk=world["web"]).update(attempts=2, last_status_code=201)
    response = admin_client.get(reverse("evictions"), {"sort": "slowest"})
    html = response.content.decode()
    assert [p.pk for p, _ in response.context["rows"]] == [world["web"], world["db"]]
    assert "<code>shop/web-7f9c</code>" in html
    assert f'href="/requests/{world["drain"]}/"' in html
    assert "12.5 s" in html and "<td>201</td>" in html and "prod" in html


def test_evictions_page_escapes_what_it_shows(world, admin_client):
    PodEviction.objects.filter(pk=world["db"]).update(name="<script>x</script>", node="<b>n</b>")
    html = admin_client.get(reverse("evictions"), {"pod": "<script>"}).content.decode()
    assert "<script>x" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<b>n</b>" not in html
    assert 'value="&lt;script&gt;"' in html


def test_evictions_page_needs_the_viewer_role(world, nora, viewer_client):
    client = Client()
    client.force_login(nora, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("evictions")).status_code == 403
    assert viewer_client.get(reverse("evictions")).status_code == 200


def test_evictions_page_pages_with_cursors_keeping_filters(admin_client, many):
    for n in range(55):
        make_pod(many[n % 25], f"web-{n}", created=T0 + timedelta(minutes=n // 10))  # ten at each instant
    make_pod(many[0], "db-0", created=T0)
    first = admin_client.get(reverse("evictions"), {"pod": "web"})
    assert len(first.context["rows"]) == 50
    assert "pod=web&amp;cursor=" in first.content.decode()
    second = admin_client.get(reverse("evictions"), {"pod": "web", "cursor": first.context["page"].next_cursor})
    assert len(second.context["rows"]) == 5
    assert not second.context["page"].next_cursor
    seen = {p.pk for p, _ in first.context["rows"]} | {p.pk for p, _ in second.context["rows"]}
    assert len(seen) == 55
    back = admin_client.get(reverse("evictions"), {"pod": "web", "cursor": second.context["page"].prev_cursor})
    assert [p.pk for p, _ in back.context["rows"]] == [p.pk for p, _ in first.context["rows"]]


def _populate(count: int) -> None:
    rita, adam = UserFactory(username="rita"), UserFactory(username="adam")
    cluster = ClusterFactory()
    for n in range(count):
        request = make_request(cluster, rita, created=T0 + timedelta(minutes=n))
        Approval.objects.create(
            request=request, requester=rita, approver=adam, decision=Decision.APPROVE, created_at=T0
        )
        for m in range(2):
            pod = make_pod(request, f"web-{m}", created=T0 + timedelta(minutes=n))
            EvictionAttempt.objects.create(pod=pod, at=T0, http_status=429)


@pytest.mark.parametrize("count", [3, 30])
@pytest.mark.parametrize("page", ["requests", "evictions"])
def test_history_pages_make_the_same_few_queries_however_many_rows(
    admin_client, django_assert_max_num_queries, page, count
):
    _populate(count)
    query = {"approver": "adam", "answer": "429", "pod": "web", "cluster": str(Cluster.objects.get().pk)}
    with django_assert_max_num_queries(10):
        response = admin_client.get(reverse(page), query)
    assert len(response.context["rows"]) == (count if page == "requests" else min(2 * count, 50))
