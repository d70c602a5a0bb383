"""Which nodes a rollout drains: kubectl's `-l` node selector and/or names, and the node pools offered as a picker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from clusters.kubetypes import LabelSelector
from evictions.planning import parse_selector

# The label each managed node-pool flavour puts on its nodes, most specific first: a node carrying two of them (AKS
# sets both of its labels) is counted in the first one's pool only, so the picker shows each pool once.
POOL_LABELS: tuple[tuple[str, str], ...] = (
    ("cloud.google.com/gke-nodepool", "GKE node pool"),
    ("eks.amazonaws.com/nodegroup", "EKS node group"),
    ("kubernetes.azure.com/agentpool", "AKS agent pool"),
    ("agentpool", "AKS agent pool"),
    ("karpenter.sh/nodepool", "Karpenter node pool"),
    ("karpenter.sh/provisioner-name", "Karpenter provisioner"),
    ("kops.k8s.io/instancegroup", "kOps instance group"),
)


@dataclass(frozen=True)
class Selection:
    """The nodes chosen, in the order the rollout lists them, or an error in words (then `nodes` is empty)."""

    nodes: tuple[str, ...] = ()
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True)
class Pool:
    label: str
    value: str
    nodes: int
    kind: str  # "GKE node pool", …

    @property
    def selector(self) -> str:
        """The node selector that picks this pool, in kubectl's syntax."""
        return f"{self.label}={self.value}"


def parse_node_selector(text: str) -> LabelSelector:
    """A node selector in kubectl's `-l` syntax; raises ValueError naming the selector and what is wrong with it."""
    try:
        # One parser for pods and nodes: the engine's, so both accept and refuse the same text.
        return parse_selector(text)
    except ValueError as error:
        raise ValueError(f"invalid node selector {text!r}: {error}") from error


def select_nodes(
    labels_by_node: Mapping[str, Mapping[str, str]], *, selector: str = "", names: Sequence[str] = ()
) -> Selection:
    """The union of the nodes named and the nodes the selector matches: names first as given, then matches by name."""
    wanted = [name.strip() for name in names if name.strip()]
    if not selector.strip() and not wanted:
        return Selection(error="name the nodes, or give a node selector, or both")
    unknown = sorted({name for name in wanted if name not in labels_by_node})
    if unknown:
        return Selection(error=f"no such node{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
    chosen = list(dict.fromkeys(wanted))  # a name given twice is drained once
    if selector.strip():
        try:
            parsed = parse_node_selector(selector)
        except ValueError as error:
            return Selection(error=str(error))
        matched = sorted(name for name, labels in labels_by_node.items() if parsed.matches(dict(labels)))
        if not matched and not chosen:
            return Selection(error=f"no node matches the selector {selector.strip()!r}")
        chosen.extend(name for name in matched if name not in chosen)
    return Selection(tuple(chosen))


def pool_of(labels: Mapping[str, str]) -> tuple[str, str] | None:
    """The (label, value) of the node pool a node belongs to, or None when it carries no known pool label."""
    for label, _ in POOL_LABELS:
        if labels.get(label):
            return label, labels[label]
    return None


def pools(labels_by_node: Mapping[str, Mapping[str, str]]) -> list[Pool]:
    """The node pools found on these nodes, with their node counts, sorted by label and value: the picker's rows."""
    kinds = dict(POOL_LABELS)
    counts: dict[tuple[str, str], int] = {}
    for labels in labels_by_node.values():
        found = pool_of(labels)
        if found is not None:
            counts[found] = counts.get(found, 0) + 1
    return [Pool(label, value, count, kinds[label]) for (label, value), count in sorted(counts.items())]
