"""Every answer in DESIGN.md's table (and 409, 504, still-processing 429, 403 NamespaceTerminating) as a table."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from clusters.kubetypes import Answer, Cause
from evictions.outcomes import (
    MAX_TRANSIENT_FAILURES,
    PDB_BACKOFF_CAP,
    Budget,
    Next,
    backoff,
    budget_from,
    budget_words,
    decide,
)

PDB_CAUSE = Cause("DisruptionBudget", "The disruption budget web-pdb needs 2 healthy pods and has 1 currently")
BLOCKED = Answer(
    429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.", (PDB_CAUSE,)
)
STILL = Answer(
    429,
    "TooManyRequests",
    "Cannot evict pod as it would violate the pod's disruption budget.",
    (Cause("DisruptionBudget", "The disruption budget web-pdb is still being processed by the server."),),
    retry_after=10,
)
MULTI = Answer(
    500,
    "InternalError",
    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
)


@pytest.mark.parametrize(
    ("answer", "kwargs", "next_state", "note", "retry"),
    [
        (Answer(201, "", ""), {}, Next.TERMINATING, "Eviction accepted", None),
        (Answer(200, "", ""), {}, Next.TERMINATING, "Eviction accepted", None),
        (BLOCKED, {}, Next.BLOCKED, "Blocked by its disruption budget web-pdb.", (2.5, 5.0)),
        (BLOCKED, {"attempt": 3}, Next.BLOCKED, "disruption budget", (10.0, 20.0)),
        (BLOCKED, {"attempt": 30}, Next.BLOCKED, "disruption budget", (PDB_BACKOFF_CAP / 2, PDB_BACKOFF_CAP)),
        (
            BLOCKED,
            {"deadline_passed": True},
            Next.NEEDS_INTERVENTION,
            "Still blocked at the deadline by its disruption budget web-pdb.",
            None,
        ),
        (STILL, {}, Next.RETRY, "not processed the budget yet; retrying in 10s", (10, 10)),
        (Answer(429, "TooManyRequests", "Too many requests", retry_after=7), {}, Next.RETRY, "Throttled", (7, 7)),
        (Answer(429, "TooManyRequests", "slow down"), {"attempt": 3}, Next.RETRY, "Throttled", (2, 4)),
        (MULTI, {}, Next.NEEDS_INTERVENTION, "More than one PodDisruptionBudget", None),
        (Answer(404, "NotFound", 'pods "web-1" not found'), {}, Next.EVICTED, "already gone", None),
        (Answer(409, "Conflict", "Precondition failed: UID in precondition"), {}, Next.EVICTED, "replaced", None),
        (
            Answer(403, "Forbidden", "namespace shop is being terminated", (Cause("NamespaceTerminating", "x"),)),
            {},
            Next.RETRY,
            "namespace is being deleted",
            (0.5, 1.0),
        ),
        (Answer(401, "Unauthorized", "Unauthorized"), {}, Next.FAILED, "Unauthorized (401)", None),
        (Answer(403, "Forbidden", 'cannot create resource "pods/eviction"'), {}, Next.FAILED, "Forbidden (403)", None),
        (
            Answer(504, "Timeout", 'couldn\'t update PodDisruptionBudget "web-pdb" due to conflicts'),
            {},
            Next.RETRY,
            "being updated by someone else",
            (10, 10),
        ),
        (Answer(None, transport_error="timeout"), {}, Next.RETRY, "Transient failure (timeout)", (0.5, 1.0)),
        (Answer(503, "ServiceUnavailable", "etcd leader changed"), {}, Next.RETRY, "HTTP 503", (0.5, 1.0)),
        (Answer(502), {"transient_failures": 2}, Next.RETRY, "HTTP 502", (2.0, 4.0)),
        (
            Answer(None, transport_error="refused"),
            {"transient_failures": MAX_TRANSIENT_FAILURES - 1},
            Next.NEEDS_INTERVENTION,
            f"{MAX_TRANSIENT_FAILURES} failed attempts in a row (refused)",
            None,
        ),
        (Answer(422, "Invalid", "bad body"), {}, Next.FAILED, "Unexpected answer HTTP 422: bad body", None),
    ],
)
def test_decide(answer, kwargs, next_state, note, retry):
    outcome = decide(answer, **{"attempt": 1, **kwargs}, rng=random.Random(7))
    assert outcome.next is next_state
    assert note in outcome.note
    if retry is None:
        assert outcome.retry_in is None
    else:
        assert retry[0] <= outcome.retry_in <= retry[1]


def test_a_budget_block_records_the_budget_and_its_numbers():
    outcome = decide(BLOCKED, attempt=1)
    assert outcome.budget == Budget("web-pdb", 2, 1)
    assert (
        outcome.budget.words("shop") == "shop/web-pdb allows 0 disruptions: it needs 2 healthy pods and has 1, 1 short"
    )
    assert "has 1" not in outcome.note  # the numbers are said once, from the pod's budget fields
    assert not outcome.throttled


AT = datetime(2026, 12, 5, 12, 3, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("numbers", "words"),
    [
        pytest.param(
            {"needs": 3, "has": 3, "allowed": 0, "expected": 3},
            "search/search-pdb allows 0 disruptions: it needs 3 healthy pods and has 3, so evicting one would leave 2",
            id="allowed-0-healthy-equals-desired",
        ),
        pytest.param(
            {"needs": 3, "has": 2, "allowed": 0, "expected": 3},
            "search/search-pdb allows 0 disruptions: it needs 3 healthy pods and has 2 (1 unready)",
            id="healthy-below-desired-with-unready",
        ),
        pytest.param(
            {"needs": 3, "has": 2},
            "search/search-pdb allows 0 disruptions: it needs 3 healthy pods and has 2, 1 short",
            id="from-a-429-expected-unknown",
        ),
        pytest.param(
            {"needs": 3, "has": 4, "allowed": 1, "expected": 4},
            "search/search-pdb allows 1 disruption now: it needs 3 healthy pods and has 4, so the next try should go "
            "through",
            id="allowed-above-0-race",
        ),
        pytest.param(
            {"needs": 2, "has": 3, "allowed": 0, "expected": 3},
            "search/search-pdb allows 0 disruptions: it needs 2 healthy pods and has 3, but its status has not caught "
            "up with its pods yet",
            id="status-lagging",
        ),
        pytest.param(
            {"needs": 1, "has": 1, "allowed": 0},
            "search/search-pdb allows 0 disruptions: it needs 1 healthy pod and has 1, so evicting one would leave 0",
            id="one-pod",
        ),
        pytest.param({"needs": None, "has": None}, "search/search-pdb: its numbers are not known yet", id="unknown"),
        pytest.param(
            {"needs": 3, "has": 3, "allowed": 0, "at": AT},
            "search/search-pdb allows 0 disruptions: it needs 3 healthy pods and has 3, so evicting one would leave 2 "
            "(as of 12:03:07 UTC)",
            id="with-its-time",
        ),
    ],
)
def test_budget_words_say_what_the_budget_allows_and_why(numbers, words):
    assert budget_words("search/search-pdb", **numbers) == words


def test_a_429_with_the_api_servers_words_reads_as_a_refusal_not_as_satisfied():
    # The API server (and kubesim) says "needs 3 healthy pods and has 3 currently" when evicting one would leave 2.
    cause = Cause("DisruptionBudget", "The disruption budget search-pdb needs 3 healthy pods and has 3 currently")
    budget = budget_from(Answer(429, "TooManyRequests", "Cannot evict pod", (cause,)))
    assert budget is not None
    assert budget.words("search") == (
        "search/search-pdb allows 0 disruptions: it needs 3 healthy pods and has 3, so evicting one would leave 2"
    )


def test_throttling_is_not_shown_as_a_budget_block():
    outcome = decide(Answer(429, "TooManyRequests", "Too many requests", retry_after=3), attempt=1)
    assert outcome.throttled and outcome.budget is None


def test_credentials_and_rbac_failures_flag_the_cluster():
    assert decide(Answer(401), attempt=1).flag_cluster
    assert decide(Answer(403, "Forbidden", "no"), attempt=1).flag_cluster
    assert not decide(BLOCKED, attempt=1).flag_cluster


def test_budget_cause_without_numbers_still_names_it():
    answer = Answer(429, causes=(Cause("DisruptionBudget", "something new"),))
    assert budget_from(answer) == Budget("something new", None, None)  # no numbers made up


@pytest.mark.parametrize("attempt", range(1, 12))
def test_backoff_stays_within_half_and_full_delay_and_under_the_cap(attempt):
    delay = min(30.0, 2 ** (attempt - 1))
    for seed in range(20):
        value = backoff(attempt, base=1.0, cap=30.0, rng=random.Random(seed))
        assert delay / 2 <= value <= delay
