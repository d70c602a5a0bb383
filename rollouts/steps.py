"""A rollout's next step as a pure function of its nodes' statuses, its limits and its gates; and a node's reboot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core.words import duration_words
from rollouts.gates import Gate, first_hold


class NodeStatus(StrEnum):
    QUEUED = "queued"
    CORDONED = "cordoned"  # cordoned up front (cordon all at start), not drained yet
    DRAINING = "draining"  # its drain request runs
    WAITING_FOR_REBOOT = "waiting_for_reboot"
    SOAKING = "soaking"  # back in service; the soak gate holds the next node
    DONE = "done"
    FAILED = "failed"  # its drain failed or needs intervention, or it did not come back
    SKIPPED = "skipped"
    GONE = "gone"  # deleted from the cluster after the list was frozen


NOT_STARTED = frozenset({NodeStatus.QUEUED, NodeStatus.CORDONED})
# A soaking node is schedulable again, so it does not count against max_unavailable; the soak gate does the pacing.
IN_PROGRESS = frozenset({NodeStatus.DRAINING, NodeStatus.WAITING_FOR_REBOOT})
# A tuple, not a set: the ending's words list them in this order.
FINISHED = (NodeStatus.DONE, NodeStatus.FAILED, NodeStatus.SKIPPED, NodeStatus.GONE)


class StepKind(StrEnum):
    START = "start"  # start these nodes now
    HOLD = "hold"  # start nothing now, for the reason in words
    NEEDS_INTERVENTION = "needs_intervention"  # the failure limit is reached
    DONE = "done"  # every node finished


@dataclass(frozen=True)
class Step:
    kind: StepKind
    start: tuple[str, ...] = ()
    words: str = ""  # the hold, the stop or the ending, in words ("" when nodes start)
    gate: str = ""  # the gate that holds, when one does
    check_again_at: datetime | None = None


def _names(nodes: Sequence[str]) -> str:
    return ", ".join(nodes)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def next_step(
    nodes: Sequence[tuple[str, NodeStatus]],
    *,
    max_unavailable: int,
    failure_limit: int,
    gates: Sequence[Gate] = (),
) -> Step:
    """Which nodes start now (in rollout order), or why none does, or needs_intervention, or done."""
    if max_unavailable < 1 or failure_limit < 1:
        raise ValueError("max_unavailable and failure_limit are at least 1")
    failed = [name for name, status in nodes if status is NodeStatus.FAILED]
    if len(failed) >= failure_limit:
        return Step(
            StepKind.NEEDS_INTERVENTION,
            words=(
                f"{_plural(len(failed), 'node')} failed ({_names(failed)}); the failure limit is {failure_limit}: "
                "no new node starts."
            ),
        )
    waiting = [name for name, status in nodes if status in NOT_STARTED]
    running = [name for name, status in nodes if status in IN_PROGRESS]
    soaking = [name for name, status in nodes if status is NodeStatus.SOAKING]
    if not waiting and not running and not soaking:
        counts = {status: sum(1 for _, s in nodes if s is status) for status in FINISHED}
        parts = [f"{counts[status]} {status}" for status in FINISHED if counts[status]]
        return Step(StepKind.DONE, words=f"All {_plural(len(nodes), 'node')} finished: {', '.join(parts) or 'none'}.")
    if not waiting:
        still = running + soaking
        return Step(StepKind.HOLD, words=f"No node left to start; waiting for {_names(still)} to finish.")
    hold = first_hold(gates)
    if hold is not None:
        return Step(StepKind.HOLD, words=hold.words, gate=hold.name, check_again_at=hold.check_again_at)
    slots = max_unavailable - len(running)
    if slots <= 0:
        return Step(
            StepKind.HOLD,
            words=f"{len(running)} of {max_unavailable} nodes at a time in progress: {_names(running)}.",
        )
    return Step(StepKind.START, start=tuple(waiting[:slots]))


# ---- waiting for a node's reboot -------------------------------------------------------------------------------------


class RebootState(StrEnum):
    BACK = "back"
    WAITING = "waiting"
    FAILED = "failed"


@dataclass(frozen=True)
class RebootCheck:
    state: RebootState
    words: str


def reboot_check(
    *,
    node: str,
    boot_id_before: str,
    boot_id_now: str | None,
    ready: bool,
    since: datetime,
    now: datetime,
    timeout: timedelta,
) -> RebootCheck:
    """Whether a drained node is back from its reboot: a new bootID and Ready, within the timeout.

    `boot_id_now` is None when the node is not found (it may be re-registering); the bootID is the kubelet's
    status.nodeInfo.bootID, which changes on every boot, so an unchanged one means no reboot happened yet.
    """
    waited = duration_words((now - since).total_seconds())
    if not boot_id_before:
        return RebootCheck(
            RebootState.FAILED, f"{node} reported no bootID before its drain, so its reboot cannot be seen."
        )
    if boot_id_now is None:
        state = "it is not found in the cluster"
    elif boot_id_now == boot_id_before:
        state = "it has not rebooted yet (same bootID)"
    elif not ready:
        state = "it rebooted and is not Ready yet"
    else:
        return RebootCheck(RebootState.BACK, f"{node} is back: rebooted and Ready after {waited}.")
    if now - since >= timeout:
        limit = duration_words(timeout.total_seconds())
        return RebootCheck(RebootState.FAILED, f"{node} did not come back within {limit}: {state}.")
    return RebootCheck(RebootState.WAITING, f"Waiting for {node} to reboot ({waited} so far): {state}.")
