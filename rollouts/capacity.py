"""Whether the pods evicted from a batch of nodes fit on the nodes left schedulable: requests against free room."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from clusters.kubetypes import ZERO, LabelSelector, Node, Pod, Requirement, Taint, Toleration
from rollouts.batching import batches

# Only these effects keep a pod off a node; PreferNoSchedule is a preference the scheduler may ignore when full.
BLOCKING_EFFECTS = frozenset({"NoSchedule", "NoExecute"})
_BINARY = (("Ei", 60), ("Pi", 50), ("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10))


def cpu_words(cores: Decimal) -> str:
    """CPU as people read it: "250m" below one core, else cores ("1.5")."""
    if ZERO < cores < 1:
        return f"{(cores * 1000).quantize(Decimal(1)):f}m"
    return _short(cores)


def memory_words(size: Decimal) -> str:
    """Bytes in the largest binary unit that keeps a number ≥ 1 ("1.5Gi", "512Mi", "100")."""
    for unit, power in _BINARY:
        if size >= 2**power:
            return f"{_short(size / 2**power)}{unit}"
    return _short(size)


def _short(number: Decimal) -> str:
    text = f"{number.quantize(Decimal('0.1')):f}"
    return text[:-2] if text.endswith(".0") else text


# ---- what a pod needs and what a node offers ------------------------------------------------------------------------


@dataclass(frozen=True)
class PodNeeds:
    """What the scheduler needs to place one evicted pod again (the controller's replacement asks the same)."""

    key: str  # namespace/name
    cpu: Decimal = ZERO  # cores
    memory: Decimal = ZERO  # bytes
    node_selector: tuple[tuple[str, str], ...] = ()
    # requiredDuringSchedulingIgnoredDuringExecution: terms ORed, a term's expressions ANDed; None: no affinity.
    node_affinity: tuple[tuple[Requirement, ...], ...] | None = None
    tolerations: tuple[Toleration, ...] = ()

    @classmethod
    def from_pod(cls, pod: Pod) -> PodNeeds:
        """From a pod as kube.py reads it."""
        scheduling = pod.scheduling
        return cls(
            key=pod.key,
            cpu=scheduling.cpu,
            memory=scheduling.memory,
            node_selector=scheduling.node_selector,
            node_affinity=scheduling.node_affinity,
            tolerations=scheduling.tolerations,
        )


@dataclass(frozen=True)
class NodeRoom:
    """A node as a place for pods: what it offers, what its pods already take, and whether new pods may land."""

    name: str
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    cpu_allocatable: Decimal = ZERO
    memory_allocatable: Decimal = ZERO
    cpu_requested: Decimal = ZERO  # by the pods already on it
    memory_requested: Decimal = ZERO
    pods_allocatable: int | None = None  # None: no pod limit known
    pods: int = 0
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False  # cordoned
    ready: bool = True

    @property
    def cpu_free(self) -> Decimal:
        return self.cpu_allocatable - self.cpu_requested

    @property
    def memory_free(self) -> Decimal:
        return self.memory_allocatable - self.memory_requested

    @classmethod
    def from_node(cls, node: Node, pods: Iterable[Pod] = ()) -> NodeRoom:
        """From a node as kube.py reads it and pods of the cluster: those bound to it and not finished take room."""
        needs = [PodNeeds.from_pod(pod) for pod in pods if pod.node == node.name and not pod.finished]
        return cls(
            name=node.name,
            labels=dict(node.labels),
            cpu_allocatable=node.cpu_allocatable,
            memory_allocatable=node.memory_allocatable,
            cpu_requested=sum((pod.cpu for pod in needs), ZERO),
            memory_requested=sum((pod.memory for pod in needs), ZERO),
            pods_allocatable=node.pods_allocatable,
            pods=len(needs),
            taints=node.taints,
            unschedulable=node.unschedulable,
            ready=node.ready,
        )


# ---- placing pods ---------------------------------------------------------------------------------------------------


def _term_matches(term: Sequence[Requirement], labels: dict[str, str]) -> bool:
    # An empty term matches nothing (Kubernetes' NodeSelectorTerm); Gt and Lt compare integers, unlike pod selectors.
    if not term:
        return False
    for req in term:
        if req.operator in ("Gt", "Lt"):
            try:
                have, want = int(labels[req.key]), int(req.values[0])
            except (KeyError, IndexError, ValueError):
                return False
            if (have <= want) if req.operator == "Gt" else (have >= want):
                return False
        elif not LabelSelector(match_expressions=(req,)).matches(labels):
            return False
    return True


def eligible(pod: PodNeeds, node: NodeRoom) -> str:
    """Why the scheduler would not place this pod on this node whatever its room ("" when it may)."""
    if node.unschedulable:
        return "cordoned"
    if not node.ready:
        return "not Ready"
    if any(node.labels.get(key) != value for key, value in pod.node_selector):
        return "nodeSelector"
    if pod.node_affinity is not None and not any(_term_matches(term, node.labels) for term in pod.node_affinity):
        return "node affinity"
    for taint in node.taints:
        if taint.effect in BLOCKING_EFFECTS and not any(t.tolerates(taint) for t in pod.tolerations):
            return f"taint {taint.key}{'=' + taint.value if taint.value else ''}:{taint.effect}"
    return ""


@dataclass(frozen=True)
class Fit:
    """Where the pods of a batch would go: the pods left Pending (none: it fits) and where the others land."""

    pending: tuple[PodNeeds, ...] = ()
    placed: tuple[tuple[str, str], ...] = ()  # (pod key, node)
    no_candidate: tuple[str, ...] = ()  # pending pods no node could ever take (selector, affinity, taints)

    @property
    def fits(self) -> bool:
        return not self.pending

    @property
    def cpu(self) -> Decimal:
        return sum((pod.cpu for pod in self.pending), ZERO)

    @property
    def memory(self) -> Decimal:
        return sum((pod.memory for pod in self.pending), ZERO)

    def words(self) -> str:
        if self.fits:
            return "fits"
        count = len(self.pending)
        return (
            f"{count} pod{'' if count == 1 else 's'} ({cpu_words(self.cpu)} CPU, {memory_words(self.memory)} memory) "
            "would stay Pending"
        )


def fit_batch(
    batch: Collection[str],
    evicted: Mapping[str, Sequence[PodNeeds]],
    nodes: Sequence[NodeRoom],
    *,
    unavailable: Collection[str] = (),
) -> Fit:
    """First-fit of the pods evicted from `batch` onto the other schedulable nodes (`unavailable` ones excluded too).

    Each batch is judged against the cluster as it is now: rescheduled pods of earlier batches and nodes that come
    back are not modelled, so the caller passes as `unavailable` what stays cordoned (e.g. cordon all at start).
    """
    out = set(batch) | set(unavailable)
    candidates = [node for node in nodes if node.name not in out]
    cpu = {node.name: node.cpu_free for node in candidates}
    memory = {node.name: node.memory_free for node in candidates}
    count = {node.name: node.pods for node in candidates}
    pods = [pod for name in batch for pod in evicted.get(name, ())]
    # Largest first: first-fit decreasing packs close to the best the scheduler could do, so a Pending warning is
    # about the cluster, not about the order this function happened to try.
    pods.sort(key=lambda pod: (-pod.cpu, -pod.memory, pod.key))
    pending: list[PodNeeds] = []
    placed: list[tuple[str, str]] = []
    no_candidate: list[str] = []
    for pod in pods:
        possible = [node for node in candidates if not eligible(pod, node)]
        if not possible:
            pending.append(pod)
            no_candidate.append(pod.key)
            continue
        for node in possible:
            name = node.name
            pods_full = node.pods_allocatable is not None and count[name] >= node.pods_allocatable
            if pod.cpu <= cpu[name] and pod.memory <= memory[name] and not pods_full:
                cpu[name], memory[name], count[name] = cpu[name] - pod.cpu, memory[name] - pod.memory, count[name] + 1
                placed.append((pod.key, node.name))
                break
        else:
            pending.append(pod)
    return Fit(tuple(pending), tuple(placed), tuple(no_candidate))


def largest_concurrency(
    ordered: Sequence[str],
    evicted: Mapping[str, Sequence[PodNeeds]],
    nodes: Sequence[NodeRoom],
    *,
    unavailable: Collection[str] = (),
    up_to: int | None = None,
) -> int:
    """The largest batch size k such that every batch of every size up to k fits (0: not even one node at a time)."""
    limit = len(ordered) if up_to is None else min(up_to, len(ordered))
    for size in range(1, limit + 1):
        # Stop at the first size that does not fit: a larger size that happens to fit by how the batches fall is
        # not a safe setting, as a retry or a skip shifts the batches.
        if not all(fit_batch(group, evicted, nodes, unavailable=unavailable).fits for group in batches(ordered, size)):
            return size - 1
    return limit


@dataclass(frozen=True)
class CapacityPlan:
    size: int  # the batch size planned (max_unavailable)
    batches: tuple[tuple[tuple[str, ...], Fit], ...]
    largest: int  # the largest concurrency that fits

    @property
    def fits(self) -> bool:
        return all(fit.fits for _, fit in self.batches)

    def words(self) -> str:
        """ "fits", or the first batch that does not and the concurrency that would."""
        if self.fits:
            return "fits"
        batch, fit = next((batch, fit) for batch, fit in self.batches if not fit.fits)
        advice = (
            f"at most {self.largest} node{'' if self.largest == 1 else 's'} at a time fit"
            if self.largest
            else "not even one node at a time fits"
        )
        return f"{', '.join(batch)}: {fit.words()}; {advice}"


def capacity_plan(
    ordered: Sequence[str],
    size: int,
    evicted: Mapping[str, Sequence[PodNeeds]],
    nodes: Sequence[NodeRoom],
    *,
    unavailable: Collection[str] = (),
) -> CapacityPlan:
    """The capacity check of a rollout's plan: each batch of `size` nodes in order, and the largest size that fits."""
    fits = tuple((group, fit_batch(group, evicted, nodes, unavailable=unavailable)) for group in batches(ordered, size))
    return CapacityPlan(size, fits, largest_concurrency(ordered, evicted, nodes, unavailable=unavailable))


def node_rooms(nodes: Iterable[Node], pods: Iterable[Pod]) -> list[NodeRoom]:
    """Every node as a NodeRoom, its pods found in one pass over the cluster's pods (not one pass per node)."""
    by_node: dict[str, list[Pod]] = {}
    for pod in pods:
        if pod.node:
            by_node.setdefault(pod.node, []).append(pod)
    return [NodeRoom.from_node(node, by_node.get(node.name, ())) for node in nodes]
