"""Load scenarios (data files, inline dicts, or the large-cluster generator) into a Store."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from kubesim import builders as b
from kubesim import objects as o
from kubesim.controllers import create_workload_pod, node_ip, pick_node, reconcile
from kubesim.state import Store, WorkloadSim

Obj = dict[str, Any]
SCENARIO_DIR = Path(__file__).parent / "scenarios"


class ScenarioError(ValueError):
    pass


def available() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.*") if p.suffix in (".json", ".yaml", ".yml"))


def resolve(scenario: str | Obj) -> Obj:
    """Turn a scenario name, `generated:k=v,...` string, or inline dict into a spec dict."""
    if isinstance(scenario, dict):
        return scenario
    if scenario.startswith("generated"):
        _, _, params = scenario.partition(":")
        return generate(**_parse_params(params))
    for suffix in (".yaml", ".yml", ".json"):
        path = SCENARIO_DIR / f"{scenario}{suffix}"
        if path.exists():
            text = path.read_text()
            spec = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
            spec.setdefault("name", scenario)
            return spec
    path = Path(scenario)
    if path.exists():
        text = path.read_text()
        spec = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        spec.setdefault("name", path.stem)
        return spec
    raise ScenarioError(
        f"unknown scenario {scenario!r}; available: {', '.join(available())}, generated:nodes=N,pods=N,pdbs=N"
    )


def _parse_params(text: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise ScenarioError(f"bad generator parameter {part!r} (want key=value)")
        try:
            params[key.strip()] = float(value) if "." in value else int(value)
        except ValueError:
            raise ScenarioError(f"bad generator parameter {part!r} (want a number)") from None
    allowed = {"nodes", "pods", "pdbs", "namespaces", "seed", "blocked", "daemonsets"}
    unknown = set(params) - allowed
    if unknown:
        raise ScenarioError(f"unknown generator parameters: {', '.join(sorted(unknown))}")
    return params


def generate(
    nodes: int = 50,
    pods: int = 2000,
    pdbs: int = 200,
    namespaces: int = 20,
    seed: int = 1,
    blocked: float = 0.25,
    daemonsets: int = 1,
) -> Obj:
    """A large cluster: `pods` ReplicaSet pods over `nodes` nodes, `pdbs` of their
    workloads protected by a PDB (a `blocked` fraction of those with no disruptions allowed)."""
    rng = random.Random(seed)
    nodes, pods, pdbs, namespaces = int(nodes), int(pods), int(pdbs), max(1, int(namespaces))
    n_workloads = max(pdbs, (pods + 9) // 10, 1)
    spec: Obj = {
        "name": "generated",
        "nodes": [{"name": f"node-{i:03d}"} for i in range(1, nodes + 1)],
        "namespaces": [{"name": f"team-{i:02d}"} for i in range(1, namespaces + 1)],
        "workloads": [],
        "pods": [],
        "pdbs": [],
    }
    base, extra = divmod(pods, n_workloads)
    n_blocked = round(pdbs * float(blocked))
    for w in range(n_workloads):
        replicas = base + (1 if w < extra else 0)
        if replicas == 0:
            continue
        ns = f"team-{w % namespaces + 1:02d}"
        name = f"app-{w:04d}"
        spec["workloads"].append(
            {
                "kind": "ReplicaSet",
                "namespace": ns,
                "name": f"{name}-{b.random_suffix(rng, 10)}",
                "labels": {"app": name},
                "replicas": replicas,
                "readyAfterSeconds": 10,
            }
        )
        if w < pdbs:
            pdb: Obj = {"namespace": ns, "name": f"{name}-pdb", "selector": {"app": name}}
            if w < n_blocked:
                pdb["minAvailable"] = replicas  # no disruption allowed: evictions get 429
            elif w % 2:
                pdb["maxUnavailable"] = 1
            else:
                pdb["minAvailable"] = "50%"
            spec["pdbs"].append(pdb)
    if daemonsets:
        spec["workloads"].append(
            {"kind": "DaemonSet", "namespace": "kube-system", "name": "node-agent", "labels": {"app": "node-agent"}}
        )
    return spec


def load(store: Store, scenario: str | Obj) -> Obj:
    """Replace the store's contents with the scenario; returns the resolved spec."""
    spec = resolve(scenario)
    if not isinstance(spec, dict):
        raise ScenarioError("a scenario must be a mapping")
    with store.lock:
        store.reset()
        store.scenario_name = str(spec.get("name") or "inline")
        try:
            _populate(store, spec)
        except (KeyError, TypeError, ValueError) as exc:
            raise ScenarioError(f"invalid scenario: {exc!r}") from exc
        # Settle statuses now so clients never see a freshly loaded PDB as "being processed".
        store.dirty_namespaces.update(ns for ns, _ in store.objects["namespaces"])
        store.dirty_namespaces.update(name for _, name in store.objects["namespaces"])
        reconcile(store)
    return spec


