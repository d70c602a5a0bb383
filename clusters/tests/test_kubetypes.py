"""Typed kube objects: quantities, taints and tolerations, a pod's scheduling needs and a node's room, as tables."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clusters.kubetypes import Node, Pod, PodScheduling, Requirement, Taint, Toleration, parse_quantity, pod_requests

Gi, Mi = 2**30, 2**20


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", "0.1"),
        ("0.5", "0.5"),
        ("2", "2"),
        (".5", "0.5"),
        ("1.", "1"),
        ("+3", "3"),
        ("-1", "-1"),
        ("250000u", "0.25"),
        ("500000000n", "0.5"),
        ("128Mi", str(128 * Mi)),
        ("1Gi", str(Gi)),
        ("1.5Gi", str(3 * Gi // 2)),
        ("1G", "1000000000"),
        ("500k", "500000"),
        ("2Ki", "2048"),
        ("1Ti", str(2**40)),
        ("1M", "1000000"),
        ("1E", "1000000000000000000"),  # E alone is exa
        ("1e3", "1000"),  # e with digits is an exponent
        ("1E3", "1000"),
        ("1.5e-3", "0.0015"),
        (" 64Mi ", str(64 * Mi)),
    ],
)
def test_quantities_parse(text, value):
    assert parse_quantity(text) == Decimal(value)


@pytest.mark.parametrize(
    "text", ["", " ", "Mi", "1Mb", "1mi", "1KI", "1 Gi", "one", "1.2.3", "1e", "1e1.5", "--1", "0x10"]
)
def test_junk_is_not_a_quantity(text):
    with pytest.raises(ValueError, match="is not a Kubernetes quantity"):
        parse_quantity(text)


DEDICATED = Taint("dedicated", "gpu", "NoSchedule")


@pytest.mark.parametrize(
    ("toleration", "taint", "tolerates"),
    [
        (Toleration("dedicated", "Equal", "gpu", "NoSchedule"), DEDICATED, True),
        (Toleration("dedicated", "Equal", "gpu"), DEDICATED, True),  # no effect: every effect
        (Toleration("dedicated", "", "gpu"), DEDICATED, True),  # no operator: Equal
        (Toleration("dedicated", "Equal", "cpu"), DEDICATED, False),
        (Toleration("dedicated", "Equal", "gpu", "NoExecute"), DEDICATED, False),
        (Toleration("dedicated", "Exists"), DEDICATED, True),
        (Toleration("other", "Exists"), DEDICATED, False),
        (Toleration("", "Exists"), DEDICATED, True),  # tolerates everything
        (Toleration("", "Exists", effect="NoExecute"), DEDICATED, False),
        (Toleration("", "Equal", "gpu"), DEDICATED, False),  # Equal needs a key
        (Toleration("dedicated", "Exists"), Taint("dedicated", "", "NoExecute"), True),
    ],
)
def test_tolerations_follow_kubernetes(toleration, taint, tolerates):
    assert toleration.tolerates(taint) is tolerates


def container(cpu: str = "0", memory: str = "0", **extra: str) -> dict:
    return {"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}, **extra}


@pytest.mark.parametrize(
    ("spec", "cpu", "memory"),
    [
        ({}, "0", 0),
        ({"containers": [{"name": "no-requests"}]}, "0", 0),
        ({"containers": [container("100m", "128Mi"), container("250m", "64Mi")]}, "0.35", 192 * Mi),
        # an init container bigger than the app: the pod reserves the init step
        ({"containers": [container("100m", "128Mi")], "initContainers": [container("1", "64Mi")]}, "1", 128 * Mi),
        # a sidecar runs beside the app and during later init steps
        (
            {
                "containers": [container("100m", "128Mi")],
                "initContainers": [container("50m", "32Mi", restartPolicy="Always"), container("500m", "16Mi")],
            },
            "0.55",
            160 * Mi,
        ),
        (
            {"containers": [container("1", "1Gi")], "overhead": {"cpu": "250m", "memory": "120Mi"}},
            "1.25",
            Gi + 120 * Mi,
        ),
    ],
)
def test_a_pods_requests(spec, cpu, memory):
    assert pod_requests(spec) == (Decimal(cpu), Decimal(memory))


def test_junk_quantities_in_a_pod_count_as_nothing_rather_than_failing_the_list():
    spec = {"containers": [container("lots", "1Gi"), container("1", "a bit")], "overhead": {"cpu": []}}
    assert pod_requests(spec) == (Decimal(1), Decimal(Gi))


def test_a_pods_scheduling_needs():
    pod = Pod.parse(
        {
            "metadata": {"namespace": "shop", "name": "web-1"},
            "spec": {
                "containers": [container("500m", "1Gi")],
                "nodeSelector": {"pool": "blue", "kubernetes.io/os": "linux"},
                "tolerations": [
                    {"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"},
                    {"operator": "Exists"},
                    "junk",
                ],
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
                                {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]},
                            ]
                        }
                    }
                },
            },
        }
    )
    assert pod.scheduling == PodScheduling(
        Decimal("0.5"),
        Decimal(Gi),
        (("kubernetes.io/os", "linux"), ("pool", "blue")),
        ((Requirement("zone", "In", ("a",)),), (Requirement("gpu", "Exists"),)),
        (Toleration("dedicated", "Exists", "", "NoSchedule"), Toleration("", "Exists")),
    )


def test_a_match_fields_term_is_not_modelled():
    # DaemonSet pods pin themselves with matchFields; drains skip them, and guessing would only invent Pending pods.
    terms = [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}
    assert Pod.parse({"spec": {"affinity": affinity}}).scheduling.node_affinity is None


def test_pods_without_requests_need_nothing_and_compare_as_before():
    pod = Pod.parse({"metadata": {"namespace": "a", "name": "p", "uid": "u"}, "status": {"phase": "Running"}})
    assert pod.scheduling == PodScheduling()
    assert not pod.finished
    assert Pod.parse({"status": {"phase": "Succeeded"}}).finished


def test_a_node_carries_labels_room_taints_and_boot_id():
    node = Node.parse(
        {
            "metadata": {
                "name": "blue-1",
                "labels": {"cloud.google.com/gke-nodepool": "blue"},
                "creationTimestamp": "2026-01-02T03:04:05Z",
            },
            "spec": {
                "unschedulable": True,
                "taints": [
                    {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": "x"},
                    {"key": "dedicated", "value": "gpu", "effect": "NoExecute"},
                ],
            },
            "status": {
                "allocatable": {"cpu": "3920m", "memory": "16393832Ki", "pods": "110", "ephemeral-storage": "1Gi"},
                "conditions": [{"type": "Ready", "status": "True"}],
                "nodeInfo": {"bootID": "b-1", "kernelVersion": "6.8"},
            },
        }
    )
    assert (node.name, node.unschedulable, node.ready) == ("blue-1", True, True)
    assert node.labels == {"cloud.google.com/gke-nodepool": "blue"}
    assert (node.cpu_allocatable, node.memory_allocatable, node.pods_allocatable) == (
        Decimal("3.92"),
        Decimal(16393832 * 1024),
        110,
    )
    assert node.taints == (
        Taint("node.kubernetes.io/unschedulable", "", "NoSchedule"),
        Taint("dedicated", "gpu", "NoExecute"),
    )
    assert node.boot_id == "b-1"
    assert node.created_at is not None and node.created_at.year == 2026


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, Node("", False, False)),
        (
            {"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": "junk", "pods": "many"}}},
            Node("n", False, False, pods_allocatable=0),  # a room that cannot be read offers none
        ),
        ({"metadata": {"name": "n"}, "spec": {"taints": "junk"}, "status": {"nodeInfo": []}}, Node("n", False, False)),
    ],
)
def test_a_node_with_missing_or_junk_fields_parses_to_defaults(data, expected):
    node = Node.parse(data)
    assert node == expected
    assert node.boot_id == "" and node.taints == () and node.cpu_allocatable == 0
