"""The gates before a rollout's next node, each pass or hold in words, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from clusters.kubetypes import LabelSelector, Pdb
from evictions.windows import WindowSpec
from rollouts.gates import (
    Gate,
    alerts_gate,
    budgets_gate,
    first_hold,
    paused_gate,
    soak_gate,
    window_gate,
)

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)  # a Saturday
EVERY_DAY = tuple(range(7))
NIGHTS = WindowSpec("recurring", EVERY_DAY, time(2, 0), time(4, 0), "UTC")
MORNINGS = WindowSpec("recurring", EVERY_DAY, time(8, 0), time(10, 0), "UTC")
BERLIN_NIGHTS = WindowSpec("recurring", EVERY_DAY, time(2, 0), time(4, 0), "Europe/Berlin")
PAST = WindowSpec("one_off", starts_at=NOW - timedelta(days=2), ends_at=NOW - timedelta(days=1))


@pytest.mark.parametrize(
    ("paused", "reason", "gate"),
    [
        (False, "", Gate("paused", True)),
        (True, "etcd upgrade", Gate("paused", False, "The cluster is paused: etcd upgrade.")),
        (True, "", Gate("paused", False, "The cluster is paused: no reason given.")),
    ],
)
def test_a_paused_cluster_holds(paused, reason, gate):
    assert paused_gate(paused=paused, reason=reason) == gate


@pytest.mark.parametrize(
    ("uses_windows", "windows", "tz", "gate"),
    [
        (False, [], "UTC", Gate("window", True)),  # not scheduled in windows: always open
        (True, [MORNINGS], "UTC", Gate("window", True)),
        (True, [NIGHTS, MORNINGS], "UTC", Gate("window", True)),
        (
            True,
            [NIGHTS],
            "UTC",
            Gate(
                "window",
                False,
                "The maintenance window is closed; the next one opens Sun 29 Nov 02:00 UTC.",
                datetime(2026, 11, 29, 2, 0, tzinfo=UTC),
            ),
        ),
        (
            True,
            [BERLIN_NIGHTS],
            "Europe/Berlin",
            Gate(
                "window",
                False,
                "The maintenance window is closed; the next one opens Sun 29 Nov 02:00 Europe/Berlin (01:00 UTC).",
                datetime(2026, 11, 29, 1, 0, tzinfo=UTC),
            ),
        ),
        (
            True,
            [PAST],
            "UTC",
            Gate(
                "window",
                False,
                "The maintenance window is closed, and none opens in the next 15 days.",
                NOW + timedelta(hours=1),
            ),
        ),
        (
            True,
            [],
            "UTC",
            Gate(
                "window",
                False,
                "The maintenance window is closed, and none opens in the next 15 days.",
                NOW + timedelta(hours=1),
            ),
        ),
    ],
)
def test_a_closed_window_holds_until_the_next_one_opens(uses_windows, windows, tz, gate):
    assert window_gate(now=NOW, uses_windows=uses_windows, windows=windows, display_tz=tz) == gate


def test_the_window_closing_at_this_moment_holds():
    closing = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert not window_gate(now=closing, uses_windows=True, windows=[MORNINGS]).passed


@pytest.mark.parametrize(
    ("configured", "pattern", "firing", "error", "passed", "words"),
    [
        (False, "", None, "", True, ""),  # no alert source: nothing to hold on
        (True, "", [], "", True, ""),
        (True, "", ["Watchdog"], "", False, "Alert firing: Watchdog."),  # an empty pattern matches every alert
        (True, "^Node", ["Watchdog", "KubeCPUOvercommit"], "", True, ""),
        (
            True,
            "^Node",
            ["NodeDown", "Watchdog", "NodeDiskPressure"],
            "",
            False,
            "Alerts firing: NodeDiskPressure, NodeDown.",
        ),
        (True, "Error", ["HighErrorRate"], "", False, "Alert firing: HighErrorRate."),  # searched, not anchored
        (True, "^(?!Watchdog$)", ["Watchdog"], "", True, ""),  # a filter can exclude an always-firing alert
        (True, "Node", ["NodeDown", "NodeDown"], "", False, "Alert firing: NodeDown."),
        (
            True,
            "A",
            ["A1", "A2", "A3", "A4", "A5", "A6", "A7"],
            "",
            False,
            "Alerts firing: A1, A2, A3, A4, A5 and 2 more.",
        ),
        (
            True,
            "Node",
            None,
            "Prometheus unreachable (timeout)",
            False,
            "Could not check the cluster's alerts: Prometheus unreachable (timeout).",
        ),
        (True, "Node", None, "", False, "Could not check the cluster's alerts: no answer."),
        (
            True,
            "Node(",
            ["NodeDown"],
            "",
            False,
            "The alert filter 'Node(' is not a valid regular expression "
            "(missing ), unterminated subpattern at position 4).",
        ),
    ],
)
def test_matching_alerts_hold_and_unreadable_alerts_hold(configured, pattern, firing, error, passed, words):
    gate = alerts_gate(configured=configured, pattern=pattern, firing=firing, error=error)
    assert (gate.name, gate.passed, gate.words) == ("alerts", passed, words)


def pdb(name: str, healthy: int, desired: int, *, generation: int = 1, observed: int = 1) -> Pdb:
    return Pdb("shop", name, f"uid-{name}", LabelSelector(), "2", None, 0, healthy, desired, 3, generation, observed)


@pytest.mark.parametrize(
    ("touched", "passed", "words"),
    [
        ([], True, ""),
        ([pdb("web", 3, 2)], True, ""),
        ([pdb("web", 2, 2)], True, ""),  # exactly desired is healthy
        ([pdb("web", 1, 2)], False, "Waiting for budgets to be healthy again: shop/web (healthy 1, desired 2)."),
        (
            [pdb("web", 1, 2), pdb("db", 2, 2), pdb("cache", 0, 1)],
            False,
            "Waiting for budgets to be healthy again: "
            "shop/cache (healthy 0, desired 1), shop/web (healthy 1, desired 2).",
        ),
        (
            [pdb("web", 3, 2, generation=2, observed=1)],
            False,
            "Waiting for budgets to be healthy again: shop/web (not processed yet by the disruption controller).",
        ),
    ],
)
def test_touched_budgets_must_be_healthy_again(touched, passed, words):
    gate = budgets_gate(touched)
    assert (gate.name, gate.passed, gate.words) == ("budgets", passed, words)


@pytest.mark.parametrize(
    ("soak", "node", "finished_at", "gate"),
    [
        (0, "n1", NOW, Gate("soak", True)),
        (300, "", None, Gate("soak", True)),  # nothing finished yet
        (300, "n1", NOW - timedelta(seconds=300), Gate("soak", True)),
        (300, "n1", NOW - timedelta(seconds=600), Gate("soak", True)),
        (
            300,
            "n1",
            NOW - timedelta(seconds=175),
            Gate("soak", False, "Soaking after n1: 2m 5s left.", NOW + timedelta(seconds=125)),
        ),
        (60, "", NOW, Gate("soak", False, "Soaking: 1m 0s left.", NOW + timedelta(seconds=60))),
    ],
)
def test_soak_time_holds_after_a_node(soak, node, finished_at, gate):
    assert soak_gate(now=NOW, soak_seconds=soak, last_node=node, finished_at=finished_at) == gate


@pytest.mark.parametrize(
    ("gates", "hold"),
    [
        ([], None),
        ([Gate("paused", True), Gate("window", True)], None),
        ([Gate("paused", True), Gate("alerts", False, "a"), Gate("soak", False, "s")], Gate("alerts", False, "a")),
    ],
)
def test_the_first_gate_that_holds_is_the_hold(gates, hold):
    assert first_hold(gates) == hold
