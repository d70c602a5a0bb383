"""Placement rules, kube objects as rooms and needs, and the capacity fit of a batch, as tables."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clusters.kubetypes import Node, Pod, Requirement, Taint, Toleration, parse_quantity
from rollouts.capacity import (
    NodeRoom,
    PodNeeds,
    capacity_plan,
    cpu_words,
    eligible,
    fit_batch,
    largest_concurrency,
    memory_words,
    node_rooms,
)

Gi, Mi = 2**30, 2**20


@pytest.mark.parametrize(
    ("cores", "words"),
    [("0", "0"), ("0.25", "250m"), ("0.1", "100m"), ("1", "1"), ("1.5", "1.5"), ("12", "12"), ("2.25", "2.2")],
)
def test_cpu_in_words(cores, words):
    assert cpu_words(Decimal(cores)) == words


@pytest.mark.parametrize(
    ("size", "words"),
    [
        (0, "0"),
        (100, "100"),
        (2048, "2Ki"),
        (512 * Mi, "512Mi"),
        (3 * Gi // 2, "1.5Gi"),
        (Gi, "1Gi"),
        (10**9, "953.7Mi"),
    ],
)
def test_memory_in_words(size, words):
    assert memory_words(Decimal(size)) == words


DEDICATED = Taint("dedicated", "gpu", "NoSchedule")


GPU_NODE = NodeRoom(
    "gpu-1",
    labels={"pool": "gpu", "zone": "a", "cores": "16"},
    taints=(DEDICATED, Taint("soft", "", "PreferNoSchedule")),
)
PLAIN_NODE = NodeRoom("plain-1", labels={"pool": "blue", "zone": "b", "cores": "4"})
TOLERATES_GPU = (Toleration("dedicated", "Exists"),)


def affinity(*terms: tuple[Requirement, ...]) -> tuple[tuple[Requirement, ...], ...]:
    return terms


@pytest.mark.parametrize(
    ("pod", "node", "why_not"),
    [
        (PodNeeds("a/p"), PLAIN_NODE, ""),
        (PodNeeds("a/p"), GPU_NODE, "taint dedicated=gpu:NoSchedule"),
        (PodNeeds("a/p", tolerations=TOLERATES_GPU), GPU_NODE, ""),  # PreferNoSchedule does not keep it off
        (PodNeeds("a/p"), NodeRoom("t", taints=(Taint("evict", "", "NoExecute"),)), "taint evict:NoExecute"),
        (PodNeeds("a/p"), NodeRoom("c", unschedulable=True), "cordoned"),
        (PodNeeds("a/p"), NodeRoom("n", ready=False), "not Ready"),
        (PodNeeds("a/p", node_selector=(("pool", "blue"),)), PLAIN_NODE, ""),
        (PodNeeds("a/p", node_selector=(("pool", "blue"), ("zone", "a"))), PLAIN_NODE, "nodeSelector"),
        (PodNeeds("a/p", node_affinity=affinity((Requirement("zone", "In", ("a", "b")),))), PLAIN_NODE, ""),
        (PodNeeds("a/p", node_affinity=affinity((Requirement("zone", "In", ("a",)),))), PLAIN_NODE, "node affinity"),
        (PodNeeds("a/p", node_affinity=affinity((Requirement("zone", "NotIn", ("a",)),))), PLAIN_NODE, ""),
        (PodNeeds("a/p", node_affinity=affinity((Requirement("pool", "Exists"),))), PLAIN_NODE, ""),
        (
            PodNeeds("a/p", node_affinity=affinity((Requirement("pool", "DoesNotExist"),))),
            PLAIN_NODE,
            "node affinity",
        ),
        (PodNeeds("a/p", node_affinity=affinity((Requirement("cores", "Gt", ("8",)),))), PLAIN_NODE, "node affinity"),
        (PodNeeds("a/p", node_affinity=affinity((Requirement("cores", "Lt", ("8",)),))), PLAIN_NODE, ""),
        (PodNeeds("a/p", node_affinity=affinity((Requirement("zone", "Gt", ("8",)),))), PLAIN_NODE, "node affinity"),
        (
            # terms are ORed
            PodNeeds(
                "a/p",
                node_affinity=affinity((Requirement("zone", "In", ("a",)),), (Requirement("pool", "In", ("blue",)),)),
            ),
            PLAIN_NODE,
            "",
        ),
        (
            # a term's expressions are ANDed
            PodNeeds(
                "a/p",
                node_affinity=affinity((Requirement("zone", "In", ("b",)), Requirement("pool", "In", ("gpu",)))),
            ),
            PLAIN_NODE,
            "node affinity",
        ),
        (PodNeeds("a/p", node_affinity=affinity(())), PLAIN_NODE, "node affinity"),  # an empty term matches nothing
        (PodNeeds("a/p", node_affinity=affinity()), PLAIN_NODE, "node affinity"),  # no terms: nothing
    ],
)
def test_where_a_pod_may_land(pod, node, why_not):
    assert eligible(pod, node) == why_not


def container(cpu: str = "0", memory: str = "0") -> dict:
    return {"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}


def test_pod_needs_from_a_pod_read_from_the_api():
    pod = {
        "metadata": {"namespace": "shop", "name": "web-1"},
        "spec": {
            "containers": [container("500m", "1Gi")],
            "nodeSelector": {"pool": "blue", "kubernetes.io/os": "linux"},
            "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}, {"operator": "Exists"}],
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                        ]
                    }
                }
            },
        },
    }
    assert PodNeeds.from_pod(Pod.parse(pod)) == PodNeeds(
        "shop/web-1",
        Decimal("0.5"),
        Decimal(Gi),
        (("kubernetes.io/os", "linux"), ("pool", "blue")),
        ((Requirement("zone", "In", ("a",)),),),
        (Toleration("dedicated", "Exists", "", "NoSchedule"), Toleration("", "Exists")),
    )


def test_a_pod_without_a_spec_needs_nothing():
    assert PodNeeds.from_pod(Pod.parse({"metadata": {"namespace": "a", "name": "p"}})) == PodNeeds("a/p")


NODE_N1 = {
    "metadata": {"name": "n1", "labels": {"pool": "blue"}},
    "spec": {"unschedulable": True, "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]},
    "status": {
        "allocatable": {"cpu": "3920m", "memory": "16393832Ki", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True"}],
    },
}


def pod_on(node: str, name: str, cpu: str = "0", memory: str = "0", phase: str = "Running") -> Pod:
    return Pod.parse(
        {
            "metadata": {"namespace": "a", "name": name},
            "spec": {"nodeName": node, "containers": [container(cpu, memory)]},
            "status": {"phase": phase},
        }
    )


def test_node_room_from_a_node_and_its_pods():
    pods = [
        pod_on("n1", "x", "500m", "1Gi"),
        pod_on("n1", "y", "1"),
        pod_on("n1", "done", "2", "2Gi", phase="Succeeded"),  # finished pods hold no room
        pod_on("n2", "elsewhere", "3"),
    ]
    room = NodeRoom.from_node(Node.parse(NODE_N1), pods)
    assert room == NodeRoom(
        "n1",
        cpu_allocatable=Decimal("3.92"),
        memory_allocatable=Decimal(16393832 * 1024),
        cpu_requested=Decimal("1.5"),
        memory_requested=Decimal(Gi),
        pods_allocatable=110,
        pods=2,
        taints=(DEDICATED,),
        unschedulable=True,
        ready=True,
    )
    assert room.labels == {"pool": "blue"}
    assert room.cpu_free == Decimal("2.42")
    assert NodeRoom.from_node(Node.parse({"metadata": {"name": "bare"}})) == NodeRoom("bare", ready=False)


def test_node_rooms_group_the_clusters_pods_by_node():
    n2 = {**NODE_N1, "metadata": {"name": "n2"}}
    pods = [pod_on("n1", "x", "1"), pod_on("n2", "y", "2"), pod_on("n2", "z", "250m"), pod_on("", "pending", "8")]
    rooms = node_rooms([Node.parse(NODE_N1), Node.parse(n2)], pods)
    assert [(room.name, room.cpu_requested, room.pods) for room in rooms] == [
        ("n1", Decimal(1), 1),
        ("n2", Decimal("2.25"), 2),
    ]


# ---- fitting a batch ------------------------------------------------------------------------------------------------


def node(name: str, cpu: str = "4", memory: int = 16 * Gi, **kwargs) -> NodeRoom:
    return NodeRoom(name, cpu_allocatable=Decimal(cpu), memory_allocatable=Decimal(memory), **kwargs)


def pod(key: str, cpu: str = "1", memory: int = Gi, **kwargs) -> PodNeeds:
    return PodNeeds(key, parse_quantity(cpu), Decimal(memory), **kwargs)


BLUE = {"pool": "blue"}


@pytest.mark.parametrize(
    ("batch", "evicted", "nodes", "unavailable", "words", "pending"),
    [
        # Two 1-CPU pods from n1 fit on n2's 4 free cores.
        (("n1",), {"n1": [pod("a/1"), pod("a/2")]}, [node("n1"), node("n2")], (), "fits", ()),
        # Nothing evicted: nothing to place.
        (("n1",), {}, [node("n1")], (), "fits", ()),
        # The batch's own nodes are not candidates.
        (
            ("n1", "n2"),
            {"n1": [pod("a/1")], "n2": [pod("a/2")]},
            [node("n1"), node("n2")],
            (),
            "2 pods (2 CPU, 2Gi memory) would stay Pending",
            ("a/1", "a/2"),
        ),
        # Cordoned and unavailable nodes are not candidates.
        (
            ("n1",),
            {"n1": [pod("a/1")]},
            [node("n1"), node("n2", unschedulable=True)],
            (),
            "1 pod (1 CPU, 1Gi memory) would stay Pending",
            ("a/1",),
        ),
        (
            ("n1",),
            {"n1": [pod("a/1")]},
            [node("n1"), node("n2")],
            ("n2",),
            "1 pod (1 CPU, 1Gi memory) would stay Pending",
            ("a/1",),
        ),
        # Free room is allocatable minus what the pods there already request.
        (
            ("n1",),
            {"n1": [pod("a/1", "500m", 512 * Mi), pod("a/2", "500m", 512 * Mi)]},
            [node("n1"), node("n2", cpu_requested=Decimal("3.5"))],
            (),
            "1 pod (500m CPU, 512Mi memory) would stay Pending",
            ("a/2",),
        ),
        # Memory is checked as well as CPU.
        (
            ("n1",),
            {"n1": [pod("a/1", "100m", 8 * Gi)]},
            [node("n1"), node("n2", memory_requested=Decimal(10 * Gi))],
            (),
            "1 pod (100m CPU, 8Gi memory) would stay Pending",
            ("a/1",),
        ),
        # First-fit decreasing: the big pod is placed first, so 3+1 and 2+2 fill two 4-core nodes exactly (in the
        # order listed, 1+2 would take n2 and the second 2 would find no room).
        (
            ("n1",),
            {"n1": [pod("a/small1", "1"), pod("a/mid1", "2"), pod("a/big", "3"), pod("a/mid2", "2")]},
            [node("n1", "8"), node("n2"), node("n3")],
            (),
            "fits",
            (),
        ),
        # nodeSelector: only the blue node may take it, and it is full.
        (
            ("n1",),
            {"n1": [pod("a/1", node_selector=(("pool", "blue"),))]},
            [node("n1"), node("n2", labels=BLUE, cpu_requested=Decimal(4)), node("n3")],
            (),
            "1 pod (1 CPU, 1Gi memory) would stay Pending",
            ("a/1",),
        ),
        (
            ("n1",),
            {"n1": [pod("a/1", node_selector=(("pool", "blue"),))]},
            [node("n1"), node("n2"), node("n3", labels=BLUE)],
            (),
            "fits",
            (),
        ),
        # Taints: a toleration is needed.
        (
            ("n1",),
            {"n1": [pod("a/1")]},
            [node("n1"), node("n2", taints=(DEDICATED,))],
            (),
            "1 pod (1 CPU, 1Gi memory) would stay Pending",
            ("a/1",),
        ),
        (
            ("n1",),
            {"n1": [pod("a/1", tolerations=TOLERATES_GPU)]},
            [node("n1"), node("n2", taints=(DEDICATED,))],
            (),
            "fits",
            (),
        ),
        # Required node affinity.
        (
            ("n1",),
            {"n1": [pod("a/1", node_affinity=((Requirement("zone", "In", ("b",)),),))]},
            [node("n1"), node("n2", labels={"zone": "a"}), node("n3", labels={"zone": "b"})],
            (),
            "fits",
            (),
        ),
        # The node's pod limit counts too.
        (
            ("n1",),
            {"n1": [pod("a/1", "0", 0), pod("a/2", "0", 0)]},
            [node("n1"), node("n2", pods_allocatable=3, pods=2)],
            (),
            "1 pod (0 CPU, 0 memory) would stay Pending",
            ("a/2",),
        ),
        # Not Ready nodes are not candidates.
        (
            ("n1",),
            {"n1": [pod("a/1")]},
            [node("n1"), node("n2", ready=False)],
            (),
            "1 pod (1 CPU, 1Gi memory) would stay Pending",
            ("a/1",),
        ),
    ],
)
def test_the_pods_of_a_batch_fit_or_stay_pending(batch, evicted, nodes, unavailable, words, pending):
    fit = fit_batch(batch, evicted, nodes, unavailable=unavailable)
    assert fit.words() == words
    assert tuple(p.key for p in fit.pending) == pending
    assert fit.fits is (not pending)


def test_a_fit_says_where_pods_land_and_which_could_land_nowhere():
    fit = fit_batch(
        ("n1",),
        {"n1": [pod("a/web", "2"), pod("a/gpu", "1", node_selector=(("pool", "gpu"),))]},
        [node("n1"), node("n2"), node("n3")],
    )
    assert fit.placed == (("a/web", "n2"),)
    assert fit.no_candidate == ("a/gpu",)


# Four nodes with 4 cores each, each running 2 cores of pods to evict: one node's pods fit anywhere, two nodes' pods
# (4 cores) fit on the other two's 4 free cores, three nodes' pods (6 cores) do not fit on the last one's 2.
FOUR = [node(f"n{i}", cpu_requested=Decimal(2)) for i in range(1, 5)]
TWO_EACH = {f"n{i}": [pod(f"a/{i}-1"), pod(f"a/{i}-2")] for i in range(1, 5)}


@pytest.mark.parametrize(
    ("nodes", "evicted", "unavailable", "up_to", "largest"),
    [
        (FOUR, TWO_EACH, (), None, 2),
        (FOUR, TWO_EACH, (), 1, 1),
        (FOUR, {}, (), None, 4),  # nothing to move: any concurrency fits
        (FOUR, TWO_EACH, ("n3", "n4"), None, 1),  # one at a time, n1 and n2 take each other's pods; two: nowhere
        ([node("n1", cpu_requested=Decimal(2)), node("n2", cpu_requested=Decimal(4))], TWO_EACH, (), None, 0),
    ],
)
def test_the_largest_concurrency_that_fits(nodes, evicted, unavailable, up_to, largest):
    ordered = [n.name for n in nodes]
    assert largest_concurrency(ordered, evicted, nodes, unavailable=unavailable, up_to=up_to) == largest


@pytest.mark.parametrize(
    ("size", "words"),
    [
        (1, "fits"),
        (2, "fits"),
        (3, "n1, n2, n3: 4 pods (4 CPU, 4Gi memory) would stay Pending; at most 2 nodes at a time fit"),
        (4, "n1, n2, n3, n4: 8 pods (8 CPU, 8Gi memory) would stay Pending; at most 2 nodes at a time fit"),
    ],
)
def test_the_capacity_plan_in_words(size, words):
    plan = capacity_plan(["n1", "n2", "n3", "n4"], size, TWO_EACH, FOUR)
    assert plan.words() == words
    assert plan.largest == 2
    assert plan.fits is (words == "fits")


def test_the_capacity_plan_when_not_one_node_fits():
    nodes = [node("n1", cpu_requested=Decimal(2)), node("n2", cpu_requested=Decimal(4))]
    plan = capacity_plan(["n1", "n2"], 1, TWO_EACH, nodes)
    assert plan.words() == "n1: 2 pods (2 CPU, 2Gi memory) would stay Pending; not even one node at a time fits"


# ---- from a cluster read over HTTPS ---------------------------------------------------------------------------------


def test_the_pools_scenario_read_through_kube_does_not_fit_two_blue_nodes_at_a_time():
    from clusters import kube
    from clusters.models import Credentials
    from kubesim import Simulator

    with Simulator(scenario="pools") as sim:
        endpoint = kube.Endpoint(sim.url, sim.ca_pem, Credentials(token=sim.token))
        blue = sorted(node.name for node in kube.list_nodes(endpoint, "cloud.google.com/gke-nodepool=blue"))
        nodes, pods = kube.list_nodes(endpoint), kube.list_pods(endpoint)
    rooms = node_rooms(nodes, pods)
    # What a drain evicts: not DaemonSet pods (nor mirror pods, of which the blue nodes have none).
    evicted = {
        name: [
            PodNeeds.from_pod(pod)
            for pod in pods
            if pod.node == name and not pod.mirror and (pod.controller is None or pod.controller.kind != "DaemonSet")
        ]
        for name in blue
    }
    assert blue == ["blue-1", "blue-2", "blue-3", "blue-4"]
    assert {room.name: room.cpu_free for room in rooms if room.name in blue} == dict.fromkeys(blue, Decimal(1))
    assert next(room for room in rooms if room.name == "cp-1").taints == (
        Taint("node-role.kubernetes.io/control-plane", "", "NoSchedule"),
    )
    assert capacity_plan(blue, 1, evicted, rooms).words() == "fits"
    assert capacity_plan(blue, 2, evicted, rooms).words() == (
        "blue-1, blue-2: 4 pods (4 CPU, 6Gi memory) would stay Pending; at most 1 node at a time fit"
    )
