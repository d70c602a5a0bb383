"""What an eviction answer means: a pure function from the API server's answer to the pod's next state."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
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


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def budget_words(
    pdb: str,
    *,
    needs: int | None,
    has: int | None,
    allowed: int | None = None,
    expected: int | None = None,
    at: datetime | None = None,
) -> str:
    """A budget's numbers as the cluster means them, in one sentence: how many disruptions it allows and why.

    needs/has/expected are the budget's desiredHealthy/currentHealthy/expectedPods; allowed its disruptionsAllowed
    (None: not read, as from a 429, which the API server only answers when it is 0). `at` is when the numbers were
    read. Every page, the API and the notifications say a budget's numbers through this one function."""
    if needs is None or has is None:
        words = f"{pdb}: its numbers are not known yet"
    elif allowed is not None and allowed > 0:
        words = (
            f"{pdb} allows {_plural(allowed, 'disruption')} now: it needs {_plural(needs, 'healthy pod')} "
            f"and has {has}, so the next try should go through"
        )
    else:
        words = f"{pdb} allows 0 disruptions: it needs {_plural(needs, 'healthy pod')} and has {has}"
        unready = expected - has if expected is not None else None
        if has < needs:
            words += f" ({unready} unready)" if unready and unready > 0 else f", {needs - has} short"
        elif has == needs:
            words += f", so evicting one would leave {has - 1}"
        else:  # more healthy than needed, yet no disruption: the budget's status lags behind its pods
            words += ", but its status has not caught up with its pods yet"
    if at is not None:
        words += f" (as of {at.astimezone(UTC):%H:%M:%S} UTC)"
    return words


@dataclass(frozen=True)
class Budget:
    """The budget a 429 names, with the numbers its message gives (None when it gives none)."""

    name: str
    needs: int | None
    has: int | None

    def words(self, namespace: str = "") -> str:
        # The API server refuses with these numbers only when the budget allows no disruption.
        who = f"{namespace}/{self.name}" if namespace else self.name
        return budget_words(who, needs=self.needs, has=self.has, allowed=0)


@dataclass(frozen=True)
class Outcome:
    next: Next
    note: str
    retry_in: float | None = None  # seconds until the next attempt, when there is one
    budget: Budget | None = None
    throttled: bool = False
    flag_cluster: bool = False  # credentials or RBAC are wrong: mark the cluster


def _who(budget: Budget, namespace: str) -> str:
    # The note names the budget; its numbers are said once, from the pod's budget fields (budget_words).
    return f"{namespace}/{budget.name}" if namespace else budget.name


def budget_from(answer: Answer) -> Budget | None:
    for cause in answer.causes:
        if cause.reason == "DisruptionBudget":
            match = _BUDGET.search(cause.message)
            if match:
                return Budget(match["name"], int(match["needs"]), int(match["has"]))
            return Budget(cause.message[:100] or "unknown", None, None)
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
                    Next.NEEDS_INTERVENTION,
                    f"Still blocked at the deadline by its disruption budget {_who(budget, namespace)}.",
                    budget=budget,
                )
            wait = backoff(attempt, base=PDB_BACKOFF_BASE, cap=PDB_BACKOFF_CAP, rng=rng)
            return Outcome(
                Next.BLOCKED,
                f"Blocked by its disruption budget {_who(budget, namespace)}.",
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
