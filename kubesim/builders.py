"""Construct full Kubernetes-shaped objects (namespaces, nodes, pods, workloads, PDBs)."""

from __future__ import annotations

import random
from typing import Any

from kubesim import objects as o

Obj = dict[str, Any]

WORKLOAD_KINDS = {"ReplicaSet": "replicasets", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}
# What the DefaultTolerationSeconds admission plugin gives every pod.
DEFAULT_TOLERATIONS: list[Obj] = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
]
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what the apiserver's generateName uses


def random_suffix(rng: random.Random | None = None, length: int = 5) -> str:
    r = rng or random
    return "".join(r.choice(_NAME_ALPHABET) for _ in range(length))


def build_namespace(name: str, *, terminating: bool = False, labels: dict[str, str] | None = None) -> Obj:
    ns: Obj = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": o.meta(name, labels={"kubernetes.io/metadata.name": name, **(labels or {})}),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }
    if terminating:
        set_namespace_terminating(ns, True)
    return ns


def set_namespace_terminating(ns: Obj, terminating: bool) -> None:
    if terminating:
        ns["metadata"]["deletionTimestamp"] = ns["metadata"].get("deletionTimestamp") or o.now_iso()
        ns["status"] = {
            "phase": "Terminating",
            "conditions": [
                {
                    "type": "NamespaceDeletionContentFailure",
                    "status": "False",
                    "reason": "ContentDeleted",
                    "message": "All content successfully deleted, may be waiting on finalization",
                    "lastTransitionTime": o.now_iso(),
                }
            ],
        }
    else:
        ns["metadata"].pop("deletionTimestamp", None)
        ns["status"] = {"phase": "Active"}


