"""kube.py's reads and writes against kubesim over HTTPS: typed pods, PDBs and nodes; evict, dry run, delete."""

from __future__ import annotations

import pytest

from clusters import kube
from clusters.kubetypes import LabelSelector, Requirement
from clusters.models import Credentials
from kubesim import Simulator


@pytest.fixture(scope="module")
def sim():
    with Simulator(scenario="demo", time_scale=10) as simulator:
        yield simulator


@pytest.fixture
def endpoint(sim):
    return kube.Endpoint(sim.url, sim.ca_pem, Credentials(token=sim.token))


def test_pods_on_a_node_are_typed(endpoint):
    pods = kube.list_pods(endpoint, node="node-2")
    assert pods and {p.node for p in pods} == {"node-2"}
    web = next(p for p in pods if p.namespace == "shop")
    assert web.uid and web.phase == "Running" and web.ready
    assert web.controller is not None and web.controller.kind == "ReplicaSet"
    assert any(p.controller and p.controller.kind == "DaemonSet" for p in pods)
    assert any(p.uses_emptydir for p in pods)
    assert any(not p.owners for p in pods)  # the bare pod


def test_mirror_pods_are_recognised(endpoint):
    pods = kube.list_pods(endpoint, namespace="kube-system", node="node-1")
    assert any(p.mirror for p in pods)


def test_label_and_name_selectors_are_applied_by_the_server(endpoint):
    shop = kube.list_pods(endpoint, namespace="shop", label_selector="app=web")
    assert shop and all(p.labels.get("app") == "web" for p in shop)
    one = kube.list_pods(endpoint, namespace="shop", name=shop[0].name)
    assert [p.name for p in one] == [shop[0].name]


def test_pdbs_carry_their_numbers_and_select_pods(endpoint):
    pdbs = {p.key: p for p in kube.list_pdbs(endpoint)}
    web_pdb = pdbs["shop/web-pdb"]
    assert web_pdb.min_available == "2" and web_pdb.expected_pods == 3 and web_pdb.desired_healthy == 2
    web_pod = kube.list_pods(endpoint, namespace="shop")[0]
    assert web_pdb.selects(web_pod)
    assert not pdbs["payments/checkout-pdb"].selects(web_pod)


def test_get_missing_pod_and_node_is_none(endpoint):
    assert kube.get_pod(endpoint, "shop", "nope") is None
    assert kube.get_node(endpoint, "node-99") is None


def test_cordon_and_uncordon(endpoint):
    assert kube.set_unschedulable(endpoint, "node-3", True).unschedulable
    assert kube.get_node(endpoint, "node-3").unschedulable
    assert not kube.set_unschedulable(endpoint, "node-3", False).unschedulable


def test_dry_run_eviction_changes_nothing(endpoint):
    pod = kube.list_pods(endpoint, namespace="default")[0]
    answer = kube.evict(
        endpoint, namespace=pod.namespace, name=pod.name, uid=pod.uid, api_version="policy/v1", dry_run=True
    )
    assert answer.status == 201
    assert not kube.get_pod(endpoint, pod.namespace, pod.name).deleting


def test_blocked_eviction_answer_carries_the_budget_cause(endpoint):
    pods = kube.list_pods(endpoint, namespace="payments")
    first = kube.evict(endpoint, namespace="payments", name=pods[0].name, uid=pods[0].uid, api_version="policy/v1")
    second = kube.evict(endpoint, namespace="payments", name=pods[1].name, uid=pods[1].uid, api_version="policy/v1")
    assert first.status == 201
    assert second.status == 429
    assert second.causes and second.causes[0].reason == "DisruptionBudget"
    assert "checkout-pdb" in second.causes[0].message


def test_uid_precondition_mismatch_is_409(endpoint):
    pod = kube.list_pods(endpoint, namespace="search")[0]
    answer = kube.evict(endpoint, namespace=pod.namespace, name=pod.name, uid="not-the-uid", api_version="policy/v1")
    assert answer.status == 409


def test_delete_directly_bypasses_the_budget(endpoint):
    pod = kube.list_pods(endpoint, namespace="monitoring", name="prometheus-0")[0]
    blocked = kube.evict(endpoint, namespace="monitoring", name=pod.name, uid=pod.uid, api_version="policy/v1")
    assert blocked.status == 500 and "more than one" in blocked.message
    deleted = kube.delete_pod(endpoint, namespace="monitoring", name=pod.name, uid=pod.uid, grace_period_seconds=0)
    assert deleted.status == 200


def test_transport_failure_is_an_answer_without_status(sim):
    dead = kube.Endpoint("https://127.0.0.1:1", sim.ca_pem, Credentials(token="x"))
    answer = kube.evict(dead, namespace="a", name="b", uid="c", api_version="policy/v1")
    assert answer.status is None and answer.transport_error == "refused"


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        (LabelSelector((("app", "web"),)), {"app": "web", "x": "1"}, True),
        (LabelSelector((("app", "web"),)), {"app": "api"}, False),
        (LabelSelector((), (Requirement("tier", "In", ("a", "b")),)), {"tier": "b"}, True),
        (LabelSelector((), (Requirement("tier", "NotIn", ("a",)),)), {"tier": "a"}, False),
        (LabelSelector((), (Requirement("tier", "NotIn", ("a",)),)), {}, True),
        (LabelSelector((), (Requirement("tier", "Exists"),)), {}, False),
        (LabelSelector((), (Requirement("tier", "DoesNotExist"),)), {}, True),
        (LabelSelector(), {"anything": "x"}, True),
    ],
)
def test_label_selector_semantics(selector, labels, expected):
    assert selector.matches(labels) is expected


