"""The schedule page's timeline as pure functions: where a request falls in time, and where windows and requests
go on a strip of days drawn as SVG (viewBox units; the stylesheet colours them, the template only places them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from evictions.windows import WindowSpec, describe, next_opening

WIDTH = 1200.0  # viewBox width; the SVG scales to the page
LABEL_WIDTH = 170.0  # the cluster names on the left
HEADER = 40.0  # the dates on top
LANE = 22.0  # one line of requests
ROW_PAD = 6.0
MIN_MARK = 8.0  # a request that starts at a moment: a small block
CHAR = 6.4  # approximate width of a label character at the page's font size
LABEL_GAP = 4.0

STARTED = {"running", "needs_intervention", "paused"}


# ---- where a request falls in time --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    start: datetime | None  # None: nothing in sight (a window schedule with no window in the next days)
    end: datetime | None  # None: a moment (it starts then), not a span
    words: str  # why it is placed there, for the tooltip and the list


def place_request(
    *,
    status: str,
    schedule: str,
    started_at: datetime | None,
    not_before: datetime | None,
    specs: list[WindowSpec],
    now: datetime,
) -> Placement:
    """Running requests span from their start until now; waiting ones sit at the moment they may start: now, their
    not-before time, or the next maintenance window after it for window-scheduled ones."""
    if status in STARTED and started_at is not None:
        return Placement(started_at, max(now, started_at), f"running since {started_at:%a %d %b %H:%M} UTC")
    earliest = max(now, not_before) if not_before is not None else now
    if schedule == "window":
        window = next_opening(specs, earliest)
        if window is None:
            return Placement(None, None, "waits for a maintenance window; none opens in the next 15 days")
        start = max(window.start, earliest)
        return Placement(start, None, f"in the maintenance window from {describe(window.start)}")
    if not_before is not None and not_before > now:
        return Placement(not_before, None, f"not before {describe(not_before)}")
    return Placement(now, None, "may start now" if status == "scheduled" else "starts once approved")


# ---- the strip -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """Something to draw: a window (start and end) or a request (end None: a moment)."""

    start: datetime
    end: datetime | None
    label: str
    title: str
    url: str = ""
    css: str = ""


@dataclass(frozen=True)
class RowInput:
    name: str
    url: str = ""
    windows: list[Span] = field(default_factory=list)
    items: list[Span] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float
    label: str
    title: str
    url: str = ""
    css: str = ""
    lane: int = 0
    text_x: float = 0.0
    text_end: bool = False  # the label is drawn to the left of the block (near the right edge)
    cut_before: bool = False  # it began before the strip does
    cut_after: bool = False

    @property
    def text_y(self) -> float:
        return round(self.y + self.height - 4, 1)


@dataclass(frozen=True)
class Day:
    x: float
    width: float
    label: str  # "Mon 2 Jun"
    weekend: bool

    @property
    def text_x(self) -> float:
        return round(self.x + LABEL_GAP, 1)

    @property
    def weekday(self) -> str:
        return self.label.split(" ", 1)[0]

    @property
    def date(self) -> str:
        return self.label.split(" ", 1)[1]


@dataclass(frozen=True)
class Row:
    name: str
    url: str
    y: float
    height: float
    windows: list[Box]
    items: list[Box]
    later: list[Span]  # requests after the end of the strip
    note: str

    @property
    def text_y(self) -> float:
        return round(self.y + self.height / 2 + 4, 1)


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    chart_x: float
    since: datetime
    until: datetime
    days: list[Day]
    rows: list[Row]
    now_x: float | None


def _x(moment: datetime, since: datetime, until: datetime) -> float:
    share = (moment - since) / (until - since)
    return round(LABEL_WIDTH + (WIDTH - LABEL_WIDTH) * min(1.0, max(0.0, share)), 1)


def _label_width(label: str) -> float:
    return len(label) * CHAR + 2 * LABEL_GAP


def layout(rows: list[RowInput], *, since: datetime, days: int, now: datetime) -> Layout:
    """Place every row's windows (full-height blocks) and requests (stacked in lanes so labels never overlap)."""
    until = since + timedelta(days=days)
    day_marks = []
    day_width = round((WIDTH - LABEL_WIDTH) / days, 1)
    for number in range(days):
        day = since + timedelta(days=number)
        day_marks.append(Day(_x(day, since, until), day_width, f"{day:%a} {day.day} {day:%b}", day.weekday() >= 5))
    placed: list[Row] = []
    y = HEADER
    for row in rows:
        items: list[tuple[Span, float, float, float, float, bool]] = []  # span, x, w, from, to, text at left
        later = []
        for span in sorted(row.items, key=lambda s: (s.start, s.label)):
            if span.start >= until:
                later.append(span)
                continue
            if span.end is not None and span.end <= since:
                continue
            x = _x(span.start, since, until)
            width = max(MIN_MARK, _x(span.end, since, until) - x) if span.end is not None else MIN_MARK
            text = _label_width(span.label)
            # The label goes right of its block, or left of it where it would run off the strip.
            text_left = x + width + text > WIDTH
            occupied = (x - text, x + width) if text_left else (x, x + width + text)
            items.append((span, x, width, occupied[0], occupied[1], text_left))
        lanes: list[float] = []  # where each lane is free again
        assigned = []
        for entry in sorted(items, key=lambda e: (e[3], e[1])):
            lane = next((n for n, free in enumerate(lanes) if free <= entry[3]), len(lanes))
            if lane == len(lanes):
                lanes.append(entry[4])
            else:
                lanes[lane] = entry[4]
            assigned.append((entry, lane))
        height = 2 * ROW_PAD + max(1, len(lanes)) * LANE
        boxes = []
        for (span, x, width, _, _, text_left), lane in assigned:
            top = y + ROW_PAD + lane * LANE + 3
            boxes.append(
                Box(
                    x=x,
                    y=round(top, 1),
                    width=round(width, 1),
                    height=LANE - 6,
                    label=span.label,
                    title=span.title,
                    url=span.url,
                    css=span.css,
                    lane=lane,
                    text_x=round(x - LABEL_GAP if text_left else x + width + LABEL_GAP, 1),
                    text_end=text_left,
                    cut_before=span.start < since,
                    cut_after=span.end is not None and span.end > until,
                )
            )
        windows = []
        for span in row.windows:
            end = span.end or span.start
            if end <= since or span.start >= until:
                continue
            x = _x(span.start, since, until)
            windows.append(
                Box(
                    x=x,
                    y=y + 1,
                    width=round(max(1.0, _x(end, since, until) - x), 1),
                    height=height - 2,
                    label=span.label,
                    title=span.title,
                    url=span.url,
                    css=span.css,
                    cut_before=span.start < since,
                    cut_after=end > until,
                )
            )
        placed.append(Row(row.name, row.url, y, height, windows, boxes, later, row.note))
        y += height
    now_x = _x(now, since, until) if since <= now <= until else None
    return Layout(
        width=WIDTH,
        height=y + 4,
        chart_x=LABEL_WIDTH,
        since=since,
        until=until,
        days=day_marks,
        rows=placed,
        now_x=now_x,
    )


def strip_start(now: datetime) -> datetime:
    """The strip starts at midnight UTC of today, so its gridlines are whole days."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
