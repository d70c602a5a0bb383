"""REST API for eviction requests and pod evictions: create and dry run, field errors, kubectl's refusals, filters,
detail in a bounded number of queries, every intervention by role, the OpenAPI schema; one run on a real worker."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from evictions.models import (
    AttemptKind,
    EvictionAttempt,
    EvictionRequest,
    PodEviction,
    PodStatus,
    RequestStatus,
)
from evictions.services.requests import MAX_TARGETS, request_start
from kubesim import Simulator
from tests.factories import ClusterFactory
from tests.kubesim_cluster import register_sim

URL = "/api/v1/requests/"
ALL_OPTIONS = {"ignore_daemonsets": True, "delete_emptydir_data": True, "force": True}


@pytest.fixture
def sim():
    with Simulator(scenario="demo", time_scale=10) as simulator:
        yield simulator


def register(sim: Simulator, name: str = "demo"):
    created = register_sim(sim, name=name)
    assert created.reachable
    return created


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def cluster(db, sim):
    return register(sim)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def web_request(api, cluster, **extra):
    """A pods request for the three shop/web pods, created through the API."""
    body = {
        "cluster": cluster.pk,
        "kind": "pods",
        "reason": "move web off old nodes",
        "targets": [{"namespace": "shop", "selector": "app=web"}],
        **extra,
    }
    response = api.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def started(api, cluster):
    """A running request with its pod rows (as the worker's start makes them; no worker needed)."""
    created = web_request(api, cluster)
    request_start(request_id=created["id"])
    request = EvictionRequest.objects.get(pk=created["id"])
    assert request.status == RequestStatus.RUNNING and request.pods.count() == 3
    return request


# ---- create ------------------------------------------------------------------------------------------------------


def test_dry_run_returns_the_plan_and_stores_nothing(api, cluster):
    body = {
        "cluster": cluster.pk,
        "kind": "drain",
        "reason": "kernel upgrade",
        "node": "node-2",
        "options": ALL_OPTIONS,
        "dry_run": True,
    }
    response = api.post(URL, body, format="json")
    assert response.status_code == 200, response.content
    plan = response.json()
    assert plan["kind"] == "drain" and plan["node"] == "node-2" and plan["ok"] is True
    names = {p["name"]: p for p in plan["pods"]}
    proxy = next(p for n, p in names.items() if n.startswith("kube-proxy"))
    assert proxy["disposition"] == "skip"
    assert any(p["namespace"] == "shop" and p["disposition"] == "evict" for p in plan["pods"])
    assert plan["counts"]["evict"] >= 3
    assert not EvictionRequest.objects.exists()
    assert not AuditEvent.objects.filter(action="request.create").exists()


def test_dry_run_of_a_drain_kubectl_would_refuse_answers_the_plan_with_its_errors(api, cluster):
    body = {"cluster": cluster.pk, "kind": "drain", "reason": "r", "node": "node-2", "dry_run": True}
    response = api.post(URL, body, format="json")
    assert response.status_code == 200
    assert response.json()["ok"] is False and response.json()["errors"]
    assert not EvictionRequest.objects.exists()


def test_create_stores_the_request_and_answers_201(rita, cluster):
    body = web_request(client_for(rita), cluster, deadline_minutes=45, not_before="2030-01-01T08:00:00+01:00")
    request = EvictionRequest.objects.get(pk=body["id"])
    assert body["status"] == RequestStatus.SCHEDULED == request.status
    assert body["requester"] == "rita" and request.requester == rita
    assert body["cluster"] == cluster.pk and body["cluster_name"] == "demo"
    assert body["targets"] == [{"namespace": "shop", "selector": "app=web"}]
    assert body["deadline_minutes"] == 45
    assert request.not_before == datetime(2030, 1, 1, 7, 0, tzinfo=UTC)
    assert body["plan"]["ok"] is True and len(body["plan"]["pods"]) == 3
    assert body["pods"] == []  # the worker creates them when it starts the request
    event = AuditEvent.objects.get(action="request.create")
    assert event.actor_name == "rita" and event.object_id == str(request.pk)


def test_a_drain_is_stored_with_its_options(api, cluster):
    body = {
        "cluster": cluster.pk,
        "kind": "drain",
        "reason": "kernel upgrade",
        "node": "node-2",
        "options": {**ALL_OPTIONS, "pod_selector": "app!=nothing"},
        "grace_period_seconds": 10,
        "uncordon_when_done": True,
    }
    response = api.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    request = EvictionRequest.objects.get()
    assert request.options == {**ALL_OPTIONS, "pod_selector": "app!=nothing"}
    assert request.grace_period_seconds == 10 and request.uncordon_when_done and request.node == "node-2"


def test_drain_without_options_is_refused_like_kubectl_with_every_reason(api, cluster):
    body = {"cluster": cluster.pk, "kind": "drain", "reason": "kernel upgrade", "node": "node-2"}
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    messages = " ".join(response.json()["plan"])
    assert "DaemonSet" in messages
    assert "local storage" in messages
    assert "no controller" in messages
    assert not EvictionRequest.objects.exists()


VALID = {
    "kind": "pods",
    "reason": "move web",
    "targets": [{"namespace": "shop", "name": "web-1"}],
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reason": None}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"kind": "reboot"}, "kind"),
        ({"targets": [{"namespace": "shop", "name": "web-1", "selector": "app=web"}]}, "targets"),
        ({"targets": [{"namespace": "shop"}]}, "targets"),
        ({"targets": [{"namespace": "Shop!", "name": "web-1"}]}, "targets"),
        ({"targets": [{"namespace": "shop", "name": f"web-{i}"} for i in range(MAX_TARGETS + 1)]}, "targets"),
        ({"targets": "shop/web-1"}, "targets"),
        ({"targets": [{"namespace": "shop", "name": "web-1", "uid": "x"}]}, "targets"),
        ({"priority": "high"}, "priority"),
        ({"not_before": "2030-01-01T08:00:00"}, "not_before"),
        ({"not_before": "next tuesday"}, "not_before"),
        ({"deadline_minutes": 0}, "deadline_minutes"),
        ({"deadline_minutes": 7 * 24 * 60 + 1}, "deadline_minutes"),
        ({"deadline_minutes": "soon"}, "deadline_minutes"),
        ({"grace_period_seconds": -1}, "grace_period_seconds"),
        ({"uncordon_when_done": "perhaps"}, "uncordon_when_done"),
        ({"dry_run": "perhaps"}, "dry_run"),
        ({"cluster": 999999}, "cluster"),
        ({"cluster": "demo"}, "cluster"),
        ({"kind": "drain", "targets": [], "node": ""}, "node"),
        ({"kind": "drain", "targets": [], "node": "Node_2"}, "node"),
        ({"kind": "drain", "targets": [], "node": "node-2", "options": {"pod_selector": "app=(web"}}, "options"),
        ({"kind": "drain", "targets": [], "node": "node-2", "options": {"drain_all": True}}, "options"),
        ({"node": "node-2"}, "node"),
    ],
)
def test_a_bad_field_is_a_400_naming_it_and_nothing_is_stored(api, change, field):
    cluster = ClusterFactory()  # unreachable: each of these is refused before the cluster is read
    body = {"cluster": cluster.pk, **VALID, **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = api.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not EvictionRequest.objects.exists()


def test_every_field_error_is_reported_at_once(api):
    cluster = ClusterFactory()
    body = {"cluster": cluster.pk, "kind": "pods", "reason": "", "targets": [], "deadline_minutes": 0, "x": 1}
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    # Unknown fields and type errors come first; the service's own checks only once the types are right.
    assert set(response.json()) == {"x"}
    del body["x"]
    assert set(api.post(URL, body, format="json").json()) == {"reason", "targets", "deadline_minutes"}


def test_an_unreachable_cluster_is_a_400_with_the_reason_in_words(api, unused_port):
    cluster = ClusterFactory(api_url=f"https://127.0.0.1:{unused_port}", name="gone")
    response = api.post(URL, {"cluster": cluster.pk, **VALID, "dry_run": True}, format="json")
    assert response.status_code == 400
    assert "Connection refused" in response.json()["cluster"][0]


def test_creating_needs_the_requester_role(viewer_api, olga):
    cluster = ClusterFactory()
    for client in (viewer_api, client_for(olga)):
        response = client.post(URL, {"cluster": cluster.pk, **VALID}, format="json")
        assert response.status_code == 403
        assert "requester" in response.json()["detail"]
    assert APIClient().post(URL, {"cluster": cluster.pk, **VALID}, format="json").status_code in (401, 403)


# ---- list and detail ---------------------------------------------------------------------------------------------


def make_request(cluster, requester, **fields) -> EvictionRequest:
    defaults = {"kind": "drain", "reason": "r", "node": "node-1", "status": RequestStatus.SCHEDULED}
    return EvictionRequest.objects.create(cluster=cluster, requester=requester, **{**defaults, **fields})


def test_list_filters_by_cluster_status_requester_node_and_dates(viewer_api, alice, rita):
    prod, staging = ClusterFactory(name="prod"), ClusterFactory(name="staging")
    old = make_request(prod, rita, node="node-1", status=RequestStatus.SUCCEEDED)
    EvictionRequest.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    running = make_request(prod, alice, node="node-2", status=RequestStatus.RUNNING)
    other = make_request(staging, rita, node="node-2", status=RequestStatus.RUNNING)
    PodEviction.objects.create(request=running, namespace="shop", name="a", uid="1", status=PodStatus.EVICTED)
    PodEviction.objects.create(request=running, namespace="shop", name="b", uid="2", status=PodStatus.BLOCKED)
    PodEviction.objects.create(request=running, namespace="kube-system", name="p", uid="3", status=PodStatus.SKIPPED)

    def ids(query: str) -> list[int]:
        response = viewer_api.get(URL + query)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids("") == [other.pk, running.pk, old.pk]
    assert ids(f"?cluster={prod.pk}") == [running.pk, old.pk]
    assert ids("?status=running") == [other.pk, running.pk]
    assert ids("?requester=rita") == [other.pk, old.pk]
    assert ids("?node=node-2&requester=alice") == [running.pk]
    today = timezone.localdate()
    assert ids(f"?since={today}") == [other.pk, running.pk]
    assert ids(f"?until={today - timedelta(days=1)}") == [old.pk]
    assert ids("?limit=1&offset=1") == [running.pk]
    row = next(r for r in viewer_api.get(URL).json()["results"] if r["id"] == running.pk)
    assert row["progress"] == {"total": 2, "done": 1, "blocked": 1, "stuck": 0, "percent": 50}
    assert row["cluster_name"] == "prod" and row["requester"] == "alice"
    assert "plan" not in row and "pods" not in row


def test_a_request_done_with_exceptions_says_so_with_its_exceptions_and_is_found_by_status(viewer_api, alice):
    prod = ClusterFactory(name="prod")
    plain = make_request(prod, alice, status=RequestStatus.SUCCEEDED)
    PodEviction.objects.create(request=plain, namespace="kube-system", name="p", uid="0", status=PodStatus.SKIPPED)
    request = make_request(prod, alice, status="done_with_exceptions", status_reason="Done with exceptions: …")
    for index, (status, by) in enumerate(
        [("evicted", None), ("skipped", "olga"), ("skipped", "olga"), ("skipped", None), ("deleted", None)]
    ):
        PodEviction.objects.create(
            request=request, namespace="shop", name=f"p{index}", uid=str(index), status=status, skipped_by=by
        )

    found = viewer_api.get(URL + "?status=done_with_exceptions").json()["results"]
    assert [(row["id"], row["status"]) for row in found] == [(request.pk, "done_with_exceptions")]
    assert found[0]["exceptions"] == {"skipped": 2, "deleted": 1}
    assert viewer_api.get(f"{URL}{request.pk}/").json()["exceptions"] == {"skipped": 2, "deleted": 1}
    # Pods the drain rules skip (DaemonSet, mirror pods) are no exception.
    assert viewer_api.get(f"{URL}{plain.pk}/").json()["exceptions"] == {"skipped": 0, "deleted": 0}
    schema = viewer_api.get("/api/schema/?format=json").json()
    request_schema = schema["components"]["schemas"]["EvictionRequest"]["properties"]
    assert "done_with_exceptions" in str(schema["components"]["schemas"]) and "exceptions" in request_schema


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=bogus", "status"),
        ("cluster=prod", "cluster"),
        ("since=yesterday", "since"),
        ("until=2025-13-01", "until"),
        ("since=2025-02-01&until=2025-01-01", "until"),
        ("stauts=running", "stauts"),
        ("limit=0", "limit"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(viewer_api, query, field):
    response = viewer_api.get(f"{URL}?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_list_makes_the_same_few_queries_however_many_requests(viewer_api, alice, django_assert_max_num_queries):
    cluster = ClusterFactory()
    for _ in range(30):
        request = make_request(cluster, alice)
        PodEviction.objects.create(request=request, namespace="a", name="b", uid="c")
    with django_assert_max_num_queries(6):
        assert len(viewer_api.get(URL).json()["results"]) == 30


def test_detail_has_every_pod_and_attempt_in_a_bounded_number_of_queries(
    viewer_api, alice, django_assert_max_num_queries
):
    request = make_request(ClusterFactory(), alice, status=RequestStatus.RUNNING, pods_created_at=timezone.now())
    now = timezone.now()
    for i in range(20):
        pod = PodEviction.objects.create(
            request=request,
            namespace="shop",
            name=f"web-{i:02d}",
            uid=f"uid-{i}",
            node="node-2",
            status=PodStatus.BLOCKED,
            attempts=3,
            blocking_pdb="shop/web-pdb",
            budget_needs=2,
            budget_has=1,
            blocked_since=now,
            next_attempt_at=now + timedelta(seconds=5),
            note="blocked by shop/web-pdb",
        )
        for n in range(3):
            EvictionAttempt.objects.create(
                pod=pod,
                at=now + timedelta(seconds=n),
                http_status=429,
                reason="TooManyRequests",
                message="Cannot evict pod as it would violate the pod's disruption budget.",
                budget="shop/web-pdb needs 2 healthy pods and has 1",
                outcome="blocked",
            )
    with django_assert_max_num_queries(6):
        response = viewer_api.get(f"{URL}{request.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert len(body["pods"]) == 20
    pod = body["pods"][0]
    assert pod["name"] == "web-00" and pod["status"] == "blocked" and pod["attempt_count"] == 3
    assert pod["blocking_pdb"] == "shop/web-pdb" and pod["budget_needs"] == 2 and pod["budget_has"] == 1
    assert pod["next_attempt_at"] and pod["blocked_since"] and pod["note"]
    assert [a["http_status"] for a in pod["attempts"]] == [429, 429, 429]
    assert pod["attempts"][0]["budget"] == "shop/web-pdb needs 2 healthy pods and has 1"
    assert body["progress"]["blocked"] == 20 and body["progress"]["total"] == 20
    assert "plan" in body


def test_unknown_ids_are_404(viewer_api):
    assert viewer_api.get(f"{URL}424242/").status_code == 404
    assert viewer_api.get("/api/v1/evictions/424242/").status_code == 404
    assert viewer_api.get(f"{URL}abc/").status_code == 404


def test_reading_needs_the_viewer_role(nora):
    assert client_for(nora).get(URL).status_code == 403
    assert APIClient().get(URL).status_code in (401, 403)


# ---- interventions on a request ----------------------------------------------------------------------------------


def test_an_operator_pauses_resumes_extends_and_cancels_a_request(olga, started):
    operator = client_for(olga)
    url = f"{URL}{started.pk}"
    response = operator.post(f"{url}/pause/", {"reason": "change freeze"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "paused" and "change freeze" in response.json()["status_reason"]
    assert len(response.json()["pods"]) == 3

    response = operator.post(f"{url}/resume/", {}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "running"

    before = EvictionRequest.objects.get(pk=started.pk).deadline_at
    response = operator.post(f"{url}/extend/", {"minutes": 60, "reason": "owners asked"}, format="json")
    assert response.status_code == 200
    assert EvictionRequest.objects.get(pk=started.pk).deadline_at >= before + timedelta(minutes=60)

    response = operator.post(f"{url}/cancel/", {"reason": "not today", "uncordon": True}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert {p["status"] for p in response.json()["pods"]} == {"cancelled"}
    actions = set(AuditEvent.objects.filter(actor_name="olga").values_list("action", flat=True))
    assert {"request.pause", "request.resume", "request.extend_deadline", "request.cancel"} <= actions


def test_retry_puts_every_waiting_or_stuck_pod_of_a_request_back_in_line(olga, started):
    from django.utils import timezone

    from evictions.models import PodEviction, PodStatus

    stuck = started.pods.first()
    PodEviction.objects.filter(pk=stuck.pk).update(status=PodStatus.NEEDS_INTERVENTION, next_attempt_at=None)
    later = timezone.now() + timedelta(minutes=5)
    started.pods.exclude(pk=stuck.pk).update(status=PodStatus.BLOCKED, next_attempt_at=later)
    response = client_for(olga).post(f"{URL}{started.pk}/retry/", {"reason": "replacement is up"}, format="json")
    assert response.status_code == 200, response.content
    statuses = {p["id"]: p["status"] for p in response.json()["pods"]}
    assert statuses[stuck.pk] == "pending"
    assert all(p.next_attempt_at <= timezone.now() for p in started.pods.all())
    event = AuditEvent.objects.get(action="request.retry")
    assert event.actor_name == "olga" and len(event.details["pods"]) == 3


def test_retry_of_a_finished_request_is_a_400(olga, started):
    client_for(olga).post(f"{URL}{started.pk}/cancel/", {"reason": "not today"}, format="json")
    response = client_for(olga).post(f"{URL}{started.pk}/retry/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["status"] == ["The request cannot be retried: its status is cancelled."]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("pause", {"reason": "r"}),
        ("resume", {"reason": "r"}),
        ("cancel", {"reason": "r"}),
        ("extend", {"minutes": 5, "reason": "r"}),
        ("retry", {"reason": "r"}),
    ],
)
def test_a_viewer_or_requester_cannot_act_on_a_request(vera, rita, started, path, body):
    for user in (vera, rita):
        response = client_for(user).post(f"{URL}{started.pk}/{path}/", body, format="json")
        assert response.status_code == 403
        assert "operator" in response.json()["detail"]
    assert EvictionRequest.objects.get(pk=started.pk).status == RequestStatus.RUNNING


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("pause", {}, "reason"),
        ("pause", {"reason": " "}, "reason"),
        ("pause", {"reason": "r", "force": True}, "force"),
        ("cancel", {"reason": "r", "uncordon": "maybe"}, "uncordon"),
        ("extend", {"reason": "r"}, "minutes"),
        ("extend", {"minutes": 0}, "minutes"),
        ("extend", {"minutes": "an hour"}, "minutes"),
        ("resume", {}, "status"),  # it is running, not paused
    ],
)
def test_a_bad_action_body_is_a_400_naming_the_field(olga, started, path, body, field):
    response = client_for(olga).post(f"{URL}{started.pk}/{path}/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_a_finished_request_cannot_be_paused(olga, alice):
    request = make_request(ClusterFactory(), alice, status=RequestStatus.SUCCEEDED)
    response = client_for(olga).post(f"{URL}{request.pk}/pause/", {"reason": "r"}, format="json")
    assert response.status_code == 400 and "cannot be paused" in response.json()["status"][0]


# ---- interventions on a pod --------------------------------------------------------------------------------------


def pod_url(pod: PodEviction, action: str = "") -> str:
    return f"/api/v1/evictions/{pod.pk}/" + (f"{action}/" if action else "")


def test_an_operator_retries_and_skips_a_pod(olga, started):
    operator = client_for(olga)
    first, second = list(started.pods.order_by("name"))[:2]
    response = operator.post(pod_url(first, "retry"), {"reason": "budget freed"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "pending" and "Retry requested by olga" in response.json()["note"]

    response = operator.post(pod_url(second, "skip"), {"reason": "owner moves it"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "skipped" and "owner moves it" in response.json()["note"]
    assert operator.post(pod_url(second, "skip"), {"reason": "again"}, format="json").status_code == 400
    assert operator.post(pod_url(first, "skip"), {}, format="json").json().keys() == {"reason"}


def test_an_operator_deletes_a_pod_directly_after_typing_its_name(olga, started, sim):
    pod = started.pods.order_by("name").first()
    assert pod is not None
    operator = client_for(olga)
    body = {"reason": "stuck behind its budget", "confirm_name": "web-wrong", "grace_period_seconds": 0}
    response = operator.post(pod_url(pod, "force-delete"), body, format="json")
    assert response.status_code == 400
    assert pod.name in response.json()["confirm_name"][0]
    assert not EvictionAttempt.objects.filter(pod=pod).exists()

    response = operator.post(pod_url(pod, "force-delete"), {**body, "confirm_name": pod.name}, format="json")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["status"] in ("terminating", "deleted")
    assert [(a["kind"], a["http_status"], a["actor"]) for a in answer["attempts"]] == [
        (AttemptKind.DELETE, 200, "olga")
    ]
    assert AuditEvent.objects.filter(action="pod.force_delete", actor_name="olga").exists()
    assert client_for(olga).get(pod_url(pod)).json()["id"] == pod.pk


def test_a_viewer_cannot_act_on_a_pod_and_a_requester_cannot_delete_one(vera, rita, started):
    pod = started.pods.first()
    assert pod is not None
    for path in ("retry", "skip", "force-delete"):
        body = {"reason": "r", "confirm_name": pod.name} if path == "force-delete" else {"reason": "r"}
        response = client_for(vera).post(pod_url(pod, path), body, format="json")
        assert response.status_code == 403, path
    response = client_for(rita).post(
        pod_url(pod, "force-delete"), {"reason": "r", "confirm_name": pod.name}, format="json"
    )
    assert response.status_code == 403 and "operator" in response.json()["detail"]
    pod.refresh_from_db()
    assert pod.status == PodStatus.PENDING and not EvictionAttempt.objects.filter(pod=pod).exists()


def test_a_viewer_reads_one_pod_eviction_with_its_attempts(viewer_api, alice):
    request = make_request(ClusterFactory(), alice)
    pod = PodEviction.objects.create(request=request, namespace="shop", name="web-1", uid="u", attempts=1)
    EvictionAttempt.objects.create(pod=pod, at=timezone.now(), http_status=201, outcome="terminating")
    body = viewer_api.get(pod_url(pod)).json()
    assert body["request"] == request.pk and body["attempt_count"] == 1
    assert [a["http_status"] for a in body["attempts"]] == [201]


# ---- schema ------------------------------------------------------------------------------------------------------


def test_every_endpoint_is_in_the_openapi_schema(admin_client):
    text = admin_client.get("/api/schema/").content.decode()
    for path in [
        "/api/v1/requests/:",
        "/api/v1/requests/{id}/:",
        "/api/v1/requests/{id}/pause/:",
        "/api/v1/requests/{id}/resume/:",
        "/api/v1/requests/{id}/cancel/:",
        "/api/v1/requests/{id}/extend/:",
        "/api/v1/requests/{id}/retry/:",
        "/api/v1/evictions/{id}/:",
        "/api/v1/evictions/{id}/retry/:",
        "/api/v1/evictions/{id}/skip/:",
        "/api/v1/evictions/{id}/force-delete/:",
        "/api/v1/clusters/{id}/pods/:",
        "/api/v1/clusters/{id}/pdbs/:",
        "/api/v1/clusters/{id}/pause/:",
        "/api/v1/clusters/{id}/resume/:",
    ]:
        assert path in text, path
    for component in ["EvictionRequestCreateRequest", "EvictionRequestDetail", "PodEviction", "Plan", "LivePod"]:
        assert f"    {component}:" in text, component


# ---- end to end on a real worker ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_a_request_made_through_the_api_runs_on_a_worker_to_the_end(sim):
    from tests.factories import UserFactory
    from tests.worker import celery_worker, wait_until

    rita = UserFactory(username="rita", roles=["requester"])
    cluster = register(sim)
    client = client_for(rita)
    body = {
        "cluster": cluster.pk,
        "kind": "pods",
        "reason": "clean up the debug pod",
        "targets": [{"namespace": "batch", "name": "adhoc-debug"}],
    }
    with celery_worker():
        created = client.post(URL, body, format="json")
        assert created.status_code == 201, created.content
        url = f"{URL}{created.json()['id']}/"
        wait_until(lambda: client.get(url).json()["status"] == "succeeded", timeout=60, message="the request")
    detail = client.get(url).json()
    assert detail["progress"]["done"] == detail["progress"]["total"] == 1
    (pod,) = detail["pods"]
    assert pod["status"] == "evicted" and pod["seconds_to_evict"] is not None
    assert [a["http_status"] for a in pod["attempts"]] == [201]


@pytest.mark.parametrize(
    ("status", "action", "words"),
    [
        (RequestStatus.AWAITING_APPROVAL, "pause", "The request cannot be paused: its status is awaiting approval."),
        (RequestStatus.SUCCEEDED, "pause", "The request cannot be paused: its status is succeeded."),
        (RequestStatus.NEEDS_INTERVENTION, "cancel", None),  # allowed
        (RequestStatus.REJECTED, "cancel", "The request cannot be cancelled: its status is rejected."),
        (RequestStatus.AWAITING_APPROVAL, "retry", "The request cannot be retried: its status is awaiting approval."),
    ],
)
def test_an_action_the_status_does_not_allow_says_so_in_a_grammatical_sentence(olga, alice, status, action, words):
    request = make_request(ClusterFactory(), alice, status=status)
    response = client_for(olga).post(f"{URL}{request.pk}/{action}/", {"reason": "r"}, format="json")
    if words is None:
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 400
        assert response.json()["status"] == [words]
