"""A request's timeline picture as pure functions: each pod's phases over time (pending, blocked, terminating, …) from
its attempts and timestamps, and where they go on a strip drawn as SVG (viewBox units; the stylesheet colours them)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.words import duration_words

WIDTH = 1200.0
LABEL_WIDTH = 240.0  # pod names on the left
HEADER = 24.0  # the time axis on top
LANE = 16.0
BAR = 10.0
MIN_BAR = 1.5  # a phase too short to see still shows
MAX_LANES = 100  # above this, only pods that were blocked or failed get a lane (at most this many)
TICK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
MAX_TICKS = 8

ENDINGS = {"evicted", "deleted", "skipped", "failed", "cancelled"}
TROUBLE = {"failed", "needs_intervention"}


@dataclass(frozen=True)
class AttemptInput:
    at: datetime
    http_status: int | None
    outcome: str = ""
    budget: str = ""


@dataclass(frozen=True)
class PodInput:
    key: str  # namespace/name
    status: str
    start: datetime  # when the pod's eviction could begin: the request's start, or the row's creation
    attempts: list[AttemptInput] = field(default_factory=list)
    eviction_accepted_at: datetime | None = None
    finished_at: datetime | None = None
    blocked_since: datetime | None = None


@dataclass(frozen=True)
class Phase:
    phase: str  # pending, blocked, stuck, terminating, or an ending (evicted, deleted, skipped, failed, cancelled)
    start: datetime
    end: datetime  # equal to start for an ending: a moment
    note: str = ""


def _after(attempt: AttemptInput) -> str:
    """The phase an attempt's answer starts."""
    if attempt.outcome == "needs_intervention":
        return "stuck"
    if attempt.http_status == 429:
        return "blocked"
    return "pending"  # an error to retry, a throttle without a budget, a transport failure


def phases(pod: PodInput, now: datetime) -> list[Phase]:
    """The pod's phases in time order: what it waited for until the eviction was accepted, then terminating, then
    how it ended (a moment). A still running phase ends now."""
    accepted, finished = pod.eviction_accepted_at, pod.finished_at
    waiting_ends = accepted or finished or now
    result: list[Phase] = []
    current, since, answers, budget = "pending", pod.start, 0, ""

    def close(at: datetime) -> None:
        if at > since or not result:
            note = ""
            if current == "blocked":
                note = f"{answers} answer{'s' if answers != 1 else ''} 429" + (f": {budget}" if budget else "")
            result.append(Phase(current, since, max(at, since), note))

    for attempt in pod.attempts:
        if attempt.at >= waiting_ends:
            break
        after = _after(attempt)
        if after != current:
            close(attempt.at)
            current, since, answers, budget = after, max(attempt.at, pod.start), 0, ""
        if after == "blocked":
            answers += 1
            budget = attempt.budget or budget
    if pod.blocked_since and current == "pending" and pod.status == "blocked" and pod.blocked_since < waiting_ends:
        # Blocked by the record even where the attempts that said so are missing.
        close(pod.blocked_since)
        current, since, answers = "blocked", max(pod.blocked_since, pod.start), 0
    close(waiting_ends)
    result = [p for p in result if p.end > p.start or len(result) == 1]
    if accepted is not None:
        result.append(Phase("terminating", accepted, max(accepted, finished or now)))
    if finished is not None and pod.status in ENDINGS:
        result.append(Phase(pod.status, finished, finished))
    return result


# ---- the strip -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    phase: str
    x: float
    width: float
    title: str
    moment: bool = False  # an ending: drawn as a mark, not a bar


