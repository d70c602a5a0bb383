"""The simulated cluster's objects, their resourceVersions and watch history, and PDB math."""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubesim import objects as o
from kubesim.selectors import selector_matches

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace or "", name)

RESOURCES = (
    "namespaces",
    "nodes",
    "pods",
    "poddisruptionbudgets",
    "replicasets",
    "statefulsets",
    "daemonsets",
)
WORKLOAD_RESOURCES = {"ReplicaSet": "replicasets", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}
# How long a pod stays in a PDB's status.disruptedPods before the controller gives up on it
# (the real controller's DeletionTimeout is 2 minutes), in simulated seconds.
DISRUPTED_POD_TIMEOUT = 120.0
HISTORY_SIZE = 20000


@dataclass
class Event:
    rv: int
    resource: str
    type: str
    obj: Obj  # a private snapshot; never mutated


@dataclass
class PodSim:
    """What the simulator knows about a pod that is not part of its API object."""

    key: Key
    ready_at: float | None = None  # monotonic time the pod becomes Ready; None: no timer
    delete_at: float | None = None  # monotonic time a terminating pod disappears


@dataclass
class WorkloadSim:
    ready_after_seconds: float = 5.0
    never_ready: bool = False


@dataclass
class Fault:
    """One injected fault: applies to the next `remaining` requests matching path/method."""

    id: int
    type: str
    remaining: int | None
    path: str | None = None
    method: str | None = None
    retry_after: int = 1
    latency: float = 0.0
    message: str | None = None


