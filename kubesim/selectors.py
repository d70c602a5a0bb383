"""Label and field selectors: the query-string syntax and the LabelSelector object form."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]


class SelectorError(ValueError):
    pass


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and labels[self.key] in self.values
        # "!=" and "notin" match objects without the label, as Kubernetes does.
        return not present or labels[self.key] not in self.values


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


_SET_RE = re.compile(r"^([A-Za-z0-9_./-]+)\s+(in|notin)\s+\(([^)]*)\)$")
_KEY_RE = re.compile(r"^!?[A-Za-z0-9_./-]+$")


def parse_label_selector(text: str | None) -> list[Requirement]:
    if not text:
        return []
    reqs: list[Requirement] = []
    for part in _split_top_level(text):
        m = _SET_RE.match(part)
        if m:
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append(Requirement(m.group(1), m.group(2), values))
            continue
        for op in ("!=", "==", "="):
            if op in part:
                key, _, value = part.partition(op)
                key, value = key.strip(), value.strip()
                if not key or not _KEY_RE.match(key):
                    raise SelectorError(f"unable to parse requirement: {part!r}")
                reqs.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
                break
        else:
            if not _KEY_RE.match(part):
                raise SelectorError(f"unable to parse requirement: {part!r}")
            if part.startswith("!"):
                reqs.append(Requirement(part[1:], "!exists"))
            else:
                reqs.append(Requirement(part, "exists"))
    return reqs


def matches_all(reqs: list[Requirement], labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    return all(r.matches(labels) for r in reqs)


def label_selector_requirements(selector: Obj | None) -> list[Requirement] | None:
    """Requirements of a LabelSelector object; None means "selects nothing" (a nil selector)."""
    if selector is None:
        return None
    reqs = [Requirement(k, "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}.get(expr.get("operator", ""))
        if op is None:
            raise SelectorError(f"invalid operator {expr.get('operator')!r}")
        reqs.append(Requirement(expr["key"], op, tuple(expr.get("values") or ())))
    return reqs


def selector_matches(selector: Obj | None, labels: dict[str, str] | None) -> bool:
    reqs = label_selector_requirements(selector)
    if reqs is None:
        return False
    return matches_all(reqs, labels)


# --- field selectors ------------------------------------------------------------------------


def _path_getter(*path: str) -> Callable[[Obj], str]:
    def get(obj: Obj) -> str:
        cur: Any = obj
        for p in path:
            if not isinstance(cur, dict):
                return ""
            cur = cur.get(p)
        if cur is None:
            return ""
        if isinstance(cur, bool):
            return "true" if cur else "false"
        return str(cur)

    return get


_COMMON_FIELDS = {
    "metadata.name": _path_getter("metadata", "name"),
    "metadata.namespace": _path_getter("metadata", "namespace"),
}
FIELDS: dict[str, dict[str, Callable[[Obj], str]]] = {
    "pods": {
        **_COMMON_FIELDS,
        "spec.nodeName": _path_getter("spec", "nodeName"),
        "spec.restartPolicy": _path_getter("spec", "restartPolicy"),
        "spec.schedulerName": _path_getter("spec", "schedulerName"),
        "spec.serviceAccountName": _path_getter("spec", "serviceAccountName"),
        "status.phase": _path_getter("status", "phase"),
        "status.podIP": _path_getter("status", "podIP"),
    },
    "nodes": {**_COMMON_FIELDS, "spec.unschedulable": _path_getter("spec", "unschedulable")},
    "namespaces": {**_COMMON_FIELDS, "status.phase": _path_getter("status", "phase")},
}


@dataclass(frozen=True)
class FieldRequirement:
    getter: Callable[[Obj], str]
    negate: bool
    value: str

    def matches(self, obj: Obj) -> bool:
        return (self.getter(obj) == self.value) != self.negate


def parse_field_selector(text: str | None, resource: str) -> list[FieldRequirement]:
    if not text:
        return []
    fields = FIELDS.get(resource, _COMMON_FIELDS)
    reqs: list[FieldRequirement] = []
    for part in _split_top_level(text):
        for op in ("!=", "==", "="):
            if op in part:
                key, _, value = part.partition(op)
                key = key.strip()
                if key not in fields:
                    raise SelectorError(f"field label not supported: {key}")
                reqs.append(FieldRequirement(fields[key], op == "!=", value.strip()))
                break
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
    return reqs
