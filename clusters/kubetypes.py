"""Typed results of Kubernetes reads and writes: what kube.py returns instead of raw dicts. Pure parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

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
_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"


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


def _quantity_or_zero(value: Any) -> Decimal:
    # The API server validates quantities, so only a broken or hostile server sends junk: it counts as nothing
    # rather than failing a whole list of pods or nodes.
    try:
        return parse_quantity(str(value))
    except ValueError:
        return ZERO


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in _dict(value).items()}


@dataclass(frozen=True)
class Owner:
    kind: str
    name: str
    controller: bool


@dataclass(frozen=True)
class Taint:
    key: str
    value: str = ""
    effect: str = "NoSchedule"

    @classmethod
    def parse(cls, data: Any) -> Taint:
        data = _dict(data)
        return cls(str(data.get("key") or ""), str(data.get("value") or ""), str(data.get("effect") or ""))


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

    @classmethod
    def parse(cls, data: Any) -> Toleration:
        data = _dict(data)
        return cls(
            str(data.get("key") or ""),
            str(data.get("operator") or "Equal"),
            str(data.get("value") or ""),
            str(data.get("effect") or ""),
        )


def _requests(container: Any) -> tuple[Decimal, Decimal]:
    requests = _dict(_dict(_dict(container).get("resources")).get("requests"))
    return _quantity_or_zero(requests.get("cpu", "0")), _quantity_or_zero(requests.get("memory", "0"))


def pod_requests(spec: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """The CPU (cores) and memory (bytes) the scheduler reserves for a pod: containers, init containers, sidecars,
    overhead.

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
    cpu = max(cpu + sidecar_cpu, init_cpu) + _quantity_or_zero(overhead.get("cpu", "0"))
    memory = max(memory + sidecar_memory, init_memory) + _quantity_or_zero(overhead.get("memory", "0"))
    return cpu, memory


@dataclass(frozen=True)
class PodScheduling:
    """What the scheduler reads to place a pod: its requests and the nodes it may land on."""

    cpu: Decimal = ZERO  # cores
    memory: Decimal = ZERO  # bytes
    node_selector: tuple[tuple[str, str], ...] = ()
    # requiredDuringSchedulingIgnoredDuringExecution: terms ORed, a term's expressions ANDed; None: no affinity.
    node_affinity: tuple[tuple[Requirement, ...], ...] | None = None
    tolerations: tuple[Toleration, ...] = ()

    @classmethod
    def parse(cls, spec: dict[str, Any]) -> PodScheduling:
        """From a pod's spec as the API server returns it."""
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
        return cls(
            cpu=cpu,
            memory=memory,
            node_selector=tuple(sorted(_str_map(spec.get("nodeSelector")).items())),
            node_affinity=affinity,
            tolerations=tuple(Toleration.parse(t) for t in _list(spec.get("tolerations")) if isinstance(t, dict)),
        )


