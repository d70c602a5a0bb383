"""Server-side printing: meta.k8s.io/v1 Table answers for `kubectl get`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubesim import objects as o

Obj = dict[str, Any]


def age(timestamp: str | None) -> str:
    """kubectl's HumanDuration, close enough for a table."""
    if not timestamp:
        return "<unknown>"
    import datetime

    seconds = int((datetime.datetime.now(datetime.UTC) - o.parse_iso(timestamp)).total_seconds())
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"


def _col(name: str, ctype: str = "string", fmt: str = "", priority: int = 0) -> Obj:
    return {"name": name, "type": ctype, "format": fmt, "description": name, "priority": priority}


def _pod_status(pod: Obj) -> str:
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    phase = pod["status"].get("phase", "Unknown")
    for cs in pod["status"].get("containerStatuses") or []:
        state = cs.get("state", {})
        if "terminated" in state:
            return state["terminated"].get("reason", phase)
    return phase


def _pod_row(pod: Obj) -> list[Any]:
    statuses = pod["status"].get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    return [
        pod["metadata"]["name"],
        f"{ready}/{len(pod['spec'].get('containers', []))}",
        _pod_status(pod),
        sum(c.get("restartCount", 0) for c in statuses),
        age(pod["metadata"].get("creationTimestamp")),
        pod["status"].get("podIP") or "<none>",
        pod["spec"].get("nodeName") or "<none>",
        "<none>",
        "<none>",
    ]


def _node_row(node: Obj) -> list[Any]:
    status = "Ready" if o.is_pod_ready(node) else "NotReady"
    if node["spec"].get("unschedulable"):
        status += ",SchedulingDisabled"
    roles = [k.split("/", 1)[1] for k in node["metadata"].get("labels", {}) if k.startswith("node-role.kubernetes.io/")]
    return [
        node["metadata"]["name"],
        status,
        ",".join(roles) or "<none>",
        age(node["metadata"].get("creationTimestamp")),
        node["status"]["nodeInfo"]["kubeletVersion"],
    ]


def _pdb_row(pdb: Obj) -> list[Any]:
    spec = pdb["spec"]
    return [
        pdb["metadata"]["name"],
        str(spec.get("minAvailable", "N/A")),
        str(spec.get("maxUnavailable", "N/A")),
        pdb.get("status", {}).get("disruptionsAllowed", 0),
        age(pdb["metadata"].get("creationTimestamp")),
    ]


def _ns_row(ns: Obj) -> list[Any]:
    return [ns["metadata"]["name"], ns["status"].get("phase", ""), age(ns["metadata"].get("creationTimestamp"))]


def _workload_row(wl: Obj) -> list[Any]:
    st = wl.get("status") or {}
    if wl["kind"] == "DaemonSet":
        return [
            wl["metadata"]["name"],
            st.get("desiredNumberScheduled", 0),
            st.get("currentNumberScheduled", 0),
            st.get("numberReady", 0),
            age(wl["metadata"].get("creationTimestamp")),
        ]
    if wl["kind"] == "StatefulSet":
        return [
            wl["metadata"]["name"],
            f"{st.get('readyReplicas', 0)}/{wl['spec'].get('replicas', 0)}",
            age(wl["metadata"].get("creationTimestamp")),
        ]
    return [
        wl["metadata"]["name"],
        wl["spec"].get("replicas", 0),
        st.get("replicas", 0),
        st.get("readyReplicas", 0),
        age(wl["metadata"].get("creationTimestamp")),
    ]


TABLES: dict[str, tuple[list[Obj], Callable[[Obj], list[Any]]]] = {
    "pods": (
        [
            _col("Name", fmt="name"),
            _col("Ready"),
            _col("Status"),
            _col("Restarts", "string"),
            _col("Age"),
            _col("IP", priority=1),
            _col("Node", priority=1),
            _col("Nominated Node", priority=1),
            _col("Readiness Gates", priority=1),
        ],
        _pod_row,
    ),
    "nodes": ([_col("Name", fmt="name"), _col("Status"), _col("Roles"), _col("Age"), _col("Version")], _node_row),
    "poddisruptionbudgets": (
        [
            _col("Name", fmt="name"),
            _col("Min Available"),
            _col("Max Unavailable"),
            _col("Allowed Disruptions", "integer"),
            _col("Age"),
        ],
        _pdb_row,
    ),
    "namespaces": ([_col("Name", fmt="name"), _col("Status"), _col("Age")], _ns_row),
    "replicasets": (
        [
            _col("Name", fmt="name"),
            _col("Desired", "integer"),
            _col("Current", "integer"),
            _col("Ready", "integer"),
            _col("Age"),
        ],
        _workload_row,
    ),
    "statefulsets": ([_col("Name", fmt="name"), _col("Ready"), _col("Age")], _workload_row),
    "daemonsets": (
        [
            _col("Name", fmt="name"),
            _col("Desired", "integer"),
            _col("Current", "integer"),
            _col("Ready", "integer"),
            _col("Age"),
        ],
        _workload_row,
    ),
}


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def table(resource: str, items: list[Obj], resource_version: str) -> Obj:
    columns, row = TABLES[resource]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": [
            {
                "cells": row(item),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": item["metadata"],
                },
            }
            for item in items
        ],
    }
