"""Controllers that make simulated time pass: kubelet, ReplicaSet/StatefulSet/DaemonSet, disruption."""

from __future__ import annotations

import re
import threading
from collections import Counter, defaultdict
from typing import Any

from kubesim import builders as b
from kubesim import objects as o
from kubesim.state import WORKLOAD_RESOURCES, PodSim, Store, WorkloadSim, monotonic

Obj = dict[str, Any]
TICK_SECONDS = 0.2


def node_ip(node: Obj) -> str:
    for addr in node["status"].get("addresses") or []:
        if addr.get("type") == "InternalIP":
            return str(addr["address"])
    return ""


def schedulable_nodes(store: Store) -> list[Obj]:
    return [
        n
        for n in store.list("nodes")
        if not n["spec"].get("unschedulable") and o.is_pod_ready(n)  # same condition shape
    ]


_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
_UNITS = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_UNITS.update({unit: 2.0 ** (10 * (i + 1)) for i, unit in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))})
BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")


def quantity(text: Any) -> float:
    """The API server's reading of a resource quantity ("250m", "1Gi", "2"); junk reads as 0."""
    match = _QUANTITY.match(str(text).strip())
    if match is None:
        return 0.0
    number, suffix = float(match[1]), match[2] or ""
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return number * 10 ** int(suffix[1:])
    return number * _UNITS.get(suffix, 1.0)


def pod_requests(spec: Obj) -> tuple[float, float]:
    """CPU (cores) and memory (bytes) the containers of a pod spec request (kubesim's pods have no init steps)."""
    cpu = memory = 0.0
    for container in spec.get("containers") or []:
        requests = (container.get("resources") or {}).get("requests") or {}
        cpu += quantity(requests.get("cpu", "0"))
        memory += quantity(requests.get("memory", "0"))
    return cpu, memory


def tolerates(tolerations: list[Obj], taint: Obj) -> bool:
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        if t.get("key") and t["key"] != taint.get("key"):
            continue
        if t.get("operator") == "Exists" or (t.get("key") and t.get("value", "") == taint.get("value", "")):
            return True
    return False


