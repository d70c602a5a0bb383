"""Scenarios: every node boots with an ID; the pools scenario's pools, taints, requests and the scheduler's rules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kubesim import Simulator
from kubesim.scenarios import available
from kubesim.tests.conftest import wait_until

POOL = "cloud.google.com/gke-nodepool"


@pytest.fixture
def pools() -> Iterator[Simulator]:
    with Simulator(scenario="pools", time_scale=100) as sim:
        yield sim


def nodes(sim: Simulator) -> dict[str, dict]:
    with sim.store.lock:
        return {n["metadata"]["name"]: n for n in sim.store.list("nodes")}


def pods(sim: Simulator, namespace: str | None = None) -> list[dict]:
    with sim.store.lock:
        return [p for p in sim.store.list("pods", namespace) if not p["metadata"].get("deletionTimestamp")]


@pytest.mark.parametrize("scenario", [*available(), "generated:nodes=4,pods=20,pdbs=2"])
def test_every_node_of_every_scenario_has_its_own_boot_id(scenario: str) -> None:
    sim = Simulator(scenario=scenario)  # not started: loading is enough
    boot_ids = [n["status"]["nodeInfo"]["bootID"] for n in nodes(sim).values()]
    assert boot_ids and all(boot_ids) and len(set(boot_ids)) == len(boot_ids)


def test_the_pools_have_labelled_nodes_and_a_tainted_control_plane(pools: Simulator) -> None:
    by_name = nodes(pools)
    pool_of = {name: n["metadata"]["labels"].get(POOL) for name, n in by_name.items()}
    assert sorted(name for name, pool in pool_of.items() if pool == "blue") == ["blue-1", "blue-2", "blue-3", "blue-4"]
    assert sorted(name for name, pool in pool_of.items() if pool == "green") == ["green-1", "green-2", "green-3"]
    cp = by_name["cp-1"]
    assert "node-role.kubernetes.io/control-plane" in cp["metadata"]["labels"]
    assert cp["spec"]["taints"] == [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    assert by_name["blue-1"]["status"]["allocatable"] == {
        "cpu": "4",
        "ephemeral-storage": "102400Mi",
        "memory": "8Gi",
        "pods": "110",
    }


def test_the_pools_pods_request_room_and_stay_in_their_pool(pools: Simulator) -> None:
    web = [p for p in pods(pools, "shop") if p["metadata"]["labels"]["app"] == "web"]
    assert len(web) == 8 and {p["spec"]["nodeName"] for p in web} == {"blue-1", "blue-2", "blue-3", "blue-4"}
    assert web[0]["spec"]["containers"][0]["resources"] == {"requests": {"cpu": "1", "memory": "2Gi"}}
    assert web[0]["spec"]["nodeSelector"] == {POOL: "blue"}
    assert web[0]["status"]["qosClass"] == "Burstable"
    coredns = [p for p in pods(pools, "kube-system") if p["metadata"]["name"].startswith("coredns")]
    assert {p["spec"]["nodeName"] for p in coredns} == {"cp-1", "green-1"}
    tolerations = coredns[0]["spec"]["tolerations"]
    assert {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"} in tolerations
    assert any(t["key"] == "node.kubernetes.io/not-ready" for t in tolerations)  # the defaults are kept
    per_blue_node = {
        name: sorted(p["metadata"]["labels"].get("app", "") for p in pods(pools) if p["spec"].get("nodeName") == name)
        for name in ("blue-1", "blue-2", "blue-3", "blue-4")
    }
    assert all(apps == ["", "api", "web", "web"] for apps in per_blue_node.values())  # "": kube-proxy


def cordon_and_evict_all(sim: Simulator, node: str) -> None:
    with sim.store.lock:
        n = sim.store.get("nodes", "", node)
        n["spec"]["unschedulable"] = True
        sim.store.modified("nodes", n)
    for pod in pods(sim, "shop"):
        if pod["spec"].get("nodeName") == node:
            with sim.store.lock:
                sim.store.remove("pods", (pod["metadata"]["namespace"], pod["metadata"]["name"]))
    sim.reconcile()


def test_replacements_go_where_their_pool_has_room_or_stay_pending(pools: Simulator) -> None:
    # One blue node's three pods fit in the 1 CPU free on each of the other three blue nodes.
    cordon_and_evict_all(pools, "blue-1")
    shop = pods(pools, "shop")
    assert len(shop) == 12 and all(p["spec"].get("nodeName") in ("blue-2", "blue-3", "blue-4") for p in shop)
    # A second blue node's pods (its own three and one from blue-1) find no room: green has it, but nodeSelector
    # keeps them off.
    cordon_and_evict_all(pools, "blue-2")
    pending = [p for p in pods(pools, "shop") if not p["spec"].get("nodeName")]
    assert len(pending) == 4 and all(p["status"]["phase"] == "Pending" for p in pending)
    # Uncordoning gives them a place again.
    with pools.store.lock:
        node = pools.store.get("nodes", "", "blue-1")
        node["spec"].pop("unschedulable")
        pools.store.modified("nodes", node)
    wait_until(lambda: all(p["spec"].get("nodeName") for p in pods(pools, "shop")))


def test_no_pod_is_placed_on_the_tainted_control_plane_without_a_toleration(pools: Simulator) -> None:
    with pools.store.lock:
        for name in ("green-1", "green-2", "green-3"):
            pools.store.get("nodes", "", name)["spec"]["unschedulable"] = True
        for pod in pods(pools, "batch"):
            pools.store.remove("pods", (pod["metadata"]["namespace"], pod["metadata"]["name"]))
    pools.reconcile()
    reports = pods(pools, "batch")
    # reports may go to any pool: the blue nodes have room for them, the control plane is never used.
    assert len(reports) == 3
    assert {p["spec"].get("nodeName") for p in reports} <= {"blue-1", "blue-2", "blue-3", "blue-4"}
