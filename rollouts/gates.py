"""The gates a rollout passes before it starts its next node, each answering pass or hold with the reason in words."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from clusters.kubetypes import Pdb
from core.words import duration_words
from evictions.windows import WindowSpec, describe, next_opening, open_at

NO_WINDOW_RECHECK = timedelta(hours=1)
ALERTS_NAMED = 5  # more firing alerts than this are counted, not listed


@dataclass(frozen=True)
class Gate:
    name: str  # "paused", "window", "alerts", "budgets", "soak"
    passed: bool
    words: str = ""  # why it holds ("" when it passes)
    check_again_at: datetime | None = None  # when it may open by itself; None: look again on the next tick


def paused_gate(*, paused: bool, reason: str = "") -> Gate:
    """Holds while the cluster is paused (a pause halts all automation on it)."""
    if paused:
        return Gate("paused", False, f"The cluster is paused: {reason or 'no reason given'}.")
    return Gate("paused", True)


def window_gate(*, now: datetime, uses_windows: bool, windows: list[WindowSpec], display_tz: str = "UTC") -> Gate:
    """Holds while the rollout runs only in the cluster's maintenance windows and none is open."""
    if not uses_windows or open_at(windows, now) is not None:
        return Gate("window", True)
    upcoming = next_opening(windows, now)
    if upcoming is None:
        return Gate(
            "window",
            False,
            "The maintenance window is closed, and none opens in the next 15 days.",
            now + NO_WINDOW_RECHECK,
        )
    return Gate(
        "window",
        False,
        f"The maintenance window is closed; the next one opens {describe(upcoming.start, display_tz)}.",
        upcoming.start,
    )


def alerts_gate(*, configured: bool, pattern: str, firing: Sequence[str] | None, error: str = "") -> Gate:
    """Holds while an alert whose name matches `pattern` fires; `firing` None means the alerts could not be read.

    An alert source that cannot be read holds rather than passes: the gate exists to stop a rollout that would make
    an incident worse, and an unreachable Prometheus is no evidence that there is none. An empty pattern matches
    every alert; names are searched, not anchored, like kured's --alert-filter-regexp.
    """
    if not configured:
        return Gate("alerts", True)
    try:
        matcher = re.compile(pattern)
    except re.error as bad:
        return Gate("alerts", False, f"The alert filter {pattern!r} is not a valid regular expression ({bad}).")
    if firing is None:
        return Gate("alerts", False, f"Could not check the cluster's alerts: {error or 'no answer'}.")
    matching = sorted({name for name in firing if matcher.search(name)})
    if not matching:
        return Gate("alerts", True)
    named = ", ".join(matching[:ALERTS_NAMED])
    if len(matching) > ALERTS_NAMED:
        named += f" and {len(matching) - ALERTS_NAMED} more"
    plural = "s" if len(matching) > 1 else ""
    return Gate("alerts", False, f"Alert{plural} firing: {named}.")


def budgets_gate(touched: Iterable[Pdb]) -> Gate:
    """Holds until every budget the rollout has touched is healthy again (currentHealthy >= desiredHealthy)."""
    unhealthy: list[str] = []
    for pdb in sorted(touched, key=lambda p: p.key):
        if not pdb.processed:
            # Its numbers are about an older spec: not yet evidence that the replacements are up.
            unhealthy.append(f"{pdb.key} (not processed yet by the disruption controller)")
        elif pdb.current_healthy < pdb.desired_healthy:
            unhealthy.append(f"{pdb.key} (healthy {pdb.current_healthy}, desired {pdb.desired_healthy})")
    if not unhealthy:
        return Gate("budgets", True)
    return Gate("budgets", False, f"Waiting for budgets to be healthy again: {', '.join(unhealthy)}.")


def soak_gate(*, now: datetime, soak_seconds: int, last_node: str = "", finished_at: datetime | None = None) -> Gate:
    """Holds until `soak_seconds` have passed since the last node finished."""
    if soak_seconds <= 0 or finished_at is None:
        return Gate("soak", True)
    ends = finished_at + timedelta(seconds=soak_seconds)
    if now >= ends:
        return Gate("soak", True)
    after = f" after {last_node}" if last_node else ""
    left = duration_words((ends - now).total_seconds())
    return Gate("soak", False, f"Soaking{after}: {left} left.", ends)


def first_hold(gates: Iterable[Gate]) -> Gate | None:
    """The first gate that holds, in the order given, or None when all pass."""
    return next((gate for gate in gates if not gate.passed), None)