@dataclass(frozen=True)
class Lane:
    key: str
    status: str
    y: float
    segments: list[Segment]

    @property
    def text_y(self) -> float:
        return round(self.y + LANE - 4, 1)

    @property
    def bar_y(self) -> float:
        return round(self.y + (LANE - BAR) / 2, 1)


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Picture:
    width: float
    height: float
    chart_x: float
    since: datetime
    until: datetime
    lanes: list[Lane]
    ticks: list[Tick]
    hidden: int  # pods without a lane
    hidden_counts: list[tuple[str, int]]  # their statuses, most common first

    @property
    def summary(self) -> str:
        if not self.hidden:
            return ""
        parts = ", ".join(f"{count} {status.replace('_', ' ')}" for status, count in self.hidden_counts)
        return f"{self.hidden} more pod{'s' if self.hidden != 1 else ''} not drawn ({parts})."


def _x(moment: datetime, since: datetime, until: datetime) -> float:
    share = (moment - since) / (until - since)
    return round(LABEL_WIDTH + (WIDTH - LABEL_WIDTH) * min(1.0, max(0.0, share)), 1)


def _ticks(since: datetime, until: datetime) -> list[Tick]:
    span = (until - since).total_seconds()
    step = next((s for s in TICK_STEPS if span / s <= MAX_TICKS), TICK_STEPS[-1])
    epoch = datetime(1970, 1, 1, tzinfo=since.tzinfo)
    first = since + timedelta(seconds=-(since - epoch).total_seconds() % step)
    fmt = "%H:%M:%S" if step < 60 else ("%H:%M" if step < 86400 else "%d %b")
    ticks, moment = [], first
    while moment <= until:
        ticks.append(Tick(_x(moment, since, until), moment.strftime(fmt)))
        moment += timedelta(seconds=step)
    return ticks


def _troubled(pod: PodInput) -> bool:
    return (
        pod.status in TROUBLE
        or pod.blocked_since is not None
        or any(a.http_status == 429 or a.outcome in TROUBLE for a in pod.attempts)
    )


def _title(key: str, phase: Phase) -> str:
    if phase.start == phase.end and phase.phase in ENDINGS:
        return f"{key}: {phase.phase} at {phase.start:%H:%M:%S} UTC"
    words = {"pending": "waiting", "stuck": "needs a person"}.get(phase.phase, phase.phase)
    took = duration_words((phase.end - phase.start).total_seconds())
    span = f"{phase.start:%H:%M:%S} to {phase.end:%H:%M:%S} UTC ({took})"
    return f"{key}: {words} {span}" + (f"; {phase.note}" if phase.note else "")


def picture(pods: list[PodInput], now: datetime, max_lanes: int = MAX_LANES) -> Picture | None:
    """Lanes for the pods (all of them up to max_lanes; beyond, those that were blocked or failed, the rest counted
    in a summary) on a shared time axis from the first start to the last end (or now). None without pods."""
    if not pods:
        return None
    shown = pods if len(pods) <= max_lanes else [p for p in pods if _troubled(p)][:max_lanes]
    shown_keys = {id(p) for p in shown}
    hidden = Counter(p.status for p in pods if id(p) not in shown_keys)
    all_phases = [(pod, phases(pod, now)) for pod in shown]
    moments = [m for _, ps in all_phases for p in ps for m in (p.start, p.end)] or [p.start for p in pods]
    since, until = min(moments), max(moments)
    if until - since < timedelta(seconds=10):
        until = since + timedelta(seconds=10)
    lanes = []
    y = HEADER
    for pod, pod_phases in all_phases:
        segments = []
        for phase in pod_phases:
            x = _x(phase.start, since, until)
            moment = phase.start == phase.end and phase.phase in ENDINGS
            width = 0.0 if moment else round(max(MIN_BAR, _x(phase.end, since, until) - x), 1)
            segments.append(Segment(phase.phase, x, width, _title(pod.key, phase), moment))
        lanes.append(Lane(pod.key, pod.status, y, segments))
        y += LANE
    return Picture(
        width=WIDTH,
        height=y + 4,
        chart_x=LABEL_WIDTH,
        since=since,
        until=until,
        lanes=lanes,
        ticks=_ticks(since, until),
        hidden=sum(hidden.values()),
        hidden_counts=sorted(hidden.items(), key=lambda item: (-item[1], item[0])),
    )
