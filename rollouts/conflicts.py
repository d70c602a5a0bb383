"""Budget conflicts: a PodDisruptionBudget whose pods sit on several nodes of one batch, so the batch serialises."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from clusters.kubetypes import Pdb, Pod


@dataclass(frozen=True)
class Conflict:
    pdb: str  # namespace/name
    batch: int  # 1-based, as the plan shows batches
    nodes: tuple[str, ...]  # the batch's nodes with pods the budget selects, in batch order
    pods: int  # how many of the batch's pods it selects
    disruptions_allowed: int

    def words(self) -> str:
        allowed = f"{self.disruptions_allowed} disruption{'' if self.disruptions_allowed == 1 else 's'}"
        return (
            f"{self.pdb} selects {self.pods} pods on {', '.join(self.nodes)} (batch {self.batch}) and allows "
            f"{allowed}: these nodes will drain one after another"
        )


def budget_conflicts(
    batches: Sequence[Sequence[str]], pods_by_node: Mapping[str, Sequence[Pod]], pdbs: Sequence[Pdb]
) -> list[Conflict]:
    """Each budget that several nodes of one batch need more of than it allows now, per batch, in plan order.

    `pods_by_node` holds the pods the drains will evict. A budget with pods on one node only is that node's own
    plan's business (its preflight says "will wait"); a budget with room for all of the batch's pods is no conflict.
    """
    conflicts: list[Conflict] = []
    for number, batch in enumerate(batches, start=1):
        for pdb in sorted(pdbs, key=lambda p: p.key):
            counts = {node: sum(1 for pod in pods_by_node.get(node, ()) if pdb.selects(pod)) for node in batch}
            nodes = tuple(node for node in batch if counts[node])
            pods = sum(counts.values())
            if len(nodes) > 1 and pods > pdb.disruptions_allowed:
                conflicts.append(Conflict(pdb.key, number, nodes, pods, pdb.disruptions_allowed))
    return conflicts
