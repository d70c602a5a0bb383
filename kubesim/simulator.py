"""The Simulator: one simulated cluster with its HTTPS server, controllers, faults and logs."""

from __future__ import annotations

import base64
import itertools
import re
import secrets
import threading
from collections import deque
from pathlib import Path
from typing import Any

import yaml

from kubesim import builders as b
from kubesim import certs, scenarios
from kubesim import objects as o
from kubesim.controllers import Controllers, reconcile
from kubesim.state import WORKLOAD_RESOURCES, Fault, PodSim, Store, WorkloadSim, monotonic

Obj = dict[str, Any]

FAULT_TYPES = {
    "throttle": "throttle",
    "rate_limit": "throttle",
    "429": "throttle",
    "error": "error",
    "500": "error",
    "unauthorized": "unauthorized",
    "401": "unauthorized",
    "forbidden": "forbidden",
    "403": "forbidden",
    "pdb_conflict": "pdb_conflict",
    "504": "pdb_conflict",
    "expired": "expired",
    "410": "expired",
    "latency": "latency",
    "drop": "drop",
}
REQUEST_LOG_SIZE = 200_000


def parse_version(text: str) -> tuple[int, int]:
    m = re.match(r"^v?(\d+)\.(\d+)", str(text).strip())
    if not m:
        raise ValueError(f"bad Kubernetes version {text!r} (want e.g. 1.30)")
    return int(m.group(1)), int(m.group(2))


