"""Controllers that make simulated time pass: kubelet, ReplicaSet/StatefulSet/DaemonSet, disruption."""

from __future__ import annotations

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


def pick_node(store: Store, counts: Counter[str] | None = None) -> Obj | None:
    """The schedulable node with the fewest pods, like a spreading scheduler."""
    candidates = schedulable_nodes(store)
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
    tolerations = None
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
                    create_workload_pod(store, wl, name, pick_node(store, counts))
            else:
                # A StatefulSet waits until the old pod is gone, then reuses its name.
                for i in range(replicas):
                    name = f"{wl['metadata']['name']}-{i}"
                    if store.get("pods", ns, name) is None:
                        if counts is None:
                            counts = Counter(p["spec"].get("nodeName") for p in store.list("pods"))
                        create_workload_pod(store, wl, name, pick_node(store, counts))
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
        node = pick_node(store, counts)
        if node is None:
            return
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
