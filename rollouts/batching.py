"""How many nodes a rollout drains at once (`max_unavailable`), in which order, and the batches its plan shows."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

_COUNT = re.compile(r"^\s*(\d+)\s*$")
_PERCENT = re.compile(r"^\s*(\d+)\s*%\s*$")
_NEGATIVE = re.compile(r"^\s*-\s*\d+\s*%?\s*$")


class Order(StrEnum):
    AS_LISTED = "as_listed"
    BY_NAME = "by_name"
    FEWEST_PODS = "fewest_pods"


@dataclass(frozen=True)
class MaxUnavailable:
    """`max_unavailable` as given: a number of nodes, or a percentage of the selected nodes (exactly one is set)."""

    count: int | None = None
    percent: int | None = None

    def of(self, total: int) -> int:
        """The number of nodes that may be in progress at once out of `total`: at least 1, at most `total`."""
        if self.percent is not None:
            # Rounded down, as Kubernetes rounds maxUnavailable percentages, but never 0: a rollout must move.
            wanted = self.percent * total // 100
        else:
            wanted = self.count or 1
        return max(1, min(wanted, total))

    def words(self) -> str:
        if self.percent is not None:
            return f"{self.percent}% of the nodes"
        return f"{self.count} node{'' if self.count == 1 else 's'}"

    def to_json(self) -> int | str:
        return f"{self.percent}%" if self.percent is not None else (self.count or 1)


def parse_max_unavailable(value: object) -> MaxUnavailable:
    """`max_unavailable` from the API or a form (an int ≥ 1, "3", or "25%"); raises ValueError in words."""
    # bool is an int in Python, but `true` is not a number of nodes.
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(f"max_unavailable must be a whole number of nodes or a percentage like '25%', not {value!r}")
    if match := _COUNT.match(text):
        count = int(match[1])
        if count < 1:
            raise ValueError("max_unavailable must be at least 1 node")
        return MaxUnavailable(count=count)
    if match := _PERCENT.match(text):
        percent = int(match[1])
        if percent < 1:
            raise ValueError("max_unavailable must be more than 0%")
        if percent > 100:
            raise ValueError(f"max_unavailable cannot be more than 100% (got {percent}%)")
        return MaxUnavailable(percent=percent)
    if _NEGATIVE.match(text):
        raise ValueError(f"max_unavailable must be at least 1 node or more than 0%, not {text.strip()!r}")
    raise ValueError(f"max_unavailable must be a whole number of nodes or a percentage like '25%', not {text!r}")


def order_nodes(nodes: Sequence[str], order: Order | str, pod_counts: Mapping[str, int] | None = None) -> list[str]:
    """The nodes in the order the rollout drains them; raises ValueError for an unknown order."""
    try:
        chosen = Order(order)
    except ValueError:
        known = ", ".join(o.value for o in Order)
        raise ValueError(f"unknown order {order!r}: use one of {known}") from None
    if chosen is Order.AS_LISTED:
        return list(nodes)
    if chosen is Order.BY_NAME:
        return sorted(nodes)
    counts = pod_counts or {}
    # A node whose pods were not counted goes last: it may be the busiest, and "fewest first" promises the quick ones.
    return sorted(nodes, key=lambda node: (node not in counts, counts.get(node, 0), node))


def batches(nodes: Sequence[str], size: int) -> list[tuple[str, ...]]:
    """The plan's batches: consecutive groups of `size` nodes in rollout order (the last one may be smaller)."""
    if size < 1:
        raise ValueError("a batch holds at least 1 node")
    return [tuple(nodes[i : i + size]) for i in range(0, len(nodes), size)]
