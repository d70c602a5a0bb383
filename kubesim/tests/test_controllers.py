"""Simulated time: graceful deletion, replacements, readiness delays, DaemonSet and mirror pods."""

from __future__ import annotations

import json

from kubesim import Simulator
from kubesim.eviction import delete_pod
from kubesim.tests.conftest import eviction_body, pod_named, wait_until


def evict(sim: Simulator, ns: str, name: str) -> int:
    from kubesim.eviction import evict as do_evict

    with sim.store.lock:
        return do_evict(sim.store, ns, name, json.dumps(eviction_body(name, ns)).encode()).code


def pods(sim: Simulator, ns: str) -> list[dict]:
    return [p for p in sim.state()["pods"] if p["namespace"] == ns]


def test_evicted_pod_disappears_after_its_grace_period(fast_demo: Simulator) -> None:
    assert evict(fast_demo, "batch", "adhoc-debug") == 201  # grace 5 s at 100x: 50 ms
    wait_until(lambda: not pod_named(fast_demo, "batch", "adhoc-debug"), timeout=3)


def test_replicaset_replacement_lands_on_a_schedulable_node_and_becomes_ready(fast_demo: Simulator) -> None:
    from kubesim.builders import set_node_unschedulable

    with fast_demo.store.lock:
        for name in ("node-2", "node-3"):
            set_node_unschedulable(fast_demo.store.get("nodes", "", name), True)
    original = set(pod_named(fast_demo, "shop", "web-"))
    old = pod_named(fast_demo, "shop", "web-", node="node-2")[0]
    assert evict(fast_demo, "shop", old) == 201
    fresh = wait_until(lambda: [p for p in pods(fast_demo, "shop") if p["name"] not in original], timeout=3)
    assert fresh[0]["node"] == "node-1"  # the only schedulable node
    wait_until(lambda: all(p["ready"] for p in pods(fast_demo, "shop") if not p["terminating"]), timeout=3)
    wait_until(lambda: old not in [p["name"] for p in pods(fast_demo, "shop")], timeout=3)
    assert len(pods(fast_demo, "shop")) == 3


def test_statefulset_pod_returns_under_the_same_name_with_a_new_uid(fast_demo: Simulator) -> None:
    before = next(p for p in pods(fast_demo, "data") if p["name"] == "postgres-1")
    assert evict(fast_demo, "data", "postgres-1") == 201
    after = wait_until(
        lambda: [p for p in pods(fast_demo, "data") if p["name"] == "postgres-1" and p["uid"] != before["uid"]],
        timeout=3,
    )
    assert after[0]["phase"] == "Running"
    wait_until(lambda: next(p for p in pods(fast_demo, "data") if p["name"] == "postgres-1")["ready"], timeout=3)


def test_never_ready_workload_leaves_the_next_eviction_stuck(fast_demo: Simulator) -> None:
    first, second = pod_named(fast_demo, "payments", "checkout-")
    assert evict(fast_demo, "payments", first) == 201
    wait_until(lambda: first not in pod_named(fast_demo, "payments", "checkout-"), timeout=3)
    fast_demo.reconcile()
    assert len(pods(fast_demo, "payments")) == 2
    import time

    time.sleep(0.5)  # 50 simulated seconds
    assert evict(fast_demo, "payments", second) == 429
    fast_demo.set_workload("payments", "checkout-7f9b6c5d48", never_ready=False, ready_after_seconds=1)
    wait_until(lambda: evict(fast_demo, "payments", second) == 201, timeout=3)


def test_daemonset_and_mirror_pods_come_back(fast_demo: Simulator) -> None:
    ds = pod_named(fast_demo, "kube-system", "kube-proxy-", node="node-2")[0]
    with fast_demo.store.lock:
        delete_pod(fast_demo.store, fast_demo.store.get("pods", "kube-system", ds), 0)
        delete_pod(fast_demo.store, fast_demo.store.get("pods", "kube-system", "etcd-node-1"), 0)
    wait_until(lambda: pod_named(fast_demo, "kube-system", "kube-proxy-", node="node-2"), timeout=3)
    wait_until(lambda: pod_named(fast_demo, "kube-system", "etcd-node-1"), timeout=3)


def test_pdb_status_follows_readiness(fast_demo: Simulator) -> None:
    a, b, _c = pod_named(fast_demo, "shop", "web-")
    fast_demo.set_pod("shop", a, ready=False)
    fast_demo.set_pod("shop", b, ready=False)
    fast_demo.reconcile()
    web = next(p for p in fast_demo.state()["pdbs"] if p["name"] == "web-pdb")
    assert (web["currentHealthy"], web["desiredHealthy"], web["disruptionsAllowed"]) == (1, 2, 0)


def test_several_simulators_run_side_by_side() -> None:
    with Simulator(scenario="minimal") as one, Simulator(scenario="demo", version="1.20") as two:
        assert one.port != two.port
        assert one.state()["scenario"] == "minimal" and two.state()["evictionApiVersion"] == "policy/v1beta1"