def _populate(store: Store, spec: Obj) -> None:
    kubelet_version = f"v{store.version[0]}.{store.version[1]}.0"
    ns_names: list[str] = []
    for entry in spec.get("namespaces") or []:
        entry = {"name": entry} if isinstance(entry, str) else entry
        store.put("namespaces", b.build_namespace(entry["name"], labels=entry.get("labels")))
        ns_names.append(entry["name"])

    def ensure_ns(name: str) -> None:
        if store.get("namespaces", "", name) is None:
            store.put("namespaces", b.build_namespace(name))

    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        ensure_ns(name)

    for i, entry in enumerate(spec.get("nodes") or []):
        entry = {"name": entry} if isinstance(entry, str) else entry
        store.put(
            "nodes",
            b.build_node(
                entry["name"],
                index=i,
                kubelet_version=kubelet_version,
                control_plane=bool(entry.get("controlPlane")),
                unschedulable=bool(entry.get("unschedulable")),
                labels=entry.get("labels"),
                allocatable=entry.get("allocatable"),
                taints=entry.get("taints"),
            ),
        )
    counts: Counter[str] = Counter()

    def placement(wanted: str | None, spec: Obj | None = None) -> Obj | None:
        if wanted:
            node = store.get("nodes", "", wanted)
            if node is None:
                raise ScenarioError(f"unknown node {wanted!r}")
            counts[wanted] += 1
            return node
        return pick_node(store, counts, spec)

    for entry in spec.get("workloads") or []:
        kind, ns, name = entry["kind"], entry["namespace"], entry["name"]
        ensure_ns(ns)
        labels = entry.get("labels") or {"app": name}
        replicas = int(entry.get("replicas", 1))
        wl = b.build_workload(
            kind,
            namespace=ns,
            name=name,
            labels=labels,
            replicas=replicas,
            grace=int(entry.get("terminationGracePeriodSeconds", 30)),
            image=entry.get("image", "registry.k8s.io/pause:3.9"),
            empty_dir=bool(entry.get("emptyDir")),
            requests=entry.get("requests"),
            node_selector=entry.get("nodeSelector"),
            tolerations=entry.get("tolerations"),
        )
        store.put(b.WORKLOAD_KINDS[kind], wl)
        store.workloads[(kind, ns, name)] = WorkloadSim(
            ready_after_seconds=float(entry.get("readyAfterSeconds", 5)),
            never_ready=bool(entry.get("neverReady")),
        )
        not_ready = set(entry.get("notReady") or [])
        rng = random.Random(f"{ns}/{name}")  # stable pod names across runs
        if kind == "DaemonSet":
            targets = [(f"{name}-{b.random_suffix(rng)}", n) for n in store.list("nodes")]
        else:
            wanted = list(entry.get("nodes") or [])
            targets = []
            for i in range(replicas):
                pod_name = f"{name}-{i}" if kind == "StatefulSet" else f"{name}-{b.random_suffix(rng)}"
                node = placement(wanted[i] if i < len(wanted) else None, wl["spec"]["template"]["spec"])
                targets.append((pod_name, node))
        for i, (pod_name, node) in enumerate(targets):
            pod = create_workload_pod(store, wl, pod_name, node, ready=i not in not_ready)
            if i in not_ready:
                # Scenario "notReady" pods stay unready until changed through the control API.
                store.pod_sim.pop(pod["metadata"]["uid"], None)

    for entry in spec.get("pods") or []:
        _bare_pod(store, entry, placement, ensure_ns)

    for entry in spec.get("pdbs") or []:
        ensure_ns(entry["namespace"])
        selector = entry.get("selector") or {}
        if "matchLabels" not in selector and "matchExpressions" not in selector:
            selector = {"matchLabels": selector}
        pdb = b.build_pdb(
            namespace=entry["namespace"],
            name=entry["name"],
            selector=selector,
            min_available=entry.get("minAvailable"),
            max_unavailable=entry.get("maxUnavailable"),
            unhealthy_pod_eviction_policy=entry.get("unhealthyPodEvictionPolicy"),
        )
        key = (entry["namespace"], entry["name"])
        if entry.get("holdUnprocessed"):
            # As if the PDB was just edited and the disruption controller never caught up.
            store.held_pdbs.add(key)
            pdb["metadata"]["generation"] = 2
            pdb["status"] = store.compute_pdb_status(pdb, 0.0)
            pdb["status"]["observedGeneration"] = 1
        store.put("poddisruptionbudgets", pdb)

    for entry in spec.get("namespaces") or []:
        if isinstance(entry, dict) and entry.get("terminating"):
            ns = store.get("namespaces", "", entry["name"])
            b.set_namespace_terminating(ns, True)
            store.modified("namespaces", ns)