def build_node(
    name: str,
    *,
    index: int,
    kubelet_version: str,
    control_plane: bool = False,
    unschedulable: bool = False,
    labels: dict[str, str] | None = None,
    allocatable: dict[str, str] | None = None,
    taints: list[Obj] | None = None,
) -> Obj:
    now = o.now_iso()
    node_labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "topology.kubernetes.io/zone": f"zone-{'abc'[index % 3]}",
    }
    if control_plane:
        node_labels["node-role.kubernetes.io/control-plane"] = ""
    node_labels.update(labels or {})
    capacity = {"cpu": "4", "ephemeral-storage": "102400Mi", "memory": "16393832Ki", "pods": "110"}
    capacity.update({str(k): str(v) for k, v in (allocatable or {}).items()})

    def cond(ctype: str, status: str, reason: str, message: str) -> Obj:
        return {
            "type": ctype,
            "status": status,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }

    node: Obj = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": o.meta(
            name,
            labels=node_labels,
            annotations={
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        ),
        "spec": {
            "podCIDR": f"10.244.{index}.0/24",
            "podCIDRs": [f"10.244.{index}.0/24"],
            **({"taints": [dict(t) for t in taints]} if taints else {}),
        },
        "status": {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "conditions": [
                cond(
                    "MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"
                ),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": f"172.18.0.{index + 2}"},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": o.new_uid().replace("-", ""),
                "systemUUID": o.new_uid(),
                "bootID": o.new_uid(),
                "kernelVersion": "6.8.0-45-generic",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": "containerd://1.7.18",
                "kubeletVersion": kubelet_version,
                "kubeProxyVersion": kubelet_version,
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }
    set_node_unschedulable(node, unschedulable)
    return node


NOT_READY_TAINT = "node.kubernetes.io/not-ready"


def set_node_ready(node: Obj, ready: bool) -> None:
    """The kubelet's Ready condition and the not-ready taint the node lifecycle controller keeps in step with it.

    A node coming back Ready has rebooted: it reports a new status.nodeInfo.bootID, as a kubelet does.
    """
    now = o.now_iso()
    for condition in node["status"]["conditions"]:
        if condition["type"] == "Ready":
            condition.update(
                status="True" if ready else "False",
                reason="KubeletReady" if ready else "KubeletNotReady",
                message="kubelet is posting ready status" if ready else "container runtime is down",
                lastHeartbeatTime=now,
                lastTransitionTime=now,
            )
    spec = node["spec"]
    taints = [t for t in spec.get("taints") or [] if t.get("key") != NOT_READY_TAINT]
    if ready:
        node["status"]["nodeInfo"]["bootID"] = o.new_uid()
    else:
        taints.append({"key": NOT_READY_TAINT, "effect": "NoSchedule", "timeAdded": now})
    if taints:
        spec["taints"] = taints
    else:
        spec.pop("taints", None)


def set_node_unschedulable(node: Obj, unschedulable: bool) -> None:
    """Mirror spec.unschedulable into the taint the node lifecycle controller manages."""
    spec = node["spec"]
    taints = [t for t in spec.get("taints") or [] if t.get("key") != "node.kubernetes.io/unschedulable"]
    if unschedulable:
        spec["unschedulable"] = True
        taints.append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": o.now_iso()})
    else:
        spec.pop("unschedulable", None)
    if taints:
        spec["taints"] = taints
    else:
        spec.pop("taints", None)


def build_pod(
    *,
    namespace: str,
    name: str,
    node: str | None,
    host_ip: str = "",
    pod_ip: str = "",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owner: Obj | None = None,
    phase: str = "Running",
    ready: bool = True,
    grace: int = 30,
    empty_dir: bool = False,
    image: str = "registry.k8s.io/pause:3.9",
    container: str = "main",
    tolerations: list[Obj] | None = None,
    generate_name: str | None = None,
    uid: str | None = None,
    created: str | None = None,
    requests: dict[str, str] | None = None,
    node_selector: dict[str, str] | None = None,
) -> Obj:
    now = o.now_iso()
    volumes: list[Obj] = [
        {
            "name": "kube-api-access",
            "projected": {
                "defaultMode": 420,
                "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}],
            },
        }
    ]
    mounts = [
        {"name": "kube-api-access", "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
    ]
    if empty_dir:
        volumes.append({"name": "scratch", "emptyDir": {}})
        mounts.append({"name": "scratch", "mountPath": "/scratch"})
    spec: Obj = {
        "containers": [
            {
                "name": container,
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "resources": {"requests": dict(requests)} if requests else {},
                "volumeMounts": mounts,
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            }
        ],
        "volumes": volumes,
        "restartPolicy": "Always" if owner is None or owner["kind"] != "Job" else "Never",
        "terminationGracePeriodSeconds": grace,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        "serviceAccount": "default",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "priority": 0,
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
        "tolerations": [dict(t) for t in tolerations or DEFAULT_TOLERATIONS],
    }
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if node:
        spec["nodeName"] = node
    extra: Obj = {"labels": labels or {}, "annotations": annotations or {}, "uid": uid, "creationTimestamp": created}
    if owner is not None:
        extra["ownerReferences"] = [owner]
    if generate_name:
        extra["generateName"] = generate_name
    pod: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": o.meta(name, namespace, **extra),
        "spec": spec,
        "status": {"phase": phase, "qosClass": "BestEffort", "conditions": []},
    }
    status = pod["status"]
    if requests:
        status["qosClass"] = "Burstable"
    if node is None:
        status["conditions"] = [
            o.condition("PodScheduled", False, "Unschedulable", "0/3 nodes are available: no schedulable node.")
        ]
        status["phase"] = "Pending"
        return pod
    status.update(hostIP=host_ip, hostIPs=[{"ip": host_ip}], podIP=pod_ip, podIPs=[{"ip": pod_ip}], startTime=now)
    terminated = phase in ("Succeeded", "Failed")
    status["conditions"] = [
        o.condition("PodReadyToStartContainers", not terminated),
        o.condition("Initialized", True),
        o.condition("Ready", False),
        o.condition("ContainersReady", False),
        o.condition("PodScheduled", True),
    ]
    if terminated:
        state: Obj = {
            "terminated": {
                "exitCode": 0 if phase == "Succeeded" else 1,
                "reason": "Completed" if phase == "Succeeded" else "Error",
                "startedAt": now,
                "finishedAt": now,
                "containerID": f"containerd://{o.new_uid()}",
            }
        }
        for c in status["conditions"]:
            if c["type"] in ("Ready", "ContainersReady"):
                c["reason"] = "PodCompleted"
    else:
        state = {"running": {"startedAt": now}}
    status["containerStatuses"] = [
        {
            "name": container,
            "ready": False,
            "restartCount": 0,
            "started": not terminated,
            "image": image,
            "imageID": f"{image.split(':')[0]}@sha256:{'0' * 64}",
            "containerID": f"containerd://{o.new_uid().replace('-', '')}",
            "state": state,
        }
    ]
    if phase == "Running" and ready:
        set_pod_ready(pod, True)
    return pod


def set_pod_ready(pod: Obj, ready: bool) -> bool:
    changed = o.set_condition(
        pod,
        "Ready",
        ready,
        "" if ready else "ContainersNotReady",
        "" if ready else f"containers with unready status: [{pod['spec']['containers'][0]['name']}]",
    )
    o.set_condition(
        pod,
        "ContainersReady",
        ready,
        "" if ready else "ContainersNotReady",
        "" if ready else f"containers with unready status: [{pod['spec']['containers'][0]['name']}]",
    )
    for cs in pod["status"].get("containerStatuses") or []:
        cs["ready"] = ready
    return changed


def build_workload(
    kind: str,
    *,
    namespace: str,
    name: str,
    labels: dict[str, str],
    replicas: int,
    grace: int = 30,
    image: str = "registry.k8s.io/pause:3.9",
    empty_dir: bool = False,
    requests: dict[str, str] | None = None,
    node_selector: dict[str, str] | None = None,
    tolerations: list[Obj] | None = None,
) -> Obj:
    resources = {"requests": {str(k): str(v) for k, v in requests.items()}} if requests else {}
    template: Obj = {
        "metadata": {"labels": dict(labels)},
        "spec": {
            "containers": [{"name": "main", "image": image, "resources": resources}],
            "terminationGracePeriodSeconds": grace,
        },
    }
    if node_selector:
        template["spec"]["nodeSelector"] = {str(k): str(v) for k, v in node_selector.items()}
    if tolerations:
        template["spec"]["tolerations"] = [dict(t) for t in tolerations]
    if empty_dir:
        template["spec"]["volumes"] = [{"name": "scratch", "emptyDir": {}}]
    spec: Obj = {"selector": {"matchLabels": dict(labels)}, "template": template}
    meta = o.meta(name, namespace, labels=dict(labels))
    meta["generation"] = 1
    obj: Obj = {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": spec}
    if kind == "ReplicaSet":
        spec["replicas"] = replicas
        spec["minReadySeconds"] = 0
        obj["status"] = {
            "replicas": 0,
            "fullyLabeledReplicas": 0,
            "readyReplicas": 0,
            "availableReplicas": 0,
            "observedGeneration": 1,
        }
    elif kind == "StatefulSet":
        spec.update(
            replicas=replicas,
            serviceName=name,
            podManagementPolicy="OrderedReady",
            updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            revisionHistoryLimit=10,
        )
        obj["status"] = {
            "replicas": 0,
            "readyReplicas": 0,
            "currentReplicas": 0,
            "updatedReplicas": 0,
            "availableReplicas": 0,
            "observedGeneration": 1,
            "currentRevision": f"{name}-7b9c8d6f5",
            "updateRevision": f"{name}-7b9c8d6f5",
            "collisionCount": 0,
        }
    elif kind == "DaemonSet":
        spec.update(
            updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            revisionHistoryLimit=10,
        )
        obj["status"] = {
            "currentNumberScheduled": 0,
            "desiredNumberScheduled": 0,
            "numberMisscheduled": 0,
            "numberReady": 0,
            "numberAvailable": 0,
            "updatedNumberScheduled": 0,
            "observedGeneration": 1,
        }
    else:
        raise ValueError(f"unsupported workload kind {kind!r}")
    return obj


def build_pdb(
    *,
    namespace: str,
    name: str,
    selector: Obj,
    min_available: int | str | None = None,
    max_unavailable: int | str | None = None,
    unhealthy_pod_eviction_policy: str | None = None,
) -> Obj:
    meta = o.meta(name, namespace)
    meta["generation"] = 1
    spec: Obj = {"selector": selector}
    if min_available is not None:
        spec["minAvailable"] = min_available
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    if unhealthy_pod_eviction_policy:
        spec["unhealthyPodEvictionPolicy"] = unhealthy_pod_eviction_policy
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta,
        "spec": spec,
        "status": {
            "observedGeneration": 0,
            "currentHealthy": 0,
            "desiredHealthy": 0,
            "disruptionsAllowed": 0,
            "expectedPods": 0,
        },
    }
