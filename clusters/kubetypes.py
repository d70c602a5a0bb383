"""Typed results of Kubernetes reads and writes: what kube.py returns instead of raw dicts. Pure parsing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

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

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Node:
        meta, spec, status = _dict(data.get("metadata")), _dict(data.get("spec")), _dict(data.get("status"))
        ready = any(
            isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True"
            for c in _list(status.get("conditions"))
        )
        return cls(str(meta.get("name", "")), bool(spec.get("unschedulable")), ready)


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
