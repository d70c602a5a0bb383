"""The /_kubesim/ control API: scenario, state, request log, faults, token and runtime knobs."""

from __future__ import annotations

import http.client
import json
import ssl
import time

import pytest

from kubesim import Simulator
from kubesim.tests.conftest import Raw, eviction_body, pod_named, wait_until


def control(raw: Raw, method: str, route: str, body: object = None) -> tuple[int, dict]:
    code, _, data = raw.request(method, f"/_kubesim/{route}", body, token=False)
    return code, data


def test_state_and_request_log(raw: Raw) -> None:
    code, state = control(raw, "GET", "state")
    assert code == 200 and state["scenario"] == "demo" and len(state["nodes"]) == 3
    assert control(raw, "DELETE", "requests")[0] == 200
    raw.request("GET", "/api/v1/pods", headers={"User-Agent": "drainboard-test"})
    raw.request("GET", "/api/v1/pods", token=False)
    _, log = control(raw, "GET", "requests")
    assert [(r["method"], r["path"], r["status"]) for r in log["items"]] == [
        ("GET", "/api/v1/pods", 200),
        ("GET", "/api/v1/pods", 401),
    ]
    assert log["items"][0]["userAgent"] == "drainboard-test"
    assert all({"time", "query", "durationMs"} <= set(r) for r in log["items"])


def test_load_scenario_by_name_and_inline(raw: Raw) -> None:
    assert control(raw, "POST", "scenario", {"name": "minimal"}) == (200, {"loaded": "minimal"})
    _, state = control(raw, "GET", "state")
    assert [n["name"] for n in state["nodes"]] == ["node-1", "node-2"]
    inline = {"name": "tiny", "nodes": ["n1"], "pods": [{"namespace": "x", "name": "solo", "node": "n1"}]}
    assert control(raw, "POST", "scenario", {"scenario": inline})[0] == 200
    _, state = control(raw, "GET", "state")
    assert [p["name"] for p in state["pods"]] == ["solo"]
    assert control(raw, "POST", "scenario", {"name": "nope"})[0] == 400


def test_fault_injection_throttle_error_latency_and_clear(raw: Raw) -> None:
    code, fault = control(
        raw, "POST", "faults", {"type": "throttle", "count": 2, "path": "^/api/v1/pods$", "retryAfterSeconds": 4}
    )
    assert code == 201 and fault["remaining"] == 2
    for _ in range(2):
        code, headers, body = raw.request("GET", "/api/v1/pods")
        assert code == 429 and headers["retry-after"] == "4" and body["details"] == {"retryAfterSeconds": 4}
    assert raw.request("GET", "/api/v1/pods")[0] == 200
    control(raw, "POST", "faults", {"type": "error", "count": 1, "method": "POST"})
    code, _, body = raw.request(
        "POST", "/api/v1/namespaces/data/pods/postgres-0/eviction", eviction_body("postgres-0", "data")
    )
    assert code == 500 and body["reason"] == "InternalError"
    control(raw, "POST", "faults", {"type": "latency", "count": 1, "latencySeconds": 0.3})
    started = time.monotonic()
    assert raw.request("GET", "/api/v1/nodes")[0] == 200
    assert time.monotonic() - started >= 0.3
    control(raw, "POST", "faults", {"type": "error", "count": 0})  # until cleared
    assert raw.request("GET", "/api/v1/nodes")[0] == 500
    assert control(raw, "DELETE", "faults")[0] == 200
    assert raw.request("GET", "/api/v1/nodes")[0] == 200
    assert control(raw, "POST", "faults", {"type": "sunspots"})[0] == 400


def test_dropped_connection_gets_no_answer(demo: Simulator) -> None:
    demo.inject_fault("drop", count=1, path="/api/v1/nodes")
    conn = http.client.HTTPSConnection(
        "127.0.0.1", demo.port, context=ssl.create_default_context(cadata=demo.ca_pem), timeout=5
    )
    conn.request("GET", "/api/v1/nodes", headers={"Authorization": f"Bearer {demo.token}"})
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, ssl.SSLError)):
        conn.getresponse()
    conn.close()
    raw = Raw(demo)
    assert raw.request("GET", "/api/v1/nodes")[0] == 200
    raw.close()


def test_token_rotation(raw: Raw, demo: Simulator) -> None:
    code, body = control(raw, "POST", "token", {"token": "new-token"})
    assert code == 200 and body == {"token": "new-token"} and demo.token == "new-token"
    assert raw.request("GET", "/api/v1/nodes")[0] == 200  # Raw reads sim.token per request
    assert raw.request("GET", "/api/v1/nodes", token=False, headers={"Authorization": "Bearer old"})[0] == 401


