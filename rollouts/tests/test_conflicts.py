"""Budget conflicts across the nodes of a batch, as a table."""

from __future__ import annotations

import pytest

from clusters.kubetypes import LabelSelector, Pdb, Pod
from rollouts.conflicts import Conflict, budget_conflicts


def pod(name: str, node: str, app: str, namespace: str = "shop") -> Pod:
    return Pod(namespace, name, f"uid-{name}", node, "Running", True, None, labels={"app": app})


def pdb(name: str, app: str, allowed: int = 1, namespace: str = "shop") -> Pdb:
    return Pdb(namespace, name, f"uid-{name}", LabelSelector((("app", app),)), "2", None, allowed, 3, 2, 3, 1, 1)


PODS = {
    "n1": [pod("web-1", "n1", "web"), pod("db-1", "n1", "db")],
    "n2": [pod("web-2", "n2", "web"), pod("db-2", "n2", "db")],
    "n3": [pod("web-3", "n3", "web"), pod("cache-1", "n3", "cache")],
    "n4": [pod("cache-2", "n4", "cache"), pod("other-1", "n4", "web", namespace="other")],
}


@pytest.mark.parametrize(
    ("batches", "pdbs", "conflicts"),
    [
        # one node per batch: never a conflict across nodes
        ([("n1",), ("n2",), ("n3",), ("n4",)], [pdb("web", "web"), pdb("db", "db")], []),
        # web's pods on n1 and n2 of batch 1, with room for one: a conflict; db likewise
        (
            [("n1", "n2"), ("n3", "n4")],
            [pdb("web", "web"), pdb("db", "db")],
            [Conflict("shop/db", 1, ("n1", "n2"), 2, 1), Conflict("shop/web", 1, ("n1", "n2"), 2, 1)],
        ),
        # a budget with room for every pod of the batch is no conflict
        ([("n1", "n2")], [pdb("web", "web", allowed=2)], []),
        # a budget allowing none is a conflict too (the batch waits on it entirely)
        ([("n1", "n2", "n3")], [pdb("web", "web", allowed=0)], [Conflict("shop/web", 1, ("n1", "n2", "n3"), 3, 0)]),
        # the second batch: cache on n3 and n4; the pod in namespace "other" is not the shop budget's
        (
            [("n1", "n2"), ("n3", "n4")],
            [pdb("cache", "cache"), pdb("web", "web", allowed=2)],
            [Conflict("shop/cache", 2, ("n3", "n4"), 2, 1)],
        ),
        ([("n3", "n4")], [pdb("web", "web")], []),
        # nodes without pods and nodes not in the map are fine
        ([("n1", "n9")], [pdb("web", "web")], []),
        ([], [pdb("web", "web")], []),
    ],
)
def test_budgets_shared_by_nodes_of_one_batch_are_named(batches, pdbs, conflicts):
    assert budget_conflicts(batches, PODS, pdbs) == conflicts


def test_a_conflict_in_words():
    conflict = Conflict("shop/web", 1, ("n1", "n2"), 2, 1)
    assert conflict.words() == (
        "shop/web selects 2 pods on n1, n2 (batch 1) and allows 1 disruption: these nodes will drain one after another"
    )