def test_watch_reports_a_budget_the_moment_it_allows_a_disruption(sim, endpoint):
    import threading
    import time

    pdbs, version = kube.list_pdbs_at(endpoint, namespace="data")
    assert pdbs
    changed = threading.Timer(0.5, lambda: sim.set_pdb("data", "postgres-pdb", max_unavailable=2))
    changed.start()
    started = time.monotonic()
    seen = []
    for kind, pdb, _ in kube.watch_pdbs(endpoint, resource_version=version, timeout_seconds=5, namespace="data"):
        seen.append((kind, pdb.name if pdb else None))
        if pdb is not None and pdb.max_unavailable == "2" and pdb.processed:
            break
    assert ("MODIFIED", "postgres-pdb") in seen
    assert time.monotonic() - started < 3


# ---- paged lists ----------------------------------------------------------------------------------------------------


@pytest.fixture
def paged(monkeypatch):
    """A fresh demo cluster, read 4 objects a page."""
    monkeypatch.setattr(kube, "LIST_PAGE_SIZE", 4)
    with Simulator(scenario="demo") as simulator:
        simulator.clear_request_log()
        yield simulator, kube.Endpoint(simulator.url, simulator.ca_pem, Credentials(token=simulator.token))


def list_queries(sim, path):
    return [entry["query"] for entry in sim.request_log() if entry["path"] == path]


def test_pods_are_read_page_by_page_and_none_is_lost(paged):
    sim, endpoint = paged
    pods = kube.list_pods(endpoint)
    assert sorted(p.key for p in pods) == sorted(f"{p['namespace']}/{p['name']}" for p in sim.state()["pods"])
    queries = list_queries(sim, "/api/v1/pods")
    assert len(queries) == -(-len(pods) // 4)
    assert all("limit=4" in query for query in queries)
    assert "continue=" not in queries[0] and all("continue=" in query for query in queries[1:])


def test_filters_travel_with_every_page(paged):
    sim, endpoint = paged
    pods = kube.list_pods(endpoint, node="node-2")
    assert len(pods) == 6 and {p.node for p in pods} == {"node-2"}
    assert all("fieldSelector=spec.nodeName" in query for query in list_queries(sim, "/api/v1/pods"))


def test_a_budget_list_keeps_the_version_it_started_at(paged):
    sim, endpoint = paged
    pdbs, version = kube.list_pdbs_at(endpoint)
    assert len(pdbs) == 7 and len(list_queries(sim, "/apis/policy/v1/poddisruptionbudgets")) == 2
    assert int(version) <= int(sim.state()["resourceVersion"])


def test_an_expired_continue_token_restarts_the_list_once(paged):
    sim, endpoint = paged
    sim.inject_fault("expired", path="^/api/v1/pods$")
    pods = kube.list_pods(endpoint)
    assert len({p.key for p in pods}) == len(pods) == len(sim.state()["pods"])  # nothing twice
    queries = list_queries(sim, "/api/v1/pods")
    assert ["continue=" in query for query in queries[:3]] == [False, True, False]  # first, 410, first again


def test_a_list_that_expires_twice_is_an_error_in_words(paged, monkeypatch):
    sim, endpoint = paged
    monkeypatch.setattr(kube, "LIST_PAGE_SIZE", 2)  # the demo's 3 nodes in 2 pages
    sim.inject_fault("expired", count=2, path="^/api/v1/nodes$")
    with pytest.raises(kube.KubeError) as caught:
        kube.list_nodes(endpoint)
    assert caught.value.status == 410 and caught.value.kind == kube.ErrorKind.HTTP
    assert "continue token expired twice (410 Gone)" in caught.value.message


def test_nodes_are_typed_with_room_labels_and_boot_id(paged):
    _, endpoint = paged
    nodes = {node.name: node for node in kube.list_nodes(endpoint)}
    assert set(nodes) == {"node-1", "node-2", "node-3"}
    node = nodes["node-2"]
    assert node.ready and node.boot_id and node.cpu_allocatable == 4 and node.pods_allocatable == 110
    assert node.labels["kubernetes.io/hostname"] == "node-2" and node.created_at is not None
    assert len({n.boot_id for n in nodes.values()}) == 3


def test_nodes_are_chosen_by_label_selector_on_the_server(paged):
    sim, endpoint = paged
    assert [n.name for n in kube.list_nodes(endpoint, "node-role.kubernetes.io/control-plane")] == ["node-1"]
    assert [n.name for n in kube.list_nodes(endpoint, "!node-role.kubernetes.io/control-plane")] == [
        "node-2",
        "node-3",
    ]
    assert "labelSelector=" in list_queries(sim, "/api/v1/nodes")[-1]
