"""The approval rules as tables: who may vote, and which votes still count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evictions.approvals import Vote, awaiting_words, tally, vote_refusal

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("voter", "allowed", "voted", "awaiting", "refused_because"),
    [
        (2, True, False, True, None),
        (1, True, False, True, "your own request"),  # the requester is voter 1
        (1, False, False, True, "your own request"),  # self-approval is named first, whatever else holds
        (2, False, False, True, "not among the approvers"),
        (2, True, True, True, "already voted"),
        (2, True, False, False, "not waiting for approval"),
    ],
)
def test_who_may_vote(voter, allowed, voted, awaiting, refused_because):
    refusal = vote_refusal(
        voter_id=voter, requester_id=1, voter_allowed=allowed, already_voted=voted, awaiting=awaiting
    )
    if refused_because is None:
        assert refusal is None
    else:
        assert refusal is not None and refused_because in refusal


def vote(name: str, minutes_ago: int, decision: str = "approve", allowed: bool = True) -> Vote:
    return Vote(
        approver_id=hash(name),
        approver_name=name,
        decision=decision,
        at=NOW - timedelta(minutes=minutes_ago),
        approver_allowed=allowed,
    )


@pytest.mark.parametrize(
    ("votes", "required", "approved", "valid", "words"),
    [
        ([], 0, True, (), "No approval needed"),
        ([], 1, False, (), "needs 1 more"),
        ([vote("adam", 5)], 1, True, ("adam",), "1 of 1"),
        ([vote("adam", 5)], 2, False, ("adam",), "needs 1 more"),  # N of M: one is not enough
        ([vote("adam", 5), vote("alice", 1)], 2, True, ("adam", "alice"), "2 of 2"),
        ([vote("adam", 61)], 1, False, (), "expired: adam"),  # valid for 60 minutes
        ([vote("adam", 60)], 1, False, (), "expired: adam"),  # exactly at the limit: expired
        ([vote("adam", 5, allowed=False)], 1, False, (), "no longer allowed to approve: adam"),
        ([vote("adam", 5), vote("alice", 2, "reject")], 1, False, ("adam",), "Rejected by alice"),
    ],
)
def test_which_votes_count(votes, required, approved, valid, words):
    result = tally(votes, required=required, valid_minutes=60, now=NOW)
    assert result.approved is approved
    assert result.valid == valid
    assert words in result.words()


def test_the_oldest_valid_approval_says_until_when_the_request_may_start():
    result = tally([vote("adam", 50), vote("alice", 10)], required=2, valid_minutes=60, now=NOW)
    assert result.oldest_valid_until == NOW + timedelta(minutes=10)


@pytest.mark.parametrize(
    ("votes", "required", "words"),
    [
        ([], 2, "0 of 2 approval(s); needs 2 more."),
        ([vote("adam", 5)], 2, "1 of 2 approval(s); needs 1 more."),
        ([vote("adam", 61)], 1, "0 of 1 approval(s); expired: adam; needs 1 more."),
        ([vote("alice", 2, "reject")], 1, "Rejected by alice."),
        ([], 0, "The approval policy now needs no approval: one approval lets it go ahead, or cancel it."),
        (
            [vote("adam", 5)],
            1,
            "1 of 1 approval(s), enough under the changed policy: one more approval lets it go ahead, or cancel it.",
        ),
    ],
)
def test_what_an_awaiting_request_says_after_its_policy_changed(votes, required, words):
    assert awaiting_words(tally(votes, required=required, valid_minutes=60, now=NOW)) == words
