"""Whether the pods evicted from a batch of nodes fit on the nodes left schedulable: requests against free room."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from clusters.kubetypes import LabelSelector, Requirement
from rollouts.batching import batches

ZERO = Decimal(0)
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(\d+\.?\d*|\.\d+))(?P<suffix>[eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"
)
_SUFFIXES = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
# Only these effects keep a pod off a node; PreferNoSchedule is a preference the scheduler may ignore when full.
BLOCKING_EFFECTS = frozenset({"NoSchedule", "NoExecute"})


def parse_quantity(text: str) -> Decimal:
    """A Kubernetes quantity ("100m", "0.5", "128Mi", "1Gi", "1G", "500k", "1e3") as a number; ValueError if not."""
    match = _QUANTITY.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    suffix = match["suffix"] or ""
    try:
        number = Decimal(match["number"])
        if suffix[:1] in ("e", "E") and len(suffix) > 1:
            return number.scaleb(int(suffix[1:]))
        return number * _SUFFIXES[suffix]
    except (InvalidOperation, OverflowError) as error:
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from error


def cpu_words(cores: Decimal) -> str:
    """CPU as people read it: "250m" below one core, else cores ("1.5")."""
    if ZERO < cores < 1:
        return f"{(cores * 1000).quantize(Decimal(1)):f}m"
    return _short(cores)


def memory_words(size: Decimal) -> str:
    """Bytes in the largest binary unit that keeps a number ≥ 1 ("1.5Gi", "512Mi", "100")."""
    for unit in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        if size >= _SUFFIXES[unit]:
            return f"{_short(size / _SUFFIXES[unit])}{unit}"
    return _short(size)


def _short(number: Decimal) -> str:
    text = f"{number.quantize(Decimal('0.1')):f}"
    return text[:-2] if text.endswith(".0") else text


# ---- what a pod needs and what a node offers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Taint:
    key: str
    value: str = ""
    effect: str = "NoSchedule"


@dataclass(frozen=True)
class Toleration:
    key: str = ""  # empty with Exists: tolerates every taint
    operator: str = "Equal"  # or "Exists"
    value: str = ""
    effect: str = ""  # empty: every effect

    def tolerates(self, taint: Taint) -> bool:
        """Kubernetes' rule (k8s.io/api/core/v1 Toleration.ToleratesTaint)."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        return self.operator in ("Equal", "") and bool(self.key) and self.value == taint.value


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
    def parse(cls, data: dict[str, Any]) -> PodNeeds:
        """From a pod object as the API server returns it."""
        meta, spec = _dict(data.get("metadata")), _dict(data.get("spec"))
        cpu, memory = pod_requests(spec)
        required = _dict(_dict(_dict(spec.get("affinity")).get("nodeAffinity")).get(_REQUIRED))
        affinity = None
        # matchFields (metadata.name) pins DaemonSet pods, which drains skip; such a term is not modelled, so the
        # pod is placed as if it had no required affinity rather than reported Pending for no reason.
        terms = [_dict(term) for term in _list(required.get("nodeSelectorTerms"))]
        if terms and not any(term.get("matchFields") for term in terms):
            affinity = tuple(
                tuple(
                    Requirement(
                        str(e.get("key", "")), str(e.get("operator", "")), tuple(map(str, _list(e.get("values"))))
                    )
                    for e in _list(term.get("matchExpressions"))
                    if isinstance(e, dict)
                )
                for term in terms
            )
        tolerations = tuple(
            Toleration(
                str(t.get("key") or ""),
                str(t.get("operator") or "Equal"),
                str(t.get("value") or ""),
                str(t.get("effect") or ""),
            )
            for t in _list(spec.get("tolerations"))
            if isinstance(t, dict)
        )
        return cls(
            key=f"{meta.get('namespace', '')}/{meta.get('name', '')}",
            cpu=cpu,
            memory=memory,
            node_selector=tuple(sorted((str(k), str(v)) for k, v in _dict(spec.get("nodeSelector")).items())),
            node_affinity=affinity,
            tolerations=tolerations,
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
    def parse(cls, data: dict[str, Any], pods_on_it: Sequence[PodNeeds] = ()) -> NodeRoom:
        """From a node object as the API server returns it and the (non-finished) pods already bound to it."""
        meta, spec, status = _dict(data.get("metadata")), _dict(data.get("spec")), _dict(data.get("status"))
        allocatable = _dict(status.get("allocatable"))

        def quantity(name: str) -> Decimal:
            try:
                return parse_quantity(str(allocatable.get(name, "0")))
            except ValueError:
                return ZERO  # a node whose room cannot be read offers none, rather than failing the whole plan

        pods_allocatable = quantity("pods") if "pods" in allocatable else None
        return cls(
            name=str(meta.get("name", "")),
            labels={str(k): str(v) for k, v in _dict(meta.get("labels")).items()},
            cpu_allocatable=quantity("cpu"),
            memory_allocatable=quantity("memory"),
            cpu_requested=sum((pod.cpu for pod in pods_on_it), ZERO),
            memory_requested=sum((pod.memory for pod in pods_on_it), ZERO),
            pods_allocatable=int(pods_allocatable) if pods_allocatable is not None else None,
            pods=len(pods_on_it),
            taints=tuple(
                Taint(str(t.get("key", "")), str(t.get("value") or ""), str(t.get("effect", "")))
                for t in _list(spec.get("taints"))
                if isinstance(t, dict)
            ),
            unschedulable=bool(spec.get("unschedulable")),
            ready=any(
                isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True"
                for c in _list(status.get("conditions"))
            ),
        )


_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _requests(container: Any) -> tuple[Decimal, Decimal]:
    requests = _dict(_dict(_dict(container).get("resources")).get("requests"))
    return parse_quantity(str(requests.get("cpu", "0"))), parse_quantity(str(requests.get("memory", "0")))


def pod_requests(spec: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """The CPU and memory the scheduler reserves for a pod: containers, init containers and sidecars, overhead.

    An init container runs alone before the app containers (beside the sidecars started before it), so a pod
    reserves the larger of its containers' sum and its biggest init step (KEP-753 for sidecars).
    """
    cpu, memory = ZERO, ZERO
    sidecar_cpu, sidecar_memory = ZERO, ZERO
    init_cpu, init_memory = ZERO, ZERO
    for container in _list(spec.get("initContainers")):
        c, m = _requests(container)
        if _dict(container).get("restartPolicy") == "Always":  # a sidecar keeps running beside the app
            sidecar_cpu, sidecar_memory = sidecar_cpu + c, sidecar_memory + m
        else:
            init_cpu, init_memory = max(init_cpu, sidecar_cpu + c), max(init_memory, sidecar_memory + m)
    for container in _list(spec.get("containers")):
        c, m = _requests(container)
        cpu, memory = cpu + c, memory + m
    overhead = _dict(spec.get("overhead"))
    cpu = max(cpu + sidecar_cpu, init_cpu) + parse_quantity(str(overhead.get("cpu", "0")))
    memory = max(memory + sidecar_memory, init_memory) + parse_quantity(str(overhead.get("memory", "0")))
    return cpu, memory


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
