"""Why a budget has no room, in words: the unready pods behind it, and how long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clusters.kubetypes import LabelSelector, Pdb, Pod
from evictions.budgets import unready_behind

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def pod(name, *, ready=False, deleting=False, labels=None, namespace="shop", ago=None, node="node-2", phase="Running"):
    return Pod(
        namespace=namespace,
        name=name,
        uid=name,
        node=node,
        phase=phase,
        ready=ready,
        ready_since=NOW - timedelta(seconds=ago) if ago is not None else None,
        labels=labels if labels is not None else {"app": "web"},
        deleting=deleting,
    )


PDB = Pdb(
    namespace="shop",
    name="web-pdb",
    uid="u",
    selector=LabelSelector.parse({"matchLabels": {"app": "web"}}),
    min_available="2",
    max_unavailable=None,
    disruptions_allowed=0,
    current_healthy=2,
    desired_healthy=2,
    expected_pods=3,
    generation=1,
    observed_generation=1,
)


@pytest.mark.parametrize(
    ("pods", "lines"),
    [
        ([pod("web-1", ago=180)], ["web-1 on node-2: Running, not Ready for 3m"]),
        ([pod("web-1", ready=True, ago=180)], []),  # Ready: not the reason
        ([pod("web-1", deleting=True, ago=10)], []),  # going away: not counted
        ([pod("api-1", labels={"app": "api"}, ago=10)], []),  # another budget's pod
        ([pod("web-1", namespace="other", ago=10)], []),  # another namespace
        ([pod("web-1", node="", phase="Pending")], ["web-1 on no node: Pending, not Ready"]),  # no time known
    ],
    ids=["unready", "ready", "terminating", "not selected", "other namespace", "pending, no time"],
)
def test_unready_behind_names_the_pods_that_keep_the_budget_from_room(pods, lines):
    assert unready_behind(PDB, pods, NOW) == lines
