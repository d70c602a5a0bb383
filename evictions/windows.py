"""Maintenance-window arithmetic: pure functions from window definitions and a moment to open intervals.

Recurring windows are wall-clock times in an IANA time zone, so a 02:00-04:00 Europe/Berlin window is 01:00-03:00
UTC in winter and 00:00-02:00 UTC in summer. A start that does not exist (the hour skipped in spring) moves forward
with the clock; an ambiguous one (the hour repeated in autumn) is its first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

LOOK_AHEAD_DAYS = 15


@dataclass(frozen=True)
class WindowSpec:
    kind: str  # "recurring" or "one_off"
    weekdays: tuple[int, ...] = ()
    start: time | None = None
    end: time | None = None
    tz: str = "UTC"
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    label: str = ""
    window_id: int | None = None


@dataclass(frozen=True)
class Interval:
    start: datetime  # aware, UTC
    end: datetime
    labels: tuple[str, ...] = ()

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def _local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    # Round-trip through UTC so a time in the spring gap lands on the real clock (02:30 → 03:30 CEST).
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC).astimezone(zone)


def occurrences(spec: WindowSpec, since: datetime, until: datetime) -> list[Interval]:
    """Every opening of one window that overlaps [since, until), in UTC."""
    label = (spec.label or "",)
    if spec.kind == "one_off":
        if spec.starts_at is None or spec.ends_at is None:
            return []
        if spec.ends_at <= since or spec.starts_at >= until:
            return []
        return [Interval(spec.starts_at.astimezone(UTC), spec.ends_at.astimezone(UTC), label)]
    if spec.start is None or spec.end is None or not spec.weekdays:
        return []
    zone = ZoneInfo(spec.tz)
    first = since.astimezone(zone).date() - timedelta(days=1)  # yesterday's window may run past midnight
    last = until.astimezone(zone).date()
    found = []
    day = first
    while day <= last:
        if day.weekday() in spec.weekdays:
            end_day = day if spec.end > spec.start else day + timedelta(days=1)
            start_at = _local(day, spec.start, zone).astimezone(UTC)
            end_at = _local(end_day, spec.end, zone).astimezone(UTC)
            if end_at > since and start_at < until and end_at > start_at:
                found.append(Interval(start_at, end_at, label))
        day += timedelta(days=1)
    return found


def merged(specs: list[WindowSpec], since: datetime, until: datetime) -> list[Interval]:
    """All windows' openings in [since, until), overlapping or touching ones joined into one."""
    spans = sorted((i for spec in specs for i in occurrences(spec, since, until)), key=lambda i: i.start)
    out: list[Interval] = []
    for span in spans:
        if out and span.start <= out[-1].end:
            last = out[-1]
            labels = last.labels + tuple(x for x in span.labels if x not in last.labels)
            out[-1] = Interval(last.start, max(last.end, span.end), labels)
        else:
            out.append(span)
    return out


def open_at(specs: list[WindowSpec], moment: datetime) -> Interval | None:
    """The (joined) window open at this moment, with its real end; None when every window is closed."""
    for span in merged(specs, moment - timedelta(days=8), moment + timedelta(days=LOOK_AHEAD_DAYS)):
        if span.contains(moment):
            return span
    return None


def next_opening(specs: list[WindowSpec], moment: datetime) -> Interval | None:
    """The window open now, or else the next one to open within LOOK_AHEAD_DAYS."""
    for span in merged(specs, moment - timedelta(days=8), moment + timedelta(days=LOOK_AHEAD_DAYS)):
        if span.end > moment:
            return span
    return None


def valid_timezone(name: str) -> bool:
    if name not in available_timezones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def describe(moment: datetime, tz: str = "UTC") -> str:
    """'Tue 1 Dec 02:00 Europe/Berlin (01:00 UTC)': a moment as people in that zone and the UTC log read it."""
    local = moment.astimezone(ZoneInfo(tz))
    text = f"{local:%a} {local.day} {local:%b %H:%M} {tz}"
    if tz != "UTC":
        text += f" ({moment.astimezone(UTC):%H:%M} UTC)"
    return text
