"""Objects and watch streams parse with the official client; resourceVersion semantics."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

pytest.importorskip("kubernetes")
from kubernetes import client, watch
from kubernetes.client import ApiException

from kubesim import Simulator
from kubesim.tests.conftest import api_client, eviction_body, pod_named


def test_pods_pdbs_nodes_and_workloads_parse(demo: Simulator, tmp_path: Path) -> None:
    api = api_client(demo, tmp_path)
    core, policy, apps = client.CoreV1Api(api), client.PolicyV1Api(api), client.AppsV1Api(api)
    pods = core.list_pod_for_all_namespaces()
    assert len(pods.items) == len(demo.state()["pods"])
    mirror = core.read_namespaced_pod("etcd-node-1", "kube-system")
    assert "kubernetes.io/config.mirror" in mirror.metadata.annotations
    assert mirror.metadata.owner_references[0].kind == "Node"
    assert core.list_namespaced_pod("shop", label_selector="app=web").items[0].status.conditions
    pdbs = policy.list_pod_disruption_budget_for_all_namespaces()
    web = next(p for p in pdbs.items if p.metadata.name == "web-pdb")
    assert (
        web.status.current_healthy,
        web.status.desired_healthy,
        web.status.disruptions_allowed,
        web.status.expected_pods,
    ) == (3, 2, 1, 3)
    assert web.status.conditions[0].type == "DisruptionAllowed"
    assert policy.read_namespaced_pod_disruption_budget("etl-pdb", "analytics").metadata.generation == 2
    nodes = core.list_node()
    assert [n.metadata.name for n in nodes.items] == ["node-1", "node-2", "node-3"]
    assert nodes.items[0].status.node_info.kubelet_version == "v1.30.0"
    assert {n.metadata.name: n.status.phase for n in core.list_namespace().items}["staging"] == "Terminating"
    assert apps.read_namespaced_daemon_set("kube-proxy", "kube-system").status.number_ready == 3
    assert apps.list_replica_set_for_all_namespaces().items
    assert apps.read_namespaced_stateful_set("postgres", "data").spec.replicas == 3


def test_pod_watch_sees_eviction_then_deletion(fast_demo: Simulator, tmp_path: Path) -> None:
    core = client.CoreV1Api(api_client(fast_demo, tmp_path))
    listed = core.list_namespaced_pod("data")
    name = "postgres-1"

    def evict_soon() -> None:
        core.create_namespaced_pod_eviction(name, "data", eviction_body(name, "data"))

    timer = threading.Timer(0.3, evict_soon)
    timer.start()
    seen: list[tuple[str, str, bool]] = []
    w = watch.Watch()
    for event in w.stream(
        core.list_namespaced_pod, "data", resource_version=listed.metadata.resource_version, timeout_seconds=5
    ):
        pod = event["object"]
        seen.append((event["type"], pod.metadata.name, pod.metadata.deletion_timestamp is not None))
        if event["type"] == "DELETED" and pod.metadata.name == name:
            w.stop()
    timer.join()
    assert ("MODIFIED", name, True) in seen
    assert ("DELETED", name, True) in seen
    # The StatefulSet brings the pod back under the same name.
    assert seen.index(("DELETED", name, True)) > seen.index(("MODIFIED", name, True))


def test_watch_without_resource_version_starts_with_added_events(demo: Simulator, tmp_path: Path) -> None:
    policy = client.PolicyV1Api(api_client(demo, tmp_path))
    events = list(watch.Watch().stream(policy.list_pod_disruption_budget_for_all_namespaces, timeout_seconds=1))
    assert {e["type"] for e in events} == {"ADDED"}
    assert {e["object"].metadata.name for e in events} >= {"web-pdb", "etl-pdb"}


def test_pdb_and_node_watches(demo: Simulator, tmp_path: Path) -> None:
    api = api_client(demo, tmp_path)
    core, policy = client.CoreV1Api(api), client.PolicyV1Api(api)
    rv = policy.list_namespaced_pod_disruption_budget("shop").metadata.resource_version
    name = pod_named(demo, "shop", "web-")[0]
    core.create_namespaced_pod_eviction(name, "shop", eviction_body(name, "shop"))
    core.patch_node("node-3", {"spec": {"unschedulable": True}})
    pdb_events = list(
        watch.Watch().stream(
            policy.list_namespaced_pod_disruption_budget, "shop", resource_version=rv, timeout_seconds=1
        )
    )
    assert pdb_events and all(e["type"] == "MODIFIED" for e in pdb_events)
    assert pdb_events[0]["object"].status.disruptions_allowed == 0
    node_events = list(watch.Watch().stream(core.list_node, resource_version=rv, timeout_seconds=1))
    assert [(e["type"], e["object"].spec.unschedulable) for e in node_events] == [("MODIFIED", True)]


def test_watch_filters_by_field_selector(demo: Simulator, tmp_path: Path) -> None:
    core = client.CoreV1Api(api_client(demo, tmp_path))
    events = list(
        watch.Watch().stream(core.list_pod_for_all_namespaces, field_selector="spec.nodeName=node-2", timeout_seconds=1)
    )
    assert events and {e["object"].spec.node_name for e in events} == {"node-2"}


def test_too_old_resource_version_is_410_expired(demo: Simulator, tmp_path: Path) -> None:
    core = client.CoreV1Api(api_client(demo, tmp_path))
    old = core.list_namespaced_pod("shop").metadata.resource_version
    demo.load_scenario("demo")  # a reload forgets the history
    with pytest.raises(ApiException) as exc:
        list(watch.Watch().stream(core.list_namespaced_pod, "shop", resource_version=old, timeout_seconds=2))
    assert exc.value.status == 410
    assert "Expired" in str(exc.value.reason)


def test_watch_honours_timeout_seconds(demo: Simulator, tmp_path: Path) -> None:
    import time

    core = client.CoreV1Api(api_client(demo, tmp_path))
    rv = core.list_node().metadata.resource_version
    started = time.monotonic()
    events = list(watch.Watch().stream(core.list_node, resource_version=rv, timeout_seconds=1))
    assert events == [] and 0.9 < time.monotonic() - started < 3