NO_SCHEDULING = PodScheduling()


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    uid: str
    node: str
    phase: str
    ready: bool
    ready_since: datetime | None
    labels: dict[str, str] = field(hash=False, compare=False)
    owners: tuple[Owner, ...] = ()
    mirror: bool = False
    uses_emptydir: bool = False
    deleting: bool = False
    deletion_timestamp: datetime | None = None
    termination_grace_seconds: int = 30
    created_at: datetime | None = None
    scheduling: PodScheduling = field(default=NO_SCHEDULING, compare=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def finished(self) -> bool:
        """Succeeded or Failed: the pod holds none of its node's room any more."""
        return self.phase in ("Succeeded", "Failed")

    @property
    def controller(self) -> Owner | None:
        return next((owner for owner in self.owners if owner.controller), None)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Pod:
        meta, spec, status = _dict(data.get("metadata")), _dict(data.get("spec")), _dict(data.get("status"))
        annotations = _str_map(meta.get("annotations"))
        ready_condition = next(
            (c for c in _list(status.get("conditions")) if isinstance(c, dict) and c.get("type") == "Ready"), {}
        )
        owners = tuple(
            Owner(str(o.get("kind", "")), str(o.get("name", "")), bool(o.get("controller")))
            for o in _list(meta.get("ownerReferences"))
            if isinstance(o, dict)
        )
        grace = spec.get("terminationGracePeriodSeconds")
        return cls(
            namespace=str(meta.get("namespace", "")),
            name=str(meta.get("name", "")),
            uid=str(meta.get("uid", "")),
            node=str(spec.get("nodeName") or ""),
            phase=str(status.get("phase") or "Unknown"),
            ready=ready_condition.get("status") == "True",
            ready_since=_time(ready_condition.get("lastTransitionTime")),
            labels=_str_map(meta.get("labels")),
            owners=owners,
            mirror="kubernetes.io/config.mirror" in annotations,
            uses_emptydir=any(isinstance(v, dict) and "emptyDir" in v for v in _list(spec.get("volumes"))),
            deleting=meta.get("deletionTimestamp") is not None,
            deletion_timestamp=_time(meta.get("deletionTimestamp")),
            termination_grace_seconds=grace if isinstance(grace, int) and grace >= 0 else 30,
            created_at=_time(meta.get("creationTimestamp")),
            scheduling=PodScheduling.parse(spec),
        )


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelSelector:
    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[Requirement, ...] = ()

    @classmethod
    def parse(cls, data: Any) -> LabelSelector | None:
        if not isinstance(data, dict):
            return None
        expressions = tuple(
            Requirement(
                str(e.get("key", "")), str(e.get("operator", "")), tuple(str(v) for v in _list(e.get("values")))
            )
            for e in _list(data.get("matchExpressions"))
            if isinstance(e, dict)
        )
        return cls(tuple(sorted(_str_map(data.get("matchLabels")).items())), expressions)

    @property
    def empty(self) -> bool:
        return not self.match_labels and not self.match_expressions

    def matches(self, labels: dict[str, str]) -> bool:
        """Kubernetes semantics: every label and every expression must hold; an empty selector selects all."""
        if any(labels.get(key) != value for key, value in self.match_labels):
            return False
        for req in self.match_expressions:
            present = req.key in labels
            if req.operator == "In" and (not present or labels[req.key] not in req.values):
                return False
            if req.operator == "NotIn" and present and labels[req.key] in req.values:
                return False
            if req.operator == "Exists" and not present:
                return False
            if req.operator == "DoesNotExist" and present:
                return False
            if req.operator not in {"In", "NotIn", "Exists", "DoesNotExist"}:
                return False  # an unknown operator selects nothing, as the API server treats it as invalid
        return True

    def words(self) -> str:
        parts = [f"{k}={v}" for k, v in self.match_labels]
        for req in self.match_expressions:
            values = ",".join(req.values)
            parts.append(
                {
                    "In": f"{req.key} in ({values})",
                    "NotIn": f"{req.key} notin ({values})",
                    "Exists": req.key,
                    "DoesNotExist": f"!{req.key}",
                }.get(req.operator, f"{req.key} {req.operator}")
            )
        return ",".join(parts) or "(everything)"


@dataclass(frozen=True)
class Pdb:
    namespace: str
    name: str
    uid: str
    selector: LabelSelector | None
    min_available: str | None
    max_unavailable: str | None
    disruptions_allowed: int
    current_healthy: int
    desired_healthy: int
    expected_pods: int
    generation: int
    observed_generation: int
    unhealthy_pod_eviction_policy: str = "IfHealthyBudget"

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def processed(self) -> bool:
        return self.observed_generation >= self.generation

    def selects(self, pod: Pod) -> bool:
        # A nil selector selects nothing; an empty one selects every pod in the namespace (policy/v1).
        return pod.namespace == self.namespace and self.selector is not None and self.selector.matches(pod.labels)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Pdb:
        meta, spec, status = _dict(data.get("metadata")), _dict(data.get("spec")), _dict(data.get("status"))

        def number(value: Any) -> int:
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        def int_or_percent(value: Any) -> str | None:
            return None if value is None else str(value)

        return cls(
            namespace=str(meta.get("namespace", "")),
            name=str(meta.get("name", "")),
            uid=str(meta.get("uid", "")),
            selector=LabelSelector.parse(spec.get("selector")),
            min_available=int_or_percent(spec.get("minAvailable")),
            max_unavailable=int_or_percent(spec.get("maxUnavailable")),
            disruptions_allowed=number(status.get("disruptionsAllowed")),
            current_healthy=number(status.get("currentHealthy")),
            desired_healthy=number(status.get("desiredHealthy")),
            expected_pods=number(status.get("expectedPods")),
            generation=number(meta.get("generation")),
            observed_generation=number(status.get("observedGeneration")),
            unhealthy_pod_eviction_policy=str(spec.get("unhealthyPodEvictionPolicy") or "IfHealthyBudget"),
        )


@dataclass(frozen=True)
class Node:
    name: str
    unschedulable: bool
    ready: bool
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    cpu_allocatable: Decimal = ZERO  # cores
    memory_allocatable: Decimal = ZERO  # bytes
    pods_allocatable: int | None = None  # None: the node states no pod limit
    taints: tuple[Taint, ...] = ()
    boot_id: str = ""  # status.nodeInfo.bootID: changes when the node reboots
    created_at: datetime | None = None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Node:
        meta, spec, status = _dict(data.get("metadata")), _dict(data.get("spec")), _dict(data.get("status"))
        ready = any(
            isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True"
            for c in _list(status.get("conditions"))
        )
        allocatable = _dict(status.get("allocatable"))
        pods = _quantity_or_zero(allocatable["pods"]) if "pods" in allocatable else None
        return cls(
            name=str(meta.get("name", "")),
            unschedulable=bool(spec.get("unschedulable")),
            ready=ready,
            labels=_str_map(meta.get("labels")),
            cpu_allocatable=_quantity_or_zero(allocatable.get("cpu", "0")),
            memory_allocatable=_quantity_or_zero(allocatable.get("memory", "0")),
            pods_allocatable=int(pods) if pods is not None else None,
            taints=tuple(Taint.parse(t) for t in _list(spec.get("taints")) if isinstance(t, dict)),
            boot_id=str(_dict(status.get("nodeInfo")).get("bootID") or ""),
            created_at=_time(meta.get("creationTimestamp")),
        )


@dataclass(frozen=True)
class Cause:
    reason: str
    message: str
    field: str = ""


@dataclass(frozen=True)
class Answer:
    """The API server's answer to a write (eviction, delete), or a transport failure (status None)."""

    status: int | None
    reason: str = ""  # Status.reason, e.g. "TooManyRequests"
    message: str = ""
    causes: tuple[Cause, ...] = ()
    retry_after: float | None = None  # Retry-After header or details.retryAfterSeconds
    transport_error: str = ""  # e.g. "timeout", "refused" when status is None
    duration_ms: int = 0

    @classmethod
    def from_status(cls, status: int, body: Any, headers: dict[str, str], duration_ms: int = 0) -> Answer:
        body = _dict(body)
        details = _dict(body.get("details"))
        causes = tuple(
            Cause(str(c.get("reason", "")), str(c.get("message", ""))[:1000], str(c.get("field", "")))
            for c in _list(details.get("causes"))
            if isinstance(c, dict)
        )
        retry_after: float | None = None
        header = headers.get("retry-after", "")
        if header.strip().isdigit():
            retry_after = float(header.strip())
        elif isinstance(details.get("retryAfterSeconds"), int):
            retry_after = float(details["retryAfterSeconds"])
        return cls(
            status=status,
            reason=str(body.get("reason", ""))[:100],
            message=str(body.get("message", ""))[:2000],
            causes=causes,
            retry_after=retry_after,
            duration_ms=duration_ms,
        )
