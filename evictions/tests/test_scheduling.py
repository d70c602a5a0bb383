"""Whether a request starts now, as a table: approvals, not-before, windows, a paused cluster, the drain queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evictions.approvals import Tally
from evictions.scheduling import StartInputs, decide_start
from evictions.windows import Interval

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
APPROVED = Tally(required=1, valid=("adam",))
OPEN = Interval(NOW - timedelta(hours=1), NOW + timedelta(hours=1))
LATER = Interval(NOW + timedelta(hours=14), NOW + timedelta(hours=16))


def inputs(**overrides) -> StartInputs:
    values = {"now": NOW, "schedule": "now", "tally": APPROVED}
    values.update(overrides)
    return StartInputs(**values)


@pytest.mark.parametrize(
    ("overrides", "go", "words", "check_again"),
    [
        ({}, True, "", None),
        ({"tally": Tally(required=1, expired=("adam",))}, False, "Approval no longer holds", None),
        (
            {"not_before": NOW + timedelta(minutes=5)},
            False,
            "Not before Sat 28 Nov 12:05 UTC",
            NOW + timedelta(minutes=5),
        ),
        ({"not_before": NOW - timedelta(minutes=5)}, True, "", None),
        ({"schedule": "window", "window": OPEN}, True, "", None),
        (
            {"schedule": "window", "next_window": LATER},
            False,
            "next maintenance window, opening Sun 29 Nov 02:00",
            LATER.start,
        ),
        ({"schedule": "window"}, False, "none opens in the next 15 days", NOW + timedelta(hours=1)),
        ({"schedule": "now", "next_window": LATER}, True, "", None),  # windows bind only window requests
        ({"cluster_paused": True, "paused_reason": "incident 42"}, False, "The cluster is paused: incident 42", None),
        ({"is_drain": True, "drains_in_progress": 1, "drain_limit": 1}, False, "number 1 in line", None),
        ({"is_drain": True, "drains_in_progress": 1, "drain_limit": 2}, True, "", None),
        (
            {"is_drain": True, "drains_in_progress": 0, "drain_limit": 1, "queued_ahead": 1},
            False,
            "number 2 in line",
            None,
        ),
        ({"is_drain": False, "drains_in_progress": 5, "drain_limit": 1}, True, "", None),  # the limit counts drains
    ],
)
def test_start_decision(overrides, go, words, check_again):
    decision = decide_start(inputs(**overrides))
    assert decision.go is go
    assert words in decision.reason
    assert decision.check_again_at == check_again


def test_an_expired_approval_sends_the_request_back_for_approval():
    decision = decide_start(inputs(tally=Tally(required=1, no_longer_allowed=("adam",))))
    assert decision.needs_approval_again and not decision.go


def test_a_window_request_runs_until_its_window_closes():
    assert decide_start(inputs(schedule="window", window=OPEN)).window_ends_at == OPEN.end
    assert decide_start(inputs(schedule="now", window=OPEN)).window_ends_at is None
