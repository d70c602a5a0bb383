"""What an eviction answer means: a pure function from the API server's answer to the pod's next state."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from enum import StrEnum

from clusters.kubetypes import Answer

# "The disruption budget web-pdb needs 2 healthy pods and has 1 currently"
_BUDGET = re.compile(r"disruption budget (?P<name>\S+) needs (?P<needs>\d+) healthy pods? and has (?P<has>\d+)")

# A blocked pod is retried the moment the budget watch sees room; this backoff is only the fallback when it does not.
PDB_BACKOFF_BASE = 5.0  # seconds; doubles per blocked attempt (kubectl retries every 5 s)
PDB_BACKOFF_CAP = 60.0
TRANSIENT_BACKOFF_BASE = 1.0
TRANSIENT_BACKOFF_CAP = 60.0
MAX_TRANSIENT_FAILURES = 8  # consecutive transport errors / 5xx before a person is asked
STILL_PROCESSING_DEFAULT = 10.0
PDB_CONFLICT_RETRY = 10.0


class Next(StrEnum):
    TERMINATING = "terminating"  # accepted: follow the pod until that UID is gone
    EVICTED = "evicted"  # already gone (404) or replaced (409)
    BLOCKED = "blocked"  # a PodDisruptionBudget said no
    RETRY = "retry"  # keep the state, try again later (throttled, still processing, transient)
    NEEDS_INTERVENTION = "needs_intervention"
    FAILED = "failed"


@dataclass(frozen=True)
class Budget:
    name: str
    needs: int
    has: int

    def words(self, namespace: str = "") -> str:
        who = f"{namespace}/{self.name}" if namespace else self.name
        return f"{who} needs {self.needs} healthy pod{'s' if self.needs != 1 else ''} and has {self.has}"


@dataclass(frozen=True)
class Outcome:
    next: Next
    note: str
    retry_in: float | None = None  # seconds until the next attempt, when there is one
    budget: Budget | None = None
    throttled: bool = False
    flag_cluster: bool = False  # credentials or RBAC are wrong: mark the cluster


def budget_from(answer: Answer) -> Budget | None:
    for cause in answer.causes:
        if cause.reason == "DisruptionBudget":
            match = _BUDGET.search(cause.message)
            if match:
                return Budget(match["name"], int(match["needs"]), int(match["has"]))
            return Budget(cause.message[:100] or "unknown", 0, 0)
    return None


def backoff(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter in [delay/2, delay]: retries spread out, never exceed the cap."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return delay / 2 + (rng or random).random() * delay / 2


def decide(
    answer: Answer,
    *,
    attempt: int,
    transient_failures: int = 0,
    deadline_passed: bool = False,
    namespace: str = "",
    rng: random.Random | None = None,
) -> Outcome:
    """The next state after `attempt` (1-based) got `answer`. transient_failures counts earlier ones in a row."""
    status = answer.status
    message = answer.message.strip()
    causes = " ".join(c.message for c in answer.causes)

    if status in (200, 201):
        return Outcome(Next.TERMINATING, "Eviction accepted; waiting for the pod to terminate.")
    if status == 404:
        return Outcome(Next.EVICTED, "The pod was already gone.")
    if status == 409:
        return Outcome(Next.EVICTED, "The pod was replaced (UID precondition failed): the original pod is gone.")

    if status == 429:
        budget = budget_from(answer)
        still_processing = "still being processed" in (message + " " + causes).lower()
        if still_processing:
            wait = answer.retry_after or STILL_PROCESSING_DEFAULT
            return Outcome(
                Next.RETRY,
                f"The disruption controller has not processed the budget yet; retrying in {wait:g}s.",
                retry_in=wait,
            )
        if budget is not None:
            if deadline_passed:
                return Outcome(
                    Next.NEEDS_INTERVENTION, f"Still blocked at the deadline: {budget.words(namespace)}.", budget=budget
                )
            wait = backoff(attempt, base=PDB_BACKOFF_BASE, cap=PDB_BACKOFF_CAP, rng=rng)
            return Outcome(
                Next.BLOCKED,
                f"Blocked by a disruption budget: {budget.words(namespace)}.",
                retry_in=wait,
                budget=budget,
            )
        wait = (
            answer.retry_after
            if answer.retry_after
            else backoff(attempt, base=TRANSIENT_BACKOFF_BASE, cap=TRANSIENT_BACKOFF_CAP, rng=rng)
        )
        return Outcome(
            Next.RETRY,
            f"Throttled by the API server (429): {message or 'too many requests'}.",
            retry_in=wait,
            throttled=True,
        )

    if (
        status == 500
        and "more than one" in (message + causes).lower()
        and "disruptionbudget" in (message + causes).replace(" ", "").lower()
    ):
        return Outcome(
            Next.NEEDS_INTERVENTION,
            "More than one PodDisruptionBudget selects this pod, which the eviction API does not support. "
            "Fix the budgets, or delete the pod directly.",
        )

    if status == 403 and any(c.reason == "NamespaceTerminating" for c in answer.causes):
        wait = backoff(attempt, base=TRANSIENT_BACKOFF_BASE, cap=TRANSIENT_BACKOFF_CAP, rng=rng)
        return Outcome(Next.RETRY, "The namespace is being deleted; retrying.", retry_in=wait)
    if status == 401:
        return Outcome(
            Next.FAILED, "Unauthorized (401): the cluster rejected Drainboard's credentials.", flag_cluster=True
        )
    if status == 403:
        return Outcome(
            Next.FAILED, f"Forbidden (403): {message or 'RBAC does not allow evicting this pod'}.", flag_cluster=True
        )

    if status == 504 and "conflict" in message.lower():
        return Outcome(
            Next.RETRY,
            "The disruption budget was being updated by someone else; retrying in 10s.",
            retry_in=PDB_CONFLICT_RETRY,
        )

    transient = status is None or status >= 500 or status == 408
    if transient:
        what = f"HTTP {status}" if status is not None else (answer.transport_error or "connection failed")
        if transient_failures + 1 >= MAX_TRANSIENT_FAILURES:
            return Outcome(
                Next.NEEDS_INTERVENTION,
                f"{transient_failures + 1} failed attempts in a row ({what}{': ' + message if message else ''}).",
            )
        wait = backoff(transient_failures + 1, base=TRANSIENT_BACKOFF_BASE, cap=TRANSIENT_BACKOFF_CAP, rng=rng)
        return Outcome(Next.RETRY, f"Transient failure ({what}); retrying.", retry_in=wait)

    return Outcome(Next.FAILED, f"Unexpected answer HTTP {status}: {message or answer.reason or 'no message'}.")