def may_run(spec: Obj, node: Obj) -> bool:
    """The scheduler's filters kubesim models: nodeSelector and NoSchedule/NoExecute taints."""
    labels = node["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    tolerations = spec.get("tolerations") or []
    return all(
        t.get("effect") not in BLOCKING_EFFECTS or tolerates(tolerations, t)
        for t in node["spec"].get("taints") or []
        if t.get("key") != "node.kubernetes.io/unschedulable"  # cordoned nodes are left out already
    )


def _free(store: Store) -> dict[str, list[float]]:
    """Each node's allocatable CPU and memory less what its unfinished pods request."""
    free = {
        n["metadata"]["name"]: [
            quantity((n["status"].get("allocatable") or {}).get("cpu", "0")),
            quantity((n["status"].get("allocatable") or {}).get("memory", "0")),
        ]
        for n in store.list("nodes")
    }
    for pod in store.list("pods"):
        name = pod["spec"].get("nodeName")
        if name in free and pod["status"].get("phase") not in ("Succeeded", "Failed"):
            cpu, memory = pod_requests(pod["spec"])
            free[name][0] -= cpu
            free[name][1] -= memory
    return free


def pick_node(store: Store, counts: Counter[str] | None = None, spec: Obj | None = None) -> Obj | None:
    """The schedulable node with the fewest pods among those the pod may run on and has room on (None: Pending).

    Room is only checked for pods that request resources, so the large generated scenarios (no requests) never pay
    for adding up every pod's requests.
    """
    spec = spec or {}
    candidates = [n for n in schedulable_nodes(store) if may_run(spec, n)]
    cpu, memory = pod_requests(spec)
    if candidates and (cpu or memory):
        free = _free(store)
        candidates = [
            n for n in candidates if free[n["metadata"]["name"]][0] >= cpu and free[n["metadata"]["name"]][1] >= memory
        ]
    if not candidates:
        return None
    if counts is None:
        counts = Counter(p["spec"].get("nodeName") for p in store.list("pods"))
    node = min(candidates, key=lambda n: (counts[n["metadata"]["name"]], n["metadata"]["name"]))
    counts[node["metadata"]["name"]] += 1
    return node


def create_workload_pod(
    store: Store,
    workload: Obj,
    name: str,
    node: Obj | None,
    *,
    ready: bool = False,
    uid: str | None = None,
    created: str | None = None,
) -> Obj:
    """Create a pod from a workload's template; unready pods get their readiness timer."""
    kind = workload["kind"]
    ns = workload["metadata"]["namespace"]
    wsim = store.workloads.setdefault((kind, ns, workload["metadata"]["name"]), WorkloadSim())
    tmpl = workload["spec"]["template"]
    labels = dict(tmpl["metadata"].get("labels") or {})
    if kind == "StatefulSet":
        labels["statefulset.kubernetes.io/pod-name"] = name
        labels["apps.kubernetes.io/pod-index"] = name.rsplit("-", 1)[-1]
    container = tmpl["spec"]["containers"][0]
    tolerations = [*tmpl["spec"]["tolerations"], *b.DEFAULT_TOLERATIONS] if tmpl["spec"].get("tolerations") else None
    if kind == "DaemonSet":
        # DaemonSet pods tolerate cordoned nodes, which is why drain must skip them.
        tolerations = [
            {"key": f"node.kubernetes.io/{t}", "operator": "Exists", "effect": e}
            for t, e in (
                ("not-ready", "NoExecute"),
                ("unreachable", "NoExecute"),
                ("disk-pressure", "NoSchedule"),
                ("unschedulable", "NoSchedule"),
            )
        ]
    pod = b.build_pod(
        namespace=ns,
        name=name,
        node=node["metadata"]["name"] if node else None,
        host_ip=node_ip(node) if node else "",
        pod_ip=store.next_pod_ip() if node else "",
        labels=labels,
        owner=o.owner_ref(workload),
        ready=ready,
        grace=int(tmpl["spec"].get("terminationGracePeriodSeconds", 30)),
        empty_dir=any("emptyDir" in v for v in tmpl["spec"].get("volumes") or []),
        image=container["image"],
        container=container["name"],
        tolerations=tolerations,
        generate_name=None if kind == "StatefulSet" else f"{workload['metadata']['name']}-",
        uid=uid,
        created=created,
        requests=(container.get("resources") or {}).get("requests"),
        node_selector=tmpl["spec"].get("nodeSelector"),
    )
    if node is not None and not ready and not wsim.never_ready:
        store.pod_sim[pod["metadata"]["uid"]] = PodSim(
            (ns, name), ready_at=monotonic() + store.real_seconds(wsim.ready_after_seconds)
        )
    store.put("pods", pod)
    return pod


class Controllers:
    """One background thread running every controller each tick (0.2 s real time)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kubesim-controllers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            try:
                reconcile(self.store)
            except Exception:
                import traceback

                traceback.print_exc()


def reconcile(store: Store) -> None:
    with store.lock:
        now = monotonic()
        _kubelet(store, now)
        _reboots(store, now)
        if store.dirty_namespaces:
            dirty = set(store.dirty_namespaces)
            store.dirty_namespaces.clear()
            _workloads(store, dirty)
            _schedule_pending(store)
            _workload_status(store, dirty)
            _disruption(store, dirty, now)
            # Our own writes above re-dirty namespaces; they are settled now, so forget them,
            # except where pods were created (their controllers may need another look).
            store.dirty_namespaces -= dirty


def _kubelet(store: Store, now: float) -> None:
    """Finish graceful deletions and flip replacement pods to Ready when their time comes."""
    for uid, sim in list(store.pod_sim.items()):
        pod = store.objects["pods"].get(sim.key)
        if pod is None or pod["metadata"]["uid"] != uid:
            store.pod_sim.pop(uid, None)
            continue
        if sim.delete_at is not None and now >= sim.delete_at:
            store.remove("pods", sim.key)
            continue
        if sim.ready_at is not None and now >= sim.ready_at and not pod["metadata"].get("deletionTimestamp"):
            sim.ready_at = None
            if b.set_pod_ready(pod, True):
                store.modified("pods", pod)
        if sim.ready_at is None and sim.delete_at is None:
            store.pod_sim.pop(uid, None)


def _reboots(store: Store, now: float) -> None:
    """A rebooting node comes back Ready, with a new bootID, when its downtime is over."""
    for name, ready_at in list(store.reboots.items()):
        if now < ready_at:
            continue
        del store.reboots[name]
        node = store.get("nodes", "", name)
        if node is not None:
            b.set_node_ready(node, True)
            store.modified("nodes", node)


def _owned_pods(store: Store, namespaces: set[str]) -> dict[str, list[Obj]]:
    owned: dict[str, list[Obj]] = defaultdict(list)
    for ns in namespaces:
        for pod in store.pods_in(ns):
            ref = o.controller_ref(pod)
            if ref:
                owned[ref["uid"]].append(pod)
    return owned


def _workloads(store: Store, dirty: set[str]) -> None:
    owned = _owned_pods(store, dirty)
    counts: Counter[str] | None = None
    for resource in ("replicasets", "statefulsets"):
        for wl in store.list(resource):
            ns = wl["metadata"]["namespace"]
            if ns not in dirty:
                continue
            pods = owned.get(wl["metadata"]["uid"], [])
            replicas = int(wl["spec"].get("replicas", 1))
            if resource == "replicasets":
                # Terminating pods do not count: the ReplicaSet replaces them at once.
                active = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
                for _ in range(replicas - len(active)):
                    if counts is None:
                        counts = Counter(p["spec"].get("nodeName") for p in store.list("pods"))
                    name = f"{wl['metadata']['name']}-{b.random_suffix()}"
                    create_workload_pod(store, wl, name, pick_node(store, counts, wl["spec"]["template"]["spec"]))
            else:
                # A StatefulSet waits until the old pod is gone, then reuses its name.
                for i in range(replicas):
                    name = f"{wl['metadata']['name']}-{i}"
                    if store.get("pods", ns, name) is None:
                        if counts is None:
                            counts = Counter(p["spec"].get("nodeName") for p in store.list("pods"))
                        create_workload_pod(store, wl, name, pick_node(store, counts, wl["spec"]["template"]["spec"]))
    for ds in store.list("daemonsets"):
        ns = ds["metadata"]["namespace"]
        if ns not in dirty:
            continue
        have = {p["spec"].get("nodeName") for p in owned.get(ds["metadata"]["uid"], [])}
        for node in store.list("nodes"):
            if node["metadata"]["name"] not in have:
                name = f"{ds['metadata']['name']}-{b.random_suffix()}"
                create_workload_pod(store, ds, name, node)
    for key, template in store.static_pods.items():
        if key[0] in dirty and key not in store.objects["pods"]:
            # The kubelet recreates the mirror pod of a static pod that was deleted.
            pod = _clone_with_new_uid(template)
            store.put("pods", pod)


def _clone_with_new_uid(template: Obj) -> Obj:
    import json

    pod = json.loads(json.dumps(template))
    pod["metadata"]["uid"] = o.new_uid()
    pod["metadata"]["creationTimestamp"] = o.now_iso()
    for k in ("deletionTimestamp", "deletionGracePeriodSeconds"):
        pod["metadata"].pop(k, None)
    pod["status"]["conditions"] = [c for c in pod["status"].get("conditions", []) if c["type"] != "DisruptionTarget"]
    return pod


def _schedule_pending(store: Store) -> None:
    pending = [
        p
        for p in store.list("pods")
        if not p["spec"].get("nodeName")
        and p["status"].get("phase") == "Pending"
        and not p["metadata"].get("deletionTimestamp")
    ]
    if not pending:
        return
    counts = Counter(p["spec"].get("nodeName") for p in store.list("pods"))
    for pod in pending:
        ref = o.controller_ref(pod)
        resource = WORKLOAD_RESOURCES.get(ref["kind"]) if ref else None
        wl = store.get(resource, pod["metadata"]["namespace"], ref["name"]) if resource and ref else None
        if wl is None:
            continue  # bare pending pods stay pending
        node = pick_node(store, counts, wl["spec"]["template"]["spec"])
        if node is None:
            continue  # no room for this one; a smaller or differently placed pod may still fit
        # Same pod, now bound to a node: keep its identity.
        create_workload_pod(
            store,
            wl,
            pod["metadata"]["name"],
            node,
            uid=pod["metadata"]["uid"],
            created=pod["metadata"]["creationTimestamp"],
        )


def _workload_status(store: Store, dirty: set[str]) -> None:
    owned = _owned_pods(store, dirty)
    node_count = len(store.list("nodes"))
    for resource in ("replicasets", "statefulsets", "daemonsets"):
        for wl in store.list(resource):
            if wl["metadata"]["namespace"] not in dirty:
                continue
            pods = [p for p in owned.get(wl["metadata"]["uid"], []) if not p["metadata"].get("deletionTimestamp")]
            ready = sum(1 for p in pods if o.is_pod_ready(p))
            status = dict(wl.get("status") or {})
            if resource == "replicasets":
                status.update(
                    replicas=len(pods), fullyLabeledReplicas=len(pods), readyReplicas=ready, availableReplicas=ready
                )
            elif resource == "statefulsets":
                status.update(
                    replicas=len(pods),
                    readyReplicas=ready,
                    currentReplicas=len(pods),
                    updatedReplicas=len(pods),
                    availableReplicas=ready,
                )
            else:
                status.update(
                    desiredNumberScheduled=node_count,
                    currentNumberScheduled=len(pods),
                    numberReady=ready,
                    numberAvailable=ready,
                    updatedNumberScheduled=len(pods),
                    numberUnavailable=max(0, node_count - ready),
                )
                if status["numberUnavailable"] == 0:
                    status.pop("numberUnavailable")
            if status != wl.get("status"):
                wl["status"] = status
                store.modified(resource, wl)


def _disruption(store: Store, dirty: set[str], now: float) -> None:
    for pdb in store.list("poddisruptionbudgets"):
        key = (pdb["metadata"]["namespace"], pdb["metadata"]["name"])
        if key in store.held_pdbs:
            continue
        stale = int(pdb["status"].get("observedGeneration", 0)) < int(pdb["metadata"].get("generation", 1))
        expiring = bool(store.disrupted.get(key))
        if key[0] not in dirty and not stale and not expiring:
            continue
        status = store.compute_pdb_status(pdb, now)
        if status != pdb.get("status"):
            pdb["status"] = status
            store.modified("poddisruptionbudgets", pdb)
