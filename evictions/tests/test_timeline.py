"""The schedule's timeline as a table: where a request is placed in time, and where windows and requests land on
the strip (x in viewBox units, lanes so that labels never overlap)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from evictions.timeline import (
    HEADER,
    LABEL_WIDTH,
    LANE,
    MIN_MARK,
    ROW_PAD,
    WIDTH,
    RowInput,
    Span,
    layout,
    place_request,
    strip_start,
)
from evictions.windows import WindowSpec

MON = datetime(2025, 6, 2, tzinfo=UTC)  # a Monday
NOW = MON + timedelta(hours=12)
DAY = (WIDTH - LABEL_WIDTH) / 15  # one day of a 15-day strip
NIGHTLY = WindowSpec(kind="recurring", weekdays=(1, 3), start=time(2), end=time(4), tz="UTC", label="patch")


def at(days: float) -> datetime:
    return MON + timedelta(days=days)


def x(days: float) -> float:
    return round(LABEL_WIDTH + DAY * days, 1)


@pytest.mark.parametrize(
    ("status", "schedule", "started", "not_before", "specs", "start", "end", "words"),
    [
        ("running", "now", at(0.25), None, [], at(0.25), NOW, "running since Mon 02 Jun 06:00 UTC"),
        ("running", "now", at(0.75), None, [], at(0.75), at(0.75), "running since"),  # clocks: never before start
        ("paused", "window", at(0.1), None, [NIGHTLY], at(0.1), NOW, "running since"),
        ("scheduled", "now", None, None, [], NOW, None, "may start now"),
        ("awaiting_approval", "now", None, None, [], NOW, None, "starts once approved"),
        ("scheduled", "not_before", None, at(3), [], at(3), None, "not before Thu 5 Jun 00:00 UTC"),
        ("scheduled", "not_before", None, at(0.1), [], NOW, None, "may start now"),  # its time has come
        ("scheduled", "window", None, None, [NIGHTLY], at(1 + 2 / 24), None, "window from Tue 3 Jun 02:00"),
        ("scheduled", "window", None, at(2), [NIGHTLY], at(3 + 2 / 24), None, "window from Thu 5 Jun 02:00"),
        ("awaiting_approval", "window", None, None, [], None, None, "none opens in the next 15 days"),
        ("paused", "now", None, None, [], NOW, None, "starts once approved"),  # paused before it started
    ],
)
def test_place_request(status, schedule, started, not_before, specs, start, end, words):
    placed = place_request(
        status=status, schedule=schedule, started_at=started, not_before=not_before, specs=specs, now=NOW
    )
    assert (placed.start, placed.end) == (start, end)
    assert words in placed.words


def test_a_window_open_now_places_the_request_now():
    open_now = WindowSpec(kind="one_off", starts_at=at(0.4), ends_at=at(0.6), label="once")
    placed = place_request(
        status="scheduled", schedule="window", started_at=None, not_before=None, specs=[open_now], now=NOW
    )
    assert placed.start == NOW


ROW_Y = HEADER
ONE_LANE = 2 * ROW_PAD + LANE


@pytest.mark.parametrize(
    ("windows", "expected"),
    [
        ([(0.5, 1.0)], [(x(0.5), x(1.0) - x(0.5), False, False)]),  # half a day, from noon
        ([(-1, 0.25)], [(x(0), x(0.25) - x(0), True, False)]),  # began before the strip: cut on the left
        ([(14.5, 16)], [(x(14.5), x(15) - x(14.5), False, True)]),  # runs past the end: cut on the right
        ([(-3, -2), (16, 17)], []),  # entirely outside: not drawn
        ([(2, 2 + 1 / 24 / 60)], [(x(2), 1.0, False, False)]),  # a minute: still visible
    ],
)
def test_windows_are_placed_by_time_and_cut_at_the_edges(windows, expected):
    spans = [Span(at(a), at(b), "w", "w") for a, b in windows]
    row = layout([RowInput("prod", windows=spans)], since=MON, days=15, now=NOW).rows[0]
    assert [(b.x, round(b.width, 1), b.cut_before, b.cut_after) for b in row.windows] == [
        (ex, round(w, 1), cb, ca) for ex, w, cb, ca in expected
    ]
    assert all((b.y, b.height) == (ROW_Y + 1, ONE_LANE - 2) for b in row.windows)


@pytest.mark.parametrize(
    ("items", "lanes", "later"),
    [
        ([(1, None, "#1")], [0], []),
        ([(1, None, "#1"), (1, None, "#2")], [0, 1], []),  # same moment: stacked
        ([(1, None, "#1"), (1.1, None, "#2")], [0, 1], []),  # 0.1 day apart: the first label is in the way
        ([(1, None, "#1"), (5, None, "#2")], [0, 0], []),  # far apart: one lane
        ([(0.2, 0.5, "#1 drain node-1"), (0.3, None, "#2")], [0, 1], []),  # a running bar and a start inside it
        ([(1, None, "#1"), (16, None, "#2")], [0], ["#2"]),  # after the strip: listed as later
        ([(-2, -1, "#1")], [], []),  # finished before the strip: not drawn
    ],
)
def test_requests_take_lanes_so_labels_never_overlap(items, lanes, later):
    spans = [Span(at(a), at(b) if b is not None else None, label, label) for a, b, label in items]
    result = layout([RowInput("prod", items=spans)], since=MON, days=15, now=NOW)
    row = result.rows[0]
    assert [b.lane for b in sorted(row.items, key=lambda b: b.label)] == lanes
    assert [s.label for s in row.later] == later
    assert row.height == 2 * ROW_PAD + max(1, len(set(lanes))) * LANE
    for box in row.items:
        assert box.y == round(ROW_Y + ROW_PAD + box.lane * LANE + 3, 1)


def test_marks_bars_rows_days_and_now():
    rows = [
        RowInput("a", items=[Span(at(2), None, "#1", "t"), Span(at(0.25), NOW, "#2 drain n", "t")]),
        RowInput("b", items=[Span(at(1), None, "#3", "t"), Span(at(1), None, "#4", "t")]),
        RowInput("c", note="no maintenance windows"),
    ]
    result = layout(rows, since=MON, days=15, now=NOW)
    mark = next(b for b in result.rows[0].items if b.label == "#1")
    assert (mark.x, mark.width, mark.text_x, mark.text_end) == (x(2), MIN_MARK, round(x(2) + MIN_MARK + 4, 1), False)
    assert mark.lane == 0  # the bar's label ends before day 2
    bar = next(b for b in result.rows[0].items if b.label == "#2 drain n")
    assert (bar.x, bar.width) == (x(0.25), round(x(0.5) - x(0.25), 1))
    assert bar.text_x == round(bar.x + bar.width + 4, 1)  # labels follow their block
    assert [(r.y, r.height) for r in result.rows] == [
        (HEADER, ONE_LANE),
        (HEADER + ONE_LANE, ONE_LANE + LANE),  # two requests at the same moment: two lanes
        (HEADER + 2 * ONE_LANE + LANE, ONE_LANE),
    ]
    assert result.height == HEADER + 3 * ONE_LANE + LANE + 4
    assert result.now_x == x(0.5)
    assert [d.label for d in result.days[:7]] == [
        "Mon 2 Jun", "Tue 3 Jun", "Wed 4 Jun", "Thu 5 Jun", "Fri 6 Jun", "Sat 7 Jun", "Sun 8 Jun",
    ]  # fmt: skip
    assert [d.weekend for d in result.days[:7]] == [False] * 5 + [True] * 2
    assert [d.x for d in result.days[:3]] == [x(0), x(1), x(2)]
    assert layout([], since=MON, days=15, now=MON - timedelta(days=1)).now_x is None


def test_a_label_near_the_right_edge_is_drawn_to_the_left_of_its_mark():
    row = layout(
        [RowInput("a", items=[Span(at(14.9), None, "#9 drain a-long-node-name", "t")])], since=MON, days=15, now=NOW
    ).rows[0]
    box = row.items[0]
    assert box.text_end and box.text_x == round(box.x - 4, 1)


def test_the_strip_starts_at_midnight_utc():
    assert strip_start(datetime(2025, 6, 2, 23, 59, tzinfo=UTC)) == MON
    assert strip_start(MON) == MON
