"""Whether a scheduled request may start now: a pure function of its approvals, schedule, window, cluster and queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from evictions.approvals import Tally
from evictions.windows import Interval, describe

NO_WINDOW_RECHECK = timedelta(hours=1)


@dataclass(frozen=True)
class StartInputs:
    now: datetime
    schedule: str  # "now", "not_before" or "window"
    tally: Tally
    not_before: datetime | None = None
    window: Interval | None = None  # the window open now
    next_window: Interval | None = None
    display_tz: str = "UTC"
    cluster_paused: bool = False
    paused_reason: str = ""
    is_drain: bool = False
    drains_in_progress: int = 0
    drain_limit: int = 1
    queued_ahead: int = 0  # drains on the cluster submitted earlier and ready to start


@dataclass(frozen=True)
class StartDecision:
    go: bool
    reason: str = ""  # why it waits, in words
    window_ends_at: datetime | None = None
    check_again_at: datetime | None = None  # None: look again on the next tick
    needs_approval_again: bool = False


def decide_start(i: StartInputs) -> StartDecision:
    if not i.tally.approved:
        return StartDecision(False, f"Approval no longer holds: {i.tally.words()}", needs_approval_again=True)
    if i.not_before is not None and i.now < i.not_before:
        return StartDecision(False, f"Not before {describe(i.not_before, i.display_tz)}.", check_again_at=i.not_before)
    if i.schedule == "window" and i.window is None:
        if i.next_window is None:
            return StartDecision(
                False,
                "Waits for a maintenance window, and none opens in the next 15 days.",
                check_again_at=i.now + NO_WINDOW_RECHECK,
            )
        return StartDecision(
            False,
            f"Waits for the next maintenance window, opening {describe(i.next_window.start, i.display_tz)}.",
            check_again_at=i.next_window.start,
        )
    if i.cluster_paused:
        return StartDecision(False, f"The cluster is paused: {i.paused_reason or 'no reason given'}.")
    if i.is_drain and i.drains_in_progress + i.queued_ahead >= i.drain_limit:
        return StartDecision(
            False,
            f"Queued: number {i.queued_ahead + 1} in line; {i.drains_in_progress} of {i.drain_limit} drain(s) "
            "allowed at once are in progress on this cluster.",
        )
    return StartDecision(True, window_ends_at=i.window.end if i.schedule == "window" and i.window else None)
