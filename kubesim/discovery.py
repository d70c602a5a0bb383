"""API discovery documents (/version, /api, /apis, resource lists) for the simulated version."""

from __future__ import annotations

from typing import Any

from kubesim.state import Store

Obj = dict[str, Any]

# (resource, kind, namespaced, short names, verbs)
_CORE = [
    ("namespaces", "Namespace", False, ["ns"], ["get", "list", "patch", "watch"]),
    ("nodes", "Node", False, ["no"], ["get", "list", "patch", "watch"]),
    ("pods", "Pod", True, ["po"], ["delete", "get", "list", "patch", "watch"]),
]
_APPS = [
    ("daemonsets", "DaemonSet", True, ["ds"], ["get", "list", "patch", "watch"]),
    ("replicasets", "ReplicaSet", True, ["rs"], ["get", "list", "patch", "watch"]),
    ("statefulsets", "StatefulSet", True, ["sts"], ["get", "list", "patch", "watch"]),
]
_POLICY = [
    ("poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"], ["get", "list", "patch", "watch"]),
]


def served(store: Store) -> dict[tuple[str, str], list[tuple[str, str, bool, list[str], list[str]]]]:
    """(group, version) -> resources; what the router accepts and discovery shows."""
    groups: dict[tuple[str, str], list[tuple[str, str, bool, list[str], list[str]]]] = {
        ("", "v1"): _CORE,
        ("apps", "v1"): _APPS,
    }
    for v in store.policy_versions:
        groups[("policy", v)] = _POLICY
    return groups


def version_info(store: Store) -> Obj:
    major, minor = store.version
    return {
        "major": str(major),
        "minor": str(minor),
        "gitVersion": f"v{major}.{minor}.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.22.5",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def _resource(name: str, kind: str, namespaced: bool, short: list[str], verbs: list[str]) -> Obj:
    return {
        "name": name,
        "singularName": kind.lower(),
        "namespaced": namespaced,
        "kind": kind,
        "verbs": verbs,
        "shortNames": short,
    }


def resource_list(store: Store, group: str, version: str) -> Obj | None:
    resources = served(store).get((group, version))
    if resources is None:
        return None
    items = [_resource(*r) for r in resources]
    if group == "":
        eviction_version = store.policy_versions[0]  # v1 when served, else v1beta1
        items.append(
            {
                "name": "pods/eviction",
                "singularName": "",
                "namespaced": True,
                "group": "policy",
                "version": eviction_version,
                "kind": "Eviction",
                "verbs": ["create"],
            }
        )
        items.append({"name": "pods/status", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]})
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": items,
    }


def api_versions(host: str) -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
    }


def _group(store: Store, name: str) -> Obj:
    versions = [v for (g, v) in served(store) if g == name]
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def group_list(store: Store) -> Obj:
    names = ["apps", "policy"]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(store, n) for n in names]}


def group(store: Store, name: str) -> Obj | None:
    if name not in ("apps", "policy"):
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(store, name)}
