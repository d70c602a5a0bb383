"""Choosing a rollout's nodes (selector, names, both) and the node-pool picker, as tables."""

from __future__ import annotations

import pytest

from rollouts.selection import Pool, parse_node_selector, pool_of, pools, select_nodes

GKE = "cloud.google.com/gke-nodepool"
CONTROL = "node-role.kubernetes.io/control-plane"
NODES: dict[str, dict[str, str]] = {
    "cp-1": {"kubernetes.io/os": "linux", CONTROL: ""},
    "blue-2": {"kubernetes.io/os": "linux", GKE: "blue", "zone": "b"},
    "blue-1": {"kubernetes.io/os": "linux", GKE: "blue", "zone": "a"},
    "green-1": {"kubernetes.io/os": "linux", GKE: "green", "zone": "a"},
    "win-1": {"kubernetes.io/os": "windows", GKE: "win", "zone": "c"},
}


@pytest.mark.parametrize(
    ("selector", "names", "nodes"),
    [
        (f"{GKE}=blue", (), ("blue-1", "blue-2")),
        (f"{GKE}==blue", (), ("blue-1", "blue-2")),
        (f"{GKE}!=blue", (), ("cp-1", "green-1", "win-1")),  # != also selects nodes without the label
        (GKE, (), ("blue-1", "blue-2", "green-1", "win-1")),
        (f"!{GKE}", (), ("cp-1",)),
        (f"kubernetes.io/os=linux,!{CONTROL}", (), ("blue-1", "blue-2", "green-1")),
        ("zone in (a, c)", (), ("blue-1", "green-1", "win-1")),
        ("zone notin (a)", (), ("blue-2", "cp-1", "win-1")),
        (f"{GKE} in (blue,green),zone=a", (), ("blue-1", "green-1")),
        ("", ("win-1", "cp-1"), ("win-1", "cp-1")),  # names keep the order given
        ("", ("win-1", " win-1 ", "cp-1"), ("win-1", "cp-1")),  # a name given twice is drained once
        (f"{GKE}=blue", ("win-1", "blue-2"), ("win-1", "blue-2", "blue-1")),  # union: names first, then matches
        (f"{GKE}=nope", ("win-1",), ("win-1",)),  # a selector matching nothing is fine beside names
    ],
)
def test_nodes_are_chosen_by_selector_and_names(selector, names, nodes):
    selection = select_nodes(NODES, selector=selector, names=names)
    assert selection.ok, selection.error
    assert selection.nodes == nodes


@pytest.mark.parametrize(
    ("selector", "names", "error"),
    [
        ("", (), "name the nodes, or give a node selector, or both"),
        ("  ", ("", " "), "name the nodes, or give a node selector, or both"),
        ("", ("blue-1", "red-9"), "no such node: red-9"),
        (f"{GKE}=blue", ("red-9", "gone-1", "red-9"), "no such nodes: gone-1, red-9"),
        (f"{GKE}=nope", (), f"no node matches the selector '{GKE}=nope'"),
        ("zone in (a", (), "invalid node selector 'zone in (a': unbalanced parentheses"),
        ("zone=a,", (), "invalid node selector 'zone=a,': empty term"),
        ("zone=a b", (), "invalid node selector 'zone=a b': 'a b' is not a valid label value"),
        ("-zone=a", (), "invalid node selector '-zone=a': '-zone' is not a valid label key"),
    ],
)
def test_bad_choices_are_refused_in_words(selector, names, error):
    selection = select_nodes(NODES, selector=selector, names=names)
    assert not selection.ok
    assert selection.nodes == ()
    assert selection.error == error


def test_the_node_selector_parser_names_the_selector():
    with pytest.raises(ValueError, match="invalid node selector 'a in b'"):
        parse_node_selector("a in b")


@pytest.mark.parametrize(
    ("labels", "pool"),
    [
        ({GKE: "blue"}, (GKE, "blue")),
        ({"eks.amazonaws.com/nodegroup": "ng-1"}, ("eks.amazonaws.com/nodegroup", "ng-1")),
        (
            {"kubernetes.azure.com/agentpool": "sys", "agentpool": "sys"},  # AKS sets both: counted once
            ("kubernetes.azure.com/agentpool", "sys"),
        ),
        ({"agentpool": "user1"}, ("agentpool", "user1")),
        ({"karpenter.sh/nodepool": "default"}, ("karpenter.sh/nodepool", "default")),
        ({"karpenter.sh/provisioner-name": "old"}, ("karpenter.sh/provisioner-name", "old")),
        ({"kops.k8s.io/instancegroup": "nodes-a"}, ("kops.k8s.io/instancegroup", "nodes-a")),
        ({GKE: ""}, None),  # an empty value names no pool
        ({"kubernetes.io/os": "linux"}, None),
        ({}, None),
    ],
)
def test_pool_labels_are_recognised(labels, pool):
    assert pool_of(labels) == pool


def test_pools_are_counted_and_sorted_for_the_picker():
    nodes = {
        **NODES,
        "aks-1": {"kubernetes.azure.com/agentpool": "sys", "agentpool": "sys"},
        "aks-2": {"kubernetes.azure.com/agentpool": "sys", "agentpool": "sys"},
        "karp-1": {"karpenter.sh/nodepool": "spot"},
    }
    assert pools(nodes) == [
        Pool(GKE, "blue", 2, "GKE node pool"),
        Pool(GKE, "green", 1, "GKE node pool"),
        Pool(GKE, "win", 1, "GKE node pool"),
        Pool("karpenter.sh/nodepool", "spot", 1, "Karpenter node pool"),
        Pool("kubernetes.azure.com/agentpool", "sys", 2, "AKS agent pool"),
    ]


def test_a_pools_selector_chooses_its_nodes():
    blue = next(pool for pool in pools(NODES) if pool.value == "blue")
    assert blue.selector == f"{GKE}=blue"
    assert select_nodes(NODES, selector=blue.selector).nodes == ("blue-1", "blue-2")


def test_no_pool_labels_no_pools():
    assert pools({"a": {}, "b": {"kubernetes.io/os": "linux"}}) == []