def _bare_pod(store: Store, entry: Obj, placement: Any, ensure_ns: Any) -> None:
    ns, name = entry["namespace"], entry["name"]
    ensure_ns(ns)
    phase = entry.get("phase", "Running")
    scheduling = {"nodeSelector": entry.get("nodeSelector"), "tolerations": entry.get("tolerations")}
    if entry.get("requests"):
        scheduling["containers"] = [{"resources": {"requests": entry["requests"]}}]
    node = placement(entry.get("node"), scheduling) if phase != "Pending" else None
    annotations = dict(entry.get("annotations") or {})
    owner = None
    if entry.get("mirror"):
        if node is None:
            raise ScenarioError(f"mirror pod {name} needs a node")
        annotations.setdefault("kubernetes.io/config.mirror", o.new_uid().replace("-", "")[:32])
        annotations.setdefault("kubernetes.io/config.source", "file")
        owner = {
            "apiVersion": "v1",
            "kind": "Node",
            "name": node["metadata"]["name"],
            "uid": node["metadata"]["uid"],
            "controller": True,
        }
    elif entry.get("owner"):
        ref = entry["owner"]
        owner = {
            "apiVersion": ref.get("apiVersion", "batch/v1"),
            "kind": ref["kind"],
            "name": ref["name"],
            "uid": ref.get("uid") or o.new_uid(),
            "controller": True,
            "blockOwnerDeletion": True,
        }
    pod = b.build_pod(
        namespace=ns,
        name=name,
        node=node["metadata"]["name"] if node else None,
        host_ip=node_ip(node) if node else "",
        pod_ip=store.next_pod_ip() if node else "",
        labels=entry.get("labels") or {"run": name},
        annotations=annotations,
        owner=owner,
        phase=phase,
        ready=bool(entry.get("ready", True)),
        grace=int(entry.get("terminationGracePeriodSeconds", 30)),
        empty_dir=bool(entry.get("emptyDir")),
        image=entry.get("image", "registry.k8s.io/pause:3.9"),
        requests=entry.get("requests"),
        node_selector=entry.get("nodeSelector"),
        tolerations=[*entry["tolerations"], *b.DEFAULT_TOLERATIONS] if entry.get("tolerations") else None,
    )
    store.put("pods", pod)
    if entry.get("mirror"):
        store.static_pods[(ns, name)] = json.loads(json.dumps(pod))