class Simulator:
    """A simulated Kubernetes API server. Several may run in one process on different ports."""

    def __init__(
        self, scenario: str | Obj = "demo", version: str = "1.30", time_scale: float = 1.0, token: str | None = None
    ) -> None:
        if float(time_scale) <= 0:
            raise ValueError("time_scale must be positive")
        self.store = Store(version=parse_version(version), time_scale=float(time_scale))
        self.token: str = token or secrets.token_urlsafe(32)
        bundle = certs.generate()
        self.ca_pem: str = bundle.ca_pem
        self.ssl_context = certs.server_context(bundle)
        self.stopping = threading.Event()
        self._faults: list[Fault] = []
        self._fault_lock = threading.Lock()
        self._fault_ids = itertools.count(1)
        self._requests: deque[Obj] = deque(maxlen=REQUEST_LOG_SIZE)
        self._controllers = Controllers(self.store)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None
        scenarios.load(self.store, scenario)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, port: int = 0, host: str = "127.0.0.1") -> Simulator:
        from kubesim.server import KubeHTTPServer

        if self._server is not None:
            return self
        self.stopping.clear()
        self._server = KubeHTTPServer((host, port), self)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name=f"kubesim-{self.port}", daemon=True
        )
        self._thread.start()
        self._controllers.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        with self.store.cond:
            self.store.cond.notify_all()  # wake watchers so they see `stopping`
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._controllers.stop()
        self._controllers = Controllers(self.store)  # a stopped simulator can start again

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("simulator not started")
        return f"https://127.0.0.1:{self.port}"

    @property
    def version(self) -> str:
        return f"{self.store.version[0]}.{self.store.version[1]}"

    @property
    def eviction_api_version(self) -> str:
        return f"policy/{self.store.policy_versions[0]}"

    # --- credentials -------------------------------------------------------------------------

    def kubeconfig(self) -> str:
        name = re.sub(r"[^a-z0-9-]+", "-", (self.store.scenario_name or "kubesim").lower()).strip("-")
        name = name or "kubesim"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": name,
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": base64.b64encode(self.ca_pem.encode()).decode(),
                    },
                }
            ],
            "users": [{"name": f"{name}-admin", "user": {"token": self.token}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}],
            "current-context": name,
            "preferences": {},
        }
        return yaml.safe_dump(config, sort_keys=False)

    def write_kubeconfig(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.kubeconfig())
        path.chmod(0o600)
        return path

    def token_ok(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        return secrets.compare_digest(header[7:].strip(), self.token)

    def rotate_token(self, new_token: str | None = None) -> str:
        """Replace the token; clients holding the old one get 401 from now on."""
        self.token = new_token or secrets.token_urlsafe(32)
        return self.token

    # --- faults ------------------------------------------------------------------------------

    def inject_fault(
        self,
        type: str,
        count: int | None = 1,
        path: str | None = None,
        method: str | None = None,
        retry_after: int = 1,
        latency: float = 0.0,
        message: str | None = None,
    ) -> Obj:
        """Make the next `count` matching API requests fail (count None: until cleared).

        Types: throttle (429 + Retry-After), error (500), unauthorized (401), forbidden (403),
        pdb_conflict (504 on evictions that would update a PDB), expired (410 on the next list page asked for with
        a continue token, as when the token's version was compacted), latency (delay, then answer
        normally), drop (close the connection without answering). `path` is a regex searched
        in the request path; `method` an HTTP method.
        """
        kind = FAULT_TYPES.get(str(type).lower())
        if kind is None:
            raise ValueError(f"unknown fault type {type!r}; one of {sorted(set(FAULT_TYPES.values()))}")
        if path:
            re.compile(path)
        fault = Fault(
            id=next(self._fault_ids),
            type=kind,
            remaining=None if count is None or count <= 0 else int(count),
            path=path,
            method=method.upper() if method else None,
            retry_after=int(retry_after),
            latency=float(latency),
            message=message,
        )
        with self._fault_lock:
            self._faults.append(fault)
        return _fault_dict(fault)

    def faults(self) -> list[Obj]:
        with self._fault_lock:
            return [_fault_dict(f) for f in self._faults]

    def clear_faults(self) -> None:
        with self._fault_lock:
            self._faults.clear()

    def _consume(self, fault: Fault) -> None:
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)

    @staticmethod
    def _matches(fault: Fault, method: str, path: str) -> bool:
        return (fault.method is None or fault.method == method) and (
            fault.path is None or re.search(fault.path, path) is not None
        )

    def take_fault(self, method: str, path: str) -> tuple[float, Fault | None]:
        """The added latency and the fault (if any) to apply to this request."""
        if not self._faults:
            return 0.0, None
        latency = 0.0
        with self._fault_lock:
            for fault in list(self._faults):
                if fault.type in ("pdb_conflict", "expired") or not self._matches(fault, method, path):
                    continue
                if fault.type == "latency":
                    latency += fault.latency
                    self._consume(fault)
                    continue
                self._consume(fault)
                return latency, fault
        return latency, None

    def take_conflict_fault(self, path: str) -> bool:
        with self._fault_lock:
            for fault in self._faults:
                if fault.type == "pdb_conflict" and self._matches(fault, "POST", path):
                    self._consume(fault)
                    return True
        return False

    def take_expired_fault(self, path: str) -> bool:
        """Whether a list page asked for with a continue token answers 410 Expired (an `expired` fault)."""
        with self._fault_lock:
            for fault in self._faults:
                if fault.type == "expired" and self._matches(fault, "GET", path):
                    self._consume(fault)
                    return True
        return False

    def fault_status(self, fault: Fault, path: str) -> Obj:
        if fault.type == "throttle":
            return o.too_many_requests(fault.message or "Too many requests, please try again later.", fault.retry_after)
        if fault.type == "unauthorized":
            return o.unauthorized()
        if fault.type == "forbidden":
            return o.status_failure(
                403,
                "Forbidden",
                fault.message
                or (
                    f"the server does not allow access to the requested resource ({path}): User "
                    f'"system:serviceaccount:drainboard:drainboard" cannot access it'
                ),
            )
        return o.internal_error(fault.message or "kubesim injected fault")

    # --- request log ---------------------------------------------------------------------------

    def log_request(self, entry: Obj) -> None:
        self._requests.append(entry)

    def request_log(self) -> list[Obj]:
        return list(self._requests)

    def clear_request_log(self) -> None:
        self._requests.clear()

    # --- scenario and runtime knobs ------------------------------------------------------------

    def load_scenario(self, scenario: str | Obj) -> None:
        """Replace the whole cluster. Open watches end; old resourceVersions become 410."""
        scenarios.load(self.store, scenario)

    def reconcile(self) -> None:
        """Run every controller once now, without waiting for the next tick."""
        reconcile(self.store)

    def set_workload(
        self,
        namespace: str,
        name: str,
        *,
        kind: str | None = None,
        never_ready: bool | None = None,
        ready_after_seconds: float | None = None,
        replicas: int | None = None,
    ) -> Obj:
        store = self.store
        with store.lock:
            kinds = [kind] if kind else list(WORKLOAD_RESOURCES)
            for k in kinds:
                wl = store.get(WORKLOAD_RESOURCES[k], namespace, name)
                if wl is not None:
                    break
            else:
                raise KeyError(f"workload {namespace}/{name} not found")
            wsim = store.workloads.setdefault((wl["kind"], namespace, name), WorkloadSim())
            if ready_after_seconds is not None:
                wsim.ready_after_seconds = float(ready_after_seconds)
            if never_ready is not None:
                wsim.never_ready = bool(never_ready)
                now = monotonic()
                for pod in store.pods_in(namespace):
                    ref = o.controller_ref(pod)
                    if not ref or ref["uid"] != wl["metadata"]["uid"] or o.is_pod_ready(pod):
                        continue
                    if pod["metadata"].get("deletionTimestamp") or not pod["spec"].get("nodeName"):
                        continue
                    uid = pod["metadata"]["uid"]
                    if never_ready:
                        if uid in store.pod_sim:
                            store.pod_sim[uid].ready_at = None
                    else:
                        sim = store.pod_sim.setdefault(uid, PodSim((namespace, pod["metadata"]["name"])))
                        sim.ready_at = now + store.real_seconds(wsim.ready_after_seconds)
            if replicas is not None and wl["kind"] != "DaemonSet":
                wl["spec"]["replicas"] = int(replicas)
                wl["metadata"]["generation"] = int(wl["metadata"].get("generation", 1)) + 1
                store.modified(WORKLOAD_RESOURCES[wl["kind"]], wl)
            return {
                "kind": wl["kind"],
                "namespace": namespace,
                "name": name,
                "neverReady": wsim.never_ready,
                "readyAfterSeconds": wsim.ready_after_seconds,
                "replicas": wl["spec"].get("replicas"),
            }

    def set_namespace_terminating(self, name: str, terminating: bool = True) -> None:
        with self.store.lock:
            ns = self.store.get("namespaces", "", name)
            if ns is None:
                raise KeyError(f"namespace {name} not found")
            b.set_namespace_terminating(ns, terminating)
            self.store.modified("namespaces", ns)

    _UNSET: Any = object()

    def set_pdb(
        self,
        namespace: str,
        name: str,
        *,
        hold: bool | None = None,
        min_available: Any = _UNSET,
        max_unavailable: Any = _UNSET,
        unhealthy_pod_eviction_policy: Any = _UNSET,
    ) -> Obj:
        """Change a PDB's spec (bumping its generation) and/or hold it unprocessed, so the
        eviction API answers "still being processed" until released."""
        store = self.store
        with store.lock:
            pdb = store.get("poddisruptionbudgets", namespace, name)
            if pdb is None:
                raise KeyError(f"poddisruptionbudget {namespace}/{name} not found")
            spec = dict(pdb["spec"])
            for key, value in (
                ("minAvailable", min_available),
                ("maxUnavailable", max_unavailable),
                ("unhealthyPodEvictionPolicy", unhealthy_pod_eviction_policy),
            ):
                if value is not self._UNSET:
                    if value is None:
                        spec.pop(key, None)
                    else:
                        spec[key] = value
            changed = spec != pdb["spec"]
            key = (namespace, name)
            if hold:
                store.held_pdbs.add(key)
            elif hold is False:
                store.held_pdbs.discard(key)
            generation = int(pdb["metadata"].get("generation", 1))
            observed = int(pdb["status"].get("observedGeneration", 0))
            if changed or (hold and observed >= generation):
                pdb["spec"] = spec
                pdb["metadata"]["generation"] = generation + 1
            if changed or hold is not None:
                store.modified("poddisruptionbudgets", pdb)
            return {
                "namespace": namespace,
                "name": name,
                "spec": pdb["spec"],
                "generation": pdb["metadata"]["generation"],
                "held": key in store.held_pdbs,
            }

    def reboot_node(self, name: str, *, down_seconds: float = 5.0) -> Obj:
        """Reboot a node: NotReady (tainted not-ready) at once, then Ready with a new bootID after `down_seconds`
        of simulated time. Its pods stay where they are, as after a kubelet restart."""
        if float(down_seconds) < 0:
            raise ValueError("downSeconds must not be negative")
        store = self.store
        with store.lock:
            node = store.get("nodes", "", name)
            if node is None:
                raise KeyError(f"node {name} not found")
            boot_id = node["status"]["nodeInfo"]["bootID"]
            b.set_node_ready(node, False)
            store.modified("nodes", node)
            store.reboots[name] = monotonic() + store.real_seconds(float(down_seconds))
            return {"node": name, "bootID": boot_id, "downSeconds": float(down_seconds)}

    def set_pod(self, namespace: str, name: str, *, ready: bool | None = None, phase: str | None = None) -> Obj:
        store = self.store
        with store.lock:
            pod = store.get("pods", namespace, name)
            if pod is None:
                raise KeyError(f"pod {namespace}/{name} not found")
            if phase is not None:
                if phase not in ("Pending", "Running", "Succeeded", "Failed", "Unknown"):
                    raise ValueError(f"bad phase {phase!r}")
                pod["status"]["phase"] = phase
                if phase != "Running":
                    b.set_pod_ready(pod, False)
            if ready is not None:
                b.set_pod_ready(pod, bool(ready))
                store.pod_sim.pop(pod["metadata"]["uid"], None)
            store.modified("pods", pod)
            return _pod_summary(pod)

    def state(self) -> Obj:
        store = self.store
        with store.lock:
            pods = store.list("pods")
            per_node: dict[str, int] = {}
            for p in pods:
                node = p["spec"].get("nodeName") or ""
                per_node[node] = per_node.get(node, 0) + 1
            return {
                "scenario": store.scenario_name,
                "version": self.version,
                "timeScale": store.time_scale,
                "resourceVersion": str(store.rv),
                "evictionApiVersion": self.eviction_api_version,
                "namespaces": [
                    {"name": n["metadata"]["name"], "phase": n["status"]["phase"]} for n in store.list("namespaces")
                ],
                "nodes": [
                    {
                        "name": n["metadata"]["name"],
                        "unschedulable": bool(n["spec"].get("unschedulable")),
                        "ready": o.is_pod_ready(n),  # a node's Ready condition has a pod's shape
                        "bootID": n["status"]["nodeInfo"].get("bootID", ""),
                        "rebooting": n["metadata"]["name"] in store.reboots,
                        "pods": per_node.get(n["metadata"]["name"], 0),
                    }
                    for n in store.list("nodes")
                ],
                "pods": [_pod_summary(p) for p in pods],
                "pdbs": [
                    {
                        "namespace": p["metadata"]["namespace"],
                        "name": p["metadata"]["name"],
                        "generation": p["metadata"].get("generation", 1),
                        "held": (p["metadata"]["namespace"], p["metadata"]["name"]) in store.held_pdbs,
                        **{
                            k: p["status"].get(k)
                            for k in (
                                "observedGeneration",
                                "currentHealthy",
                                "desiredHealthy",
                                "disruptionsAllowed",
                                "expectedPods",
                            )
                        },
                    }
                    for p in store.list("poddisruptionbudgets")
                ],
                "workloads": [
                    {
                        "kind": k,
                        "namespace": ns,
                        "name": n,
                        "neverReady": w.never_ready,
                        "readyAfterSeconds": w.ready_after_seconds,
                    }
                    for (k, ns, n), w in store.workloads.items()
                ],
                "faults": self.faults(),
                "requests": len(self._requests),
            }


def _pod_summary(pod: Obj) -> Obj:
    ref = o.controller_ref(pod)
    return {
        "namespace": pod["metadata"]["namespace"],
        "name": pod["metadata"]["name"],
        "uid": pod["metadata"]["uid"],
        "node": pod["spec"].get("nodeName"),
        "phase": pod["status"].get("phase"),
        "ready": o.is_pod_ready(pod),
        "terminating": bool(pod["metadata"].get("deletionTimestamp")),
        "owner": f"{ref['kind']}/{ref['name']}" if ref else None,
    }


def _fault_dict(fault: Fault) -> Obj:
    return {
        "id": fault.id,
        "type": fault.type,
        "remaining": fault.remaining,
        "path": fault.path,
        "method": fault.method,
        "retryAfterSeconds": fault.retry_after,
        "latencySeconds": fault.latency,
        "message": fault.message,
    }
