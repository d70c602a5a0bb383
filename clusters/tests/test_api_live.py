"""Live cluster reads through the API (pods, PDBs) over kubesim, a 502 with the reason when the cluster cannot be
read, and pausing and resuming a cluster by role."""

from __future__ import annotations

import socket

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from clusters.models import Cluster
from kubesim import Simulator
from tests.factories import ClusterFactory
from tests.kubesim_cluster import register_sim


@pytest.fixture
def sim():
    with Simulator(scenario="demo", time_scale=10) as simulator:
        yield simulator


def register(sim: Simulator, *, name: str = "demo", token: str | None = None) -> Cluster:
    created = register_sim(sim, name=name, token=token)
    return created


@pytest.fixture
def cluster(db, sim) -> Cluster:
    created = register(sim)
    assert created.reachable
    return created


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(cluster: Cluster, what: str) -> str:
    return f"/api/v1/clusters/{cluster.pk}/{what}/"


def test_pods_on_a_node_are_read_live_and_typed(viewer_api, cluster):
    response = viewer_api.get(url(cluster, "pods") + "?node=node-2")
    assert response.status_code == 200, response.content
    pods = {p["name"]: p for p in response.json()}
    assert pods and {p["node"] for p in pods.values()} == {"node-2"}
    proxy = next(p for n, p in pods.items() if n.startswith("kube-proxy"))
    assert proxy["owners"] == [{"kind": "DaemonSet", "name": "kube-proxy", "controller": True}]
    assert pods["adhoc-debug"]["owners"] == [] and pods["adhoc-debug"]["termination_grace_seconds"] == 5
    cache = next(p for n, p in pods.items() if n.startswith("report-cache"))
    assert cache["uses_emptydir"] is True and cache["namespace"] == "batch"
    web = [p for p in pods.values() if p["namespace"] == "shop"]
    assert len(web) == 2 and all(p["labels"]["app"] == "web" and p["phase"] == "Running" for p in web)
    assert all(p["uid"] and p["created_at"] and isinstance(p["ready"], bool) for p in pods.values())
    assert set(proxy) == {
        "namespace",
        "name",
        "uid",
        "node",
        "phase",
        "ready",
        "ready_since",
        "labels",
        "owners",
        "mirror",
        "uses_emptydir",
        "deleting",
        "deletion_timestamp",
        "termination_grace_seconds",
        "created_at",
    }


def test_pods_in_a_namespace_and_everywhere(viewer_api, cluster):
    shop = viewer_api.get(url(cluster, "pods") + "?namespace=shop").json()
    assert len(shop) == 3 and {p["namespace"] for p in shop} == {"shop"}
    everything = viewer_api.get(url(cluster, "pods")).json()
    assert len(everything) > len(shop)
    mirrors = [p["name"] for p in everything if p["mirror"]]
    assert "etcd-node-1" in mirrors
    assert next(p for p in everything if p["name"] == "gpu-trainer")["node"] == ""


def test_pdbs_are_read_live_with_their_numbers(viewer_api, cluster):
    response = viewer_api.get(url(cluster, "pdbs") + "?namespace=shop")
    assert response.status_code == 200, response.content
    (pdb,) = response.json()
    assert pdb["name"] == "web-pdb" and pdb["namespace"] == "shop"
    assert pdb["selector"]["match_labels"] == {"app": "web"} and pdb["selector"]["words"] == "app=web"
    assert isinstance(pdb["disruptions_allowed"], int) and pdb["expected_pods"] == 3
    assert isinstance(pdb["processed"], bool)
    everywhere = viewer_api.get(url(cluster, "pdbs")).json()
    assert len([p for p in everywhere if p["namespace"] == "monitoring"]) == 2


@pytest.mark.parametrize(
    ("what", "query", "field"),
    [
        ("pods", "namespace=Shop!", "namespace"),
        ("pods", "namespace=../../apis", "namespace"),
        ("pods", "node=node_2", "node"),
        ("pods", "nodes=node-2", "nodes"),
        ("pdbs", "namespace=a%2Fb", "namespace"),
        ("pdbs", "node=node-2", "node"),
    ],
)
def test_a_bad_query_is_a_400_naming_it(viewer_api, what, query, field):
    cluster = ClusterFactory()  # never read: the query is refused first
    response = viewer_api.get(f"{url(cluster, what)}?{query}")
    assert response.status_code == 400
    assert field in response.json()


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("what", ["pods", "pdbs"])
def test_an_unreachable_cluster_is_a_502_with_the_reason_in_words(viewer_api, unused_port, what):
    cluster = ClusterFactory(api_url=f"https://127.0.0.1:{unused_port}")
    response = viewer_api.get(url(cluster, what))
    assert response.status_code == 502
    assert response.json()["kind"] == "refused"
    assert "Connection refused" in response.json()["detail"]


def test_rejected_credentials_are_a_502_saying_so(viewer_api, db, sim):
    cluster = register(sim, name="stale", token="not-the-token")
    response = viewer_api.get(url(cluster, "pods"))
    assert response.status_code == 502
    assert "Unauthorized" in response.json()["detail"]


def test_live_reads_need_the_viewer_role(nora):
    cluster = ClusterFactory()
    for what in ("pods", "pdbs"):
        assert client_for(nora).get(url(cluster, what)).status_code == 403
    assert APIClient().get(url(cluster, "pods")).status_code in (401, 403)
    assert client_for(nora).get("/api/v1/clusters/424242/pods/").status_code == 403


def test_unknown_cluster_is_404(viewer_api):
    assert viewer_api.get("/api/v1/clusters/424242/pods/").status_code == 404


# ---- pause and resume --------------------------------------------------------------------------------------------


def test_an_operator_pauses_and_resumes_a_cluster(olga):
    cluster = ClusterFactory()
    operator = client_for(olga)
    response = operator.post(url(cluster, "pause"), {"reason": "incident 42"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["paused"] is True and response.json()["paused_reason"] == "incident 42"
    cluster.refresh_from_db()
    assert cluster.paused

    response = operator.post(url(cluster, "resume"), {"reason": "resolved"}, format="json")
    assert response.status_code == 200
    assert response.json()["paused"] is False and response.json()["paused_reason"] == ""
    events = AuditEvent.objects.filter(actor_name="olga").order_by("sequence").values_list("action", flat=True)
    assert list(events) == ["cluster.pause", "cluster.resume"]


def test_resume_needs_no_reason(api):
    cluster = ClusterFactory(paused=True, paused_reason="x")
    response = api.post(url(cluster, "resume"), {}, format="json")
    assert response.status_code == 200 and response.json()["paused"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reason"),
        ({"reason": "  "}, "reason"),
        ({"reason": "x" * 501}, "reason"),
        ({"reason": "r", "all": 1}, "all"),
    ],
)
def test_pausing_needs_a_reason(olga, body, field):
    cluster = ClusterFactory()
    response = client_for(olga).post(url(cluster, "pause"), body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    cluster.refresh_from_db()
    assert not cluster.paused


def test_a_viewer_or_requester_cannot_pause_or_resume(vera, rita):
    cluster = ClusterFactory()
    for user in (vera, rita):
        for what in ("pause", "resume"):
            response = client_for(user).post(url(cluster, what), {"reason": "r"}, format="json")
            assert response.status_code == 403
            assert "operator" in response.json()["detail"]
    cluster.refresh_from_db()
    assert not cluster.paused
