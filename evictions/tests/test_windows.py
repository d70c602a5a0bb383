"""Window arithmetic: recurring windows in a time zone (across daylight-saving changes), overnight and one-off
windows, joining, and the next opening."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from evictions.windows import WindowSpec, describe, merged, next_opening, occurrences, open_at, valid_timezone


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


BERLIN_NIGHTS = WindowSpec(
    kind="recurring", weekdays=(0, 1, 2, 3, 4, 5, 6), start=time(2), end=time(4), tz="Europe/Berlin"
)


@pytest.mark.parametrize(
    ("day", "opens_utc", "closes_utc"),
    [
        # Winter (CET, +1): 02:00-04:00 local is 01:00-03:00 UTC.
        (utc(2026, 3, 28, 12), utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)),  # the night the clocks go forward
        (utc(2026, 3, 29, 12), utc(2026, 3, 30, 0), utc(2026, 3, 30, 2)),  # summer (CEST, +2): 00:00-02:00 UTC
        (utc(2026, 10, 24, 12), utc(2026, 10, 25, 0), utc(2026, 10, 25, 3)),  # the night the clocks go back
        (utc(2026, 10, 25, 12), utc(2026, 10, 26, 1), utc(2026, 10, 26, 3)),  # winter again
    ],
)
def test_a_recurring_window_follows_the_wall_clock_across_daylight_saving(day, opens_utc, closes_utc):
    after = [i for i in occurrences(BERLIN_NIGHTS, day, day.replace(day=day.day + 1)) if i.start > day]
    first = after[0]
    assert (first.start, first.end) == (opens_utc, closes_utc)


def test_the_spring_gap_start_moves_forward_and_the_window_is_an_hour_shorter():
    # On 29 March 2026 02:00 local does not exist in Berlin: the window opens at 03:00 CEST (01:00 UTC).
    window = occurrences(BERLIN_NIGHTS, utc(2026, 3, 29, 0), utc(2026, 3, 29, 6))[0]
    assert window.start == utc(2026, 3, 29, 1)
    assert (window.end - window.start).total_seconds() == 3600


def test_the_autumn_window_lasts_three_real_hours():
    window = occurrences(BERLIN_NIGHTS, utc(2026, 10, 25, 0), utc(2026, 10, 25, 6))[0]
    assert (window.end - window.start).total_seconds() == 3 * 3600


def test_a_window_ending_before_it_starts_runs_past_midnight_on_the_given_weekday_only():
    friday_nights = WindowSpec(kind="recurring", weekdays=(4,), start=time(22), end=time(3), tz="UTC")
    found = occurrences(friday_nights, utc(2026, 11, 23), utc(2026, 11, 30))
    assert [(i.start, i.end) for i in found] == [(utc(2026, 11, 27, 22), utc(2026, 11, 28, 3))]
    assert open_at([friday_nights], utc(2026, 11, 28, 2, 59)) is not None
    assert open_at([friday_nights], utc(2026, 11, 28, 3)) is None  # the end is exclusive


def test_one_off_windows_and_joining_touching_windows():
    evening = WindowSpec(kind="recurring", weekdays=(5,), start=time(18), end=time(20), tz="UTC", label="evening")
    extra = WindowSpec(kind="one_off", starts_at=utc(2026, 11, 28, 20), ends_at=utc(2026, 11, 28, 23), label="extra")
    spans = merged([evening, extra], utc(2026, 11, 28), utc(2026, 11, 29))
    assert [(s.start, s.end, s.labels) for s in spans] == [
        (utc(2026, 11, 28, 18), utc(2026, 11, 28, 23), ("evening", "extra"))
    ]
    now = open_at([evening, extra], utc(2026, 11, 28, 19))
    assert now is not None and now.end == utc(2026, 11, 28, 23)  # a request keeps running into the next window


@pytest.mark.parametrize(
    ("moment", "expected_start"),
    [
        (utc(2026, 11, 27, 12), utc(2026, 11, 28, 1)),  # Friday noon: Saturday 02:00 Berlin
        (utc(2026, 11, 28, 1, 30), utc(2026, 11, 28, 1)),  # inside the window: the open one
        (utc(2026, 11, 28, 3), utc(2026, 11, 29, 1)),  # just closed: tomorrow's
    ],
)
def test_next_opening(moment, expected_start):
    upcoming = next_opening([BERLIN_NIGHTS], moment)
    assert upcoming is not None and upcoming.start == expected_start


def test_no_window_at_all_has_no_opening():
    assert next_opening([], utc(2026, 11, 28)) is None
    past = WindowSpec(kind="one_off", starts_at=utc(2026, 1, 1), ends_at=utc(2026, 1, 2))
    assert next_opening([past], utc(2026, 11, 28)) is None


def test_time_zone_names_and_descriptions():
    assert valid_timezone("Europe/Berlin") and valid_timezone("UTC")
    assert not valid_timezone("Mars/Olympus") and not valid_timezone("../etc/passwd") and not valid_timezone("")
    assert describe(utc(2026, 12, 1, 1), "Europe/Berlin") == "Tue 1 Dec 02:00 Europe/Berlin (01:00 UTC)"
    assert describe(utc(2026, 12, 1, 1)) == "Tue 1 Dec 01:00 UTC"
