"""Approval rules as pure functions: may this person vote, and do the votes cast let the request go ahead."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Vote:
    approver_id: int
    approver_name: str
    decision: str  # "approve" or "reject"
    at: datetime
    approver_allowed: bool = True  # still active, still holding the permission, still in the policy's list


@dataclass(frozen=True)
class Tally:
    required: int
    valid: tuple[str, ...] = ()  # approvers whose approval counts now
    expired: tuple[str, ...] = ()
    no_longer_allowed: tuple[str, ...] = ()
    rejected_by: str = ""
    oldest_valid_until: datetime | None = field(default=None)

    @property
    def approved(self) -> bool:
        return not self.rejected_by and len(self.valid) >= self.required

    @property
    def missing(self) -> int:
        return max(0, self.required - len(self.valid))

    def words(self) -> str:
        """Why the request may or may not go ahead, for the page and the audit log."""
        if self.rejected_by:
            return f"Rejected by {self.rejected_by}."
        if self.required == 0:
            return "No approval needed on this cluster."
        parts = [f"{len(self.valid)} of {self.required} approval(s)"]
        if self.expired:
            parts.append(f"expired: {', '.join(self.expired)}")
        if self.no_longer_allowed:
            parts.append(f"no longer allowed to approve: {', '.join(self.no_longer_allowed)}")
        if not self.approved:
            parts.append(f"needs {self.missing} more")
        return "; ".join(parts) + "."


def awaiting_words(tally: Tally) -> str:
    """The status line of a request still awaiting approval once its policy has changed: what it waits for now."""
    if tally.rejected_by or not tally.approved:
        return tally.words()
    # The bar was lowered after it was submitted. Nothing starts by itself on a policy change: a person decides.
    if tally.required == 0:
        return "The approval policy now needs no approval: one approval lets it go ahead, or cancel it."
    return f"{tally.words()[:-1]}, enough under the changed policy: one more approval lets it go ahead, or cancel it."


def policy_allows(
    *, user_id: int, permitted: bool, group_ids: set[int], named_users: set[int], named_groups: set[int]
) -> bool:
    """May this person approve under a policy: active with the approve permission (`permitted`) and, when the policy
    names people or groups, named or in one of the groups."""
    if not permitted:
        return False
    if not named_users and not named_groups:
        return True
    return user_id in named_users or bool(named_groups & group_ids)


def vote_refusal(
    *,
    voter_id: int,
    requester_id: int,
    voter_allowed: bool,
    already_voted: bool,
    awaiting: bool,
) -> str | None:
    """Why this person may not vote now, in words; None when the vote may be cast."""
    if voter_id == requester_id:
        return "You cannot approve or reject your own request; another person must."
    if not voter_allowed:
        return "You are not among the approvers of this cluster."
    if already_voted:
        return "You have already voted on this request; each person votes once."
    if not awaiting:
        return "This request is not waiting for approval."
    return None


def tally(votes: list[Vote], *, required: int, valid_minutes: int, now: datetime) -> Tally:
    """Count the approvals that still hold: given within valid_minutes by someone still allowed to approve."""
    valid, expired, gone = [], [], []
    rejected_by = ""
    valid_until: datetime | None = None
    for vote in votes:
        if vote.decision == "reject":
            rejected_by = rejected_by or vote.approver_name
            continue
        until = vote.at + timedelta(minutes=valid_minutes)
        if not vote.approver_allowed:
            gone.append(vote.approver_name)
        elif until <= now:
            expired.append(vote.approver_name)
        else:
            valid.append(vote.approver_name)
            valid_until = until if valid_until is None or until < valid_until else valid_until
    return Tally(
        required=required,
        valid=tuple(valid),
        expired=tuple(expired),
        no_longer_allowed=tuple(gone),
        rejected_by=rejected_by,
        oldest_valid_until=valid_until,
    )
