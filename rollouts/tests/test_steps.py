"""A rollout's next step and a node's reboot, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rollouts.gates import Gate
from rollouts.steps import NodeStatus as S
from rollouts.steps import RebootCheck, RebootState, Step, StepKind, next_step, reboot_check

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
OPEN = (Gate("paused", True), Gate("window", True), Gate("alerts", True), Gate("budgets", True), Gate("soak", True))
ALERT = Gate("alerts", False, "Alert firing: NodeDown.")
SOAK = Gate("soak", False, "Soaking after n1: 30s left.", NOW + timedelta(seconds=30))


def nodes(*statuses: S) -> list[tuple[str, S]]:
    return [(f"n{i}", status) for i, status in enumerate(statuses, start=1)]


@pytest.mark.parametrize(
    ("statuses", "max_unavailable", "failure_limit", "gates", "step"),
    [
        # a fresh rollout starts max_unavailable nodes, in order
        ((S.QUEUED,) * 5, 2, 1, OPEN, Step(StepKind.START, ("n1", "n2"))),
        ((S.QUEUED,) * 2, 5, 1, (), Step(StepKind.START, ("n1", "n2"))),
        # cordoned up front counts as not started
        ((S.CORDONED,) * 3, 1, 1, OPEN, Step(StepKind.START, ("n1",))),
        # one slot frees: one node starts; finished nodes are passed over
        ((S.DONE, S.DRAINING, S.SKIPPED, S.GONE, S.QUEUED, S.QUEUED), 2, 1, OPEN, Step(StepKind.START, ("n5",))),
        # waiting for a reboot holds its slot
        (
            (S.WAITING_FOR_REBOOT, S.DRAINING, S.QUEUED),
            2,
            1,
            OPEN,
            Step(StepKind.HOLD, words="2 of 2 nodes at a time in progress: n1, n2."),
        ),
        # a soaking node does not hold a slot, but the soak gate holds the next node
        ((S.SOAKING, S.QUEUED), 1, 1, (Gate("soak", True),), Step(StepKind.START, ("n2",))),
        (
            (S.SOAKING, S.QUEUED),
            1,
            1,
            (*OPEN[:4], SOAK),
            Step(StepKind.HOLD, words=SOAK.words, gate="soak", check_again_at=SOAK.check_again_at),
        ),
        # a gate holds even with free slots; the first that holds is named
        ((S.QUEUED,) * 3, 2, 1, (*OPEN[:2], ALERT, SOAK), Step(StepKind.HOLD, words=ALERT.words, gate="alerts")),
        # max_unavailable lowered while running: nothing starts until enough finish
        (
            (S.DRAINING, S.DRAINING, S.DRAINING, S.QUEUED),
            2,
            1,
            OPEN,
            Step(StepKind.HOLD, words="3 of 2 nodes at a time in progress: n1, n2, n3."),
        ),
        # failures below the limit: the rollout goes on
        ((S.FAILED, S.QUEUED, S.QUEUED), 1, 2, OPEN, Step(StepKind.START, ("n2",))),
        # at the failure limit: no new node, whatever the gates say
        (
            (S.FAILED, S.DRAINING, S.QUEUED),
            2,
            1,
            (ALERT,),
            Step(StepKind.NEEDS_INTERVENTION, words="1 node failed (n1); the failure limit is 1: no new node starts."),
        ),
        (
            (S.FAILED, S.DONE, S.FAILED, S.QUEUED),
            1,
            2,
            OPEN,
            Step(
                StepKind.NEEDS_INTERVENTION,
                words="2 nodes failed (n1, n3); the failure limit is 2: no new node starts.",
            ),
        ),
        # every node started: wait for the last ones, no gate involved
        (
            (S.DONE, S.DRAINING, S.SOAKING),
            3,
            1,
            (ALERT,),
            Step(StepKind.HOLD, words="No node left to start; waiting for n2, n3 to finish."),
        ),
        # the end
        (
            (S.DONE, S.DONE, S.SKIPPED, S.GONE),
            2,
            1,
            OPEN,
            Step(StepKind.DONE, words="All 4 nodes finished: 2 done, 1 skipped, 1 gone."),
        ),
        (
            (S.DONE, S.FAILED, S.DONE),
            1,
            2,
            OPEN,
            Step(StepKind.DONE, words="All 3 nodes finished: 2 done, 1 failed."),
        ),
        ((S.GONE,), 1, 1, OPEN, Step(StepKind.DONE, words="All 1 node finished: 1 gone.")),
        ((), 1, 1, OPEN, Step(StepKind.DONE, words="All 0 nodes finished: none.")),
    ],
)
def test_the_next_step(statuses, max_unavailable, failure_limit, gates, step):
    assert (
        next_step(nodes(*statuses), max_unavailable=max_unavailable, failure_limit=failure_limit, gates=gates) == step
    )


@pytest.mark.parametrize(("max_unavailable", "failure_limit"), [(0, 1), (1, 0), (-1, 1)])
def test_limits_below_one_are_refused(max_unavailable, failure_limit):
    with pytest.raises(ValueError):
        next_step(nodes(S.QUEUED), max_unavailable=max_unavailable, failure_limit=failure_limit)


SINCE = NOW - timedelta(minutes=4, seconds=10)
TIMEOUT = timedelta(minutes=30)


@pytest.mark.parametrize(
    ("before", "now_id", "ready", "since", "check"),
    [
        (
            "boot-1",
            "boot-2",
            True,
            SINCE,
            RebootCheck(RebootState.BACK, "n1 is back: rebooted and Ready after 4m 10s."),
        ),
        (
            "boot-1",
            "boot-1",
            True,
            SINCE,
            RebootCheck(
                RebootState.WAITING, "Waiting for n1 to reboot (4m 10s so far): it has not rebooted yet (same bootID)."
            ),
        ),
        (
            "boot-1",
            "boot-2",
            False,
            SINCE,
            RebootCheck(
                RebootState.WAITING, "Waiting for n1 to reboot (4m 10s so far): it rebooted and is not Ready yet."
            ),
        ),
        (
            "boot-1",
            None,
            False,
            SINCE,
            RebootCheck(
                RebootState.WAITING, "Waiting for n1 to reboot (4m 10s so far): it is not found in the cluster."
            ),
        ),
        # the timeout
        (
            "boot-1",
            "boot-1",
            True,
            NOW - TIMEOUT,
            RebootCheck(
                RebootState.FAILED, "n1 did not come back within 30m 0s: it has not rebooted yet (same bootID)."
            ),
        ),
        (
            "boot-1",
            "boot-2",
            False,
            NOW - TIMEOUT - timedelta(minutes=1),
            RebootCheck(RebootState.FAILED, "n1 did not come back within 30m 0s: it rebooted and is not Ready yet."),
        ),
        # back at the very moment of the timeout is back
        (
            "boot-1",
            "boot-2",
            True,
            NOW - TIMEOUT,
            RebootCheck(RebootState.BACK, "n1 is back: rebooted and Ready after 30m 0s."),
        ),
        (
            "",
            "boot-2",
            True,
            SINCE,
            RebootCheck(RebootState.FAILED, "n1 reported no bootID before its drain, so its reboot cannot be seen."),
        ),
    ],
)
def test_a_node_is_back_when_its_boot_id_changed_and_it_is_ready(before, now_id, ready, since, check):
    assert (
        reboot_check(
            node="n1", boot_id_before=before, boot_id_now=now_id, ready=ready, since=since, now=NOW, timeout=TIMEOUT
        )
        == check
    )
