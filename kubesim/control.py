"""The token-free control API under /_kubesim/: scenarios, state, request log, faults, knobs."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from kubesim.scenarios import ScenarioError

if TYPE_CHECKING:
    from kubesim.simulator import Simulator

Obj = dict[str, Any]

HELP = {
    "GET /_kubesim/state": "pods, nodes, PDBs, workloads and faults in brief",
    "POST /_kubesim/scenario": '{"name": "demo"} or {"scenario": {...inline spec...}}',
    "GET|DELETE /_kubesim/requests": "the API request log (DELETE clears it)",
    "GET|POST|DELETE /_kubesim/faults": '{"type": "throttle|error|unauthorized|forbidden|'
    'pdb_conflict|expired|latency|drop", "count": 1, "path": "regex", '
    '"method": "POST", "retryAfterSeconds": 1, '
    '"latencySeconds": 0.5}',
    "POST /_kubesim/token": '{"token": "optional new token"} -> {"token": ...}',
    "POST /_kubesim/workload": '{"namespace", "name", "kind"?, "neverReady"?, "readyAfterSeconds"?, "replicas"?}',
    "POST /_kubesim/namespace": '{"name", "terminating": true}',
    "POST /_kubesim/pdb": '{"namespace", "name", "hold"?, "minAvailable"?, "maxUnavailable"?, '
    '"unhealthyPodEvictionPolicy"?}',
    "POST /_kubesim/pod": '{"namespace", "name", "ready"?, "phase"?}',
    "POST /_kubesim/reconcile": "run the controllers once now",
    "POST /_kubesim/reboot": '{"node", "downSeconds"?: 5} -> NotReady now, Ready with a new bootID after downSeconds',
}


def handle(sim: Simulator, method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
    route = path[len("/_kubesim") :].strip("/")
    try:
        data: Obj = json.loads(body) if body.strip() else {}
    except ValueError as exc:
        return 400, {"error": f"invalid JSON: {exc}"}
    if not isinstance(data, dict):
        return 400, {"error": "body must be a JSON object"}
    try:
        return _route(sim, method, route, data)
    except (KeyError, ScenarioError) as exc:
        return 404 if isinstance(exc, KeyError) else 400, {"error": str(exc).strip("'\"")}
    except (ValueError, TypeError) as exc:
        return 400, {"error": str(exc)}


def _route(sim: Simulator, method: str, route: str, data: Obj) -> tuple[int, Any]:
    if route == "" and method == "GET":
        return 200, {"endpoints": HELP}
    if route == "state" and method == "GET":
        return 200, sim.state()
    if route == "scenario" and method == "POST":
        scenario = data.get("scenario") or data.get("name")
        if not scenario:
            return 400, {"error": 'give "name" or "scenario"'}
        sim.load_scenario(scenario)
        return 200, {"loaded": sim.store.scenario_name}
    if route == "requests":
        if method == "GET":
            return 200, {"items": sim.request_log()}
        if method == "DELETE":
            sim.clear_request_log()
            return 200, {"cleared": True}
    if route == "faults":
        if method == "GET":
            return 200, {"items": sim.faults()}
        if method == "DELETE":
            sim.clear_faults()
            return 200, {"cleared": True}
        if method == "POST":
            return 201, sim.inject_fault(
                type=data.get("type", ""),
                count=data.get("count", 1),
                path=data.get("path"),
                method=data.get("method"),
                retry_after=int(data.get("retryAfterSeconds", 1)),
                latency=float(data.get("latencySeconds", 0.0)),
                message=data.get("message"),
            )
    if route == "token" and method == "POST":
        return 200, {"token": sim.rotate_token(data.get("token"))}
    if route == "workload" and method == "POST":
        return 200, sim.set_workload(
            data["namespace"],
            data["name"],
            kind=data.get("kind"),
            never_ready=data.get("neverReady"),
            ready_after_seconds=data.get("readyAfterSeconds"),
            replicas=data.get("replicas"),
        )
    if route == "namespace" and method == "POST":
        sim.set_namespace_terminating(data["name"], bool(data.get("terminating", True)))
        return 200, {"name": data["name"], "terminating": bool(data.get("terminating", True))}
    if route == "pdb" and method == "POST":
        kwargs = {
            py: data[js]
            for js, py in (
                ("minAvailable", "min_available"),
                ("maxUnavailable", "max_unavailable"),
                ("unhealthyPodEvictionPolicy", "unhealthy_pod_eviction_policy"),
            )
            if js in data
        }
        return 200, sim.set_pdb(data["namespace"], data["name"], hold=data.get("hold"), **kwargs)
    if route == "pod" and method == "POST":
        return 200, sim.set_pod(data["namespace"], data["name"], ready=data.get("ready"), phase=data.get("phase"))
    if route == "reboot" and method == "POST":
        return 200, sim.reboot_node(str(data["node"]), down_seconds=float(data.get("downSeconds", 5.0)))
    if route == "reconcile" and method == "POST":
        sim.reconcile()
        return 200, {"reconciled": True}
    return 404, {"error": f"no control endpoint {method} /_kubesim/{route}", "endpoints": HELP}