@dataclass
class Store:
    version: tuple[int, int] = (1, 30)
    time_scale: float = 1.0
    lock: threading.RLock = field(default_factory=threading.RLock)
    rv: int = 1000
    objects: dict[str, dict[Key, Obj]] = field(default_factory=lambda: {r: {} for r in RESOURCES})
    history: deque[Event] = field(default_factory=lambda: deque(maxlen=HISTORY_SIZE))
    history_floor: int = 1000  # watches from an older resourceVersion get 410 Expired
    pod_sim: dict[str, PodSim] = field(default_factory=dict)  # by pod uid
    workloads: dict[tuple[str, str, str], WorkloadSim] = field(default_factory=dict)
    held_pdbs: set[Key] = field(default_factory=set)  # never processed by the controller
    disrupted: dict[Key, dict[str, float]] = field(default_factory=dict)  # pdb -> pod -> mono
    static_pods: dict[Key, Obj] = field(default_factory=dict)  # mirror pods to recreate
    reboots: dict[str, float] = field(default_factory=dict)  # node name -> monotonic time it is Ready again
    dirty_namespaces: set[str] = field(default_factory=set)
    scenario_name: str = ""
    generation: int = 0  # bumped when a scenario is (re)loaded; closes open watches
    pod_ip_counter: int = 0

    def __post_init__(self) -> None:
        self.cond = threading.Condition(self.lock)

    # --- time -----------------------------------------------------------------------------

    def real_seconds(self, sim_seconds: float) -> float:
        return sim_seconds / self.time_scale if self.time_scale > 0 else sim_seconds

    # --- versions -------------------------------------------------------------------------

    @property
    def policy_versions(self) -> list[str]:
        """policy group versions served: v1 from 1.22, v1beta1 until 1.25 (as upstream)."""
        versions = []
        if self.version >= (1, 22):
            versions.append("v1")
        if self.version < (1, 25):
            versions.append("v1beta1")
        return versions

    # --- writes (caller holds the lock) ---------------------------------------------------

    def _record(self, resource: str, etype: str, obj: Obj) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        # A JSON round trip is the cheapest deep copy of plain JSON data.
        snapshot = json.loads(json.dumps(obj))
        self.history.append(Event(self.rv, resource, etype, snapshot))
        if self.history and len(self.history) == self.history.maxlen:
            self.history_floor = max(self.history_floor, self.history[0].rv - 1)
        ns = obj["metadata"].get("namespace")
        if ns:
            self.dirty_namespaces.add(ns)
        elif resource == "nodes":
            self.dirty_namespaces.add("")  # wakes the scheduler for pending pods
        self.cond.notify_all()

    def put(self, resource: str, obj: Obj) -> Obj:
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        store = self.objects[resource]
        etype = "MODIFIED" if key in store else "ADDED"
        store[key] = obj
        self._record(resource, etype, obj)
        return obj

    def modified(self, resource: str, obj: Obj) -> None:
        """Record an in-place change of a stored object."""
        self._record(resource, "MODIFIED", obj)

    def remove(self, resource: str, key: Key) -> Obj | None:
        obj = self.objects[resource].pop(key, None)
        if obj is not None:
            if resource == "pods":
                self.pod_sim.pop(obj["metadata"]["uid"], None)
            self._record(resource, "DELETED", obj)
        return obj

    def reset(self) -> None:
        """Forget everything; open watches end and old resourceVersions become too old."""
        for r in RESOURCES:
            self.objects[r].clear()
        self.history.clear()
        self.pod_sim.clear()
        self.workloads.clear()
        self.held_pdbs.clear()
        self.disrupted.clear()
        self.static_pods.clear()
        self.reboots.clear()
        self.dirty_namespaces.clear()
        self.rv += 1
        self.history_floor = self.rv
        self.generation += 1
        self.cond.notify_all()

    # --- reads (caller holds the lock) ----------------------------------------------------

    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        return self.objects[resource].get((namespace, name))

    def list(self, resource: str, namespace: str | None = None) -> list[Obj]:
        items: Iterable[tuple[Key, Obj]] = self.objects[resource].items()
        if namespace:
            return [obj for (ns, _), obj in items if ns == namespace]
        return [obj for _, obj in items]

    def pods_in(self, namespace: str) -> list[Obj]:
        if not namespace:
            return []  # "" is the scheduler's wake-up marker, not "all namespaces"
        return self.list("pods", namespace)

    def events_since(self, rv: int) -> list[Event]:
        if not self.history or self.history[-1].rv <= rv:
            return []
        # History is ordered by rv; scan from the right because watchers are usually current.
        out: list[Event] = []
        for ev in reversed(self.history):
            if ev.rv <= rv:
                break
            out.append(ev)
        out.reverse()
        return out

    def pdbs_for_pod(self, pod: Obj) -> list[Obj]:
        ns = pod["metadata"].get("namespace", "")
        labels = pod["metadata"].get("labels") or {}
        return [
            pdb
            for pdb in self.list("poddisruptionbudgets", ns)
            if selector_matches(pdb["spec"].get("selector"), labels)
        ]

    def namespace_terminating(self, namespace: str) -> bool:
        ns = self.get("namespaces", "", namespace)
        return bool(ns and ns.get("status", {}).get("phase") == "Terminating")

    def workload_of(self, pod: Obj) -> tuple[str, str, str] | None:
        ref = o.controller_ref(pod)
        if ref and ref.get("kind") in WORKLOAD_RESOURCES:
            return (ref["kind"], pod["metadata"]["namespace"], ref["name"])
        return None

    def next_pod_ip(self) -> str:
        self.pod_ip_counter += 1
        n = self.pod_ip_counter
        return f"10.244.{(n // 250) % 250}.{n % 250 + 2}"

    # --- PDB math -------------------------------------------------------------------------

    def expected_scale(self, pods: list[Obj]) -> tuple[int, str | None]:
        """Sum of the scales of the pods' controllers, as the disruption controller computes it."""
        total = 0
        seen: set[str] = set()
        for pod in pods:
            ref = o.controller_ref(pod)
            if ref is None:
                return 0, f'found no controller ref for pod "{pod["metadata"]["name"]}"'
            if ref["uid"] in seen:
                continue
            seen.add(ref["uid"])
            resource = WORKLOAD_RESOURCES.get(ref["kind"])
            owner = self.get(resource, pod["metadata"]["namespace"], ref["name"]) if resource else None
            if owner is None:
                if ref["kind"] == "Node":  # mirror pods
                    total += 1
                    continue
                return 0, f'{ref["kind"]} "{ref["name"]}" not found'
            if ref["kind"] == "DaemonSet":
                total += int(owner.get("status", {}).get("desiredNumberScheduled", 0))
            else:
                total += int(owner["spec"].get("replicas", 1))
        return total, None

    def compute_pdb_status(self, pdb: Obj, now: float) -> Obj:
        """The status the disruption controller would write for this PDB right now."""
        ns = pdb["metadata"]["namespace"]
        key = (ns, pdb["metadata"]["name"])
        spec = pdb["spec"]
        pods = [p for p in self.pods_in(ns) if selector_matches(spec.get("selector"), p["metadata"].get("labels"))]
        # Pods the eviction API just let go stay out of currentHealthy until they are
        # terminating, gone, or the timeout passes (status.disruptedPods).
        disrupted = self.disrupted.get(key, {})
        by_name = {p["metadata"]["name"]: p for p in pods}
        timeout = self.real_seconds(DISRUPTED_POD_TIMEOUT)
        disrupted = {
            name: t
            for name, t in disrupted.items()
            if name in by_name and not by_name[name]["metadata"].get("deletionTimestamp") and now - t < timeout
        }
        self.disrupted[key] = disrupted
        healthy = sum(
            1
            for p in pods
            if not p["metadata"].get("deletionTimestamp")
            and p["metadata"]["name"] not in disrupted
            and o.is_pod_ready(p)
        )
        error: str | None = None
        expected, desired = 0, 0
        if spec.get("maxUnavailable") is not None:
            expected, error = self.expected_scale(pods)
            max_unavailable = scaled_value(spec["maxUnavailable"], expected)
            desired = max(0, expected - max_unavailable)
        elif spec.get("minAvailable") is not None:
            value = spec["minAvailable"]
            if isinstance(value, int):
                desired, expected = value, len(pods)
            else:
                expected, error = self.expected_scale(pods)
                desired = scaled_value(value, expected)
        old = pdb.get("status") or {}
        status: Obj = {
            "observedGeneration": pdb["metadata"].get("generation", 1),
            "conditions": [dict(c) for c in old.get("conditions") or []],
        }
        if error:
            # The controller "fails safe": no disruptions while it cannot compute the budget.
            status.update(currentHealthy=healthy, desiredHealthy=0, expectedPods=0, disruptionsAllowed=0)
            _set(status, False, "SyncFailed", error)
        else:
            allowed = healthy - desired
            if expected <= 0 or allowed <= 0:
                allowed = 0
            status.update(
                currentHealthy=healthy, desiredHealthy=desired, expectedPods=expected, disruptionsAllowed=allowed
            )
            if allowed > 0:
                _set(status, True, "SufficientPods", "")
            else:
                _set(status, False, "InsufficientPods", "")
        if disrupted:
            status["disruptedPods"] = {
                name: (old.get("disruptedPods") or {}).get(name) or o.now_iso() for name in disrupted
            }
        return status


def _set(status: Obj, allowed: bool, reason: str, message: str) -> None:
    holder = {"status": status}
    o.set_condition(holder, "DisruptionAllowed", allowed, reason, message)
    for c in status["conditions"]:
        c.pop("lastProbeTime", None)  # metav1.Condition has no lastProbeTime
        c["observedGeneration"] = status["observedGeneration"]
        c.setdefault("message", "")


def scaled_value(value: int | str, total: int) -> int:
    """intstr.GetScaledValueFromIntOrPercent with roundUp=true, as the disruption controller."""
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        return math.ceil(int(text[:-1]) * total / 100.0)
    return int(text)


def monotonic() -> float:
    return time.monotonic()