def test_runtime_knobs(raw: Raw, demo: Simulator) -> None:
    code, body = control(raw, "POST", "workload", {"namespace": "shop", "name": "web-6d4b9c7f5d", "neverReady": True})
    assert code == 200 and body["neverReady"] is True and body["kind"] == "ReplicaSet"
    assert control(raw, "POST", "namespace", {"name": "shop", "terminating": True})[0] == 200
    name = pod_named(demo, "shop", "web-")[0]
    assert raw.request("POST", f"/api/v1/namespaces/shop/pods/{name}/eviction", eviction_body(name, "shop"))[0] == 403
    control(raw, "POST", "namespace", {"name": "shop", "terminating": False})
    code, body = control(raw, "POST", "pdb", {"namespace": "shop", "name": "web-pdb", "hold": True})
    assert code == 200 and body["held"] is True
    code, _, answer = raw.request("POST", f"/api/v1/namespaces/shop/pods/{name}/eviction", eviction_body(name, "shop"))
    assert code == 429 and answer["details"]["retryAfterSeconds"] == 10
    code, body = control(
        raw, "POST", "pdb", {"namespace": "shop", "name": "web-pdb", "hold": False, "minAvailable": "100%"}
    )
    assert body["spec"]["minAvailable"] == "100%"
    control(raw, "POST", "reconcile")
    code, _, answer = raw.request("POST", f"/api/v1/namespaces/shop/pods/{name}/eviction", eviction_body(name, "shop"))
    assert code == 429 and "needs 3 healthy pods" in answer["details"]["causes"][0]["message"]
    code, body = control(raw, "POST", "pod", {"namespace": "shop", "name": name, "ready": False})
    assert code == 200 and body["ready"] is False
    assert control(raw, "POST", "pod", {"namespace": "shop", "name": "ghost"})[0] == 404
    assert control(raw, "GET", "nonsense")[0] == 404
    assert control(raw, "GET", "")[0] == 200


def test_control_api_bodies_must_be_json(raw: Raw) -> None:
    code, _, body = raw.request("POST", "/_kubesim/faults", b"{nope", token=False)
    assert code == 400 and "invalid JSON" in json.dumps(body)


def test_a_rebooted_node_is_not_ready_for_a_moment_then_ready_with_a_new_boot_id(raw: Raw, demo: Simulator) -> None:
    before = raw.request("GET", "/api/v1/nodes/node-2")[2]
    old_boot = before["status"]["nodeInfo"]["bootID"]
    code, answer = control(raw, "POST", "reboot", {"node": "node-2", "downSeconds": 10})  # 1 s at time scale 10
    assert code == 200 and answer == {"node": "node-2", "bootID": old_boot, "downSeconds": 10.0}
    down = raw.request("GET", "/api/v1/nodes/node-2")[2]
    ready = next(c for c in down["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "KubeletNotReady"
    assert {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}.items() <= down["spec"]["taints"][0].items()
    assert down["status"]["nodeInfo"]["bootID"] == old_boot
    assert [n["rebooting"] for n in demo.state()["nodes"] if n["name"] == "node-2"] == [True]

    def back() -> dict | None:
        node = raw.request("GET", "/api/v1/nodes/node-2")[2]
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])
        return node if ready else None

    up = wait_until(back, timeout=10)
    assert up["status"]["nodeInfo"]["bootID"] not in ("", old_boot)
    assert "taints" not in up["spec"]
    state = next(n for n in demo.state()["nodes"] if n["name"] == "node-2")
    assert state["ready"] and not state["rebooting"] and state["bootID"] == up["status"]["nodeInfo"]["bootID"]


def test_a_cordoned_node_stays_cordoned_through_its_reboot(raw: Raw, demo: Simulator) -> None:
    raw.request(
        "PATCH",
        "/api/v1/nodes/node-3",
        {"spec": {"unschedulable": True}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert control(raw, "POST", "reboot", {"node": "node-3", "downSeconds": 0})[0] == 200
    demo.reconcile()
    node = raw.request("GET", "/api/v1/nodes/node-3")[2]
    assert node["spec"]["unschedulable"] is True
    assert [t["key"] for t in node["spec"]["taints"]] == ["node.kubernetes.io/unschedulable"]
    assert any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])


def test_a_reboot_is_watched_as_node_changes(raw: Raw, demo: Simulator) -> None:
    nodes = raw.request("GET", "/api/v1/nodes")[2]
    version = int(nodes["metadata"]["resourceVersion"])
    control(raw, "POST", "reboot", {"node": "node-1", "downSeconds": 0})
    demo.reconcile()
    events = [e for e in demo.store.events_since(version) if e.resource == "nodes"]
    readiness = [next(c["status"] for c in e.obj["status"]["conditions"] if c["type"] == "Ready") for e in events]
    assert readiness == ["False", "True"]


@pytest.mark.parametrize(
    ("body", "code"),
    [({"node": "node-99"}, 404), ({}, 404), ({"node": "node-1", "downSeconds": -1}, 400)],
)
def test_a_reboot_of_no_such_node_or_with_negative_downtime_is_refused(raw: Raw, body: dict, code: int) -> None:
    assert control(raw, "POST", "reboot", body)[0] == code
