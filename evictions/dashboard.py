"""Reads behind the dashboard and a cluster's budget history: small dataclasses, every list bounded, counts in SQL.

Each selector runs a fixed number of queries whatever the number of rows; the live parts (what a cluster says of a
budget now) are read for at most a few budgets, cached a few seconds, and a cluster that cannot be read gives its
reason in words instead of an error page.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from clusters import kube
from clusters.models import STATUS_COLOURS, Cluster
from core.words import age_words
from evictions.budgets import unready_behind
from evictions.models import (
    POD_BUDGET_FIELDS,
    REQUEST_COLOURS,
    REQUEST_FINISHED,
    EvictionAttempt,
    EvictionRequest,
    MaintenanceWindow,
    PodEviction,
    PodStatus,
    RequestKind,
    RequestStatus,
    Schedule,
)
from evictions.outcomes import budget_words
from evictions.selectors import BlockExplanation
from evictions.windows import WindowSpec, describe, next_opening

MAX_CLUSTERS = 200
STUCK_LIMIT = 20
BUDGET_LIMIT = 8  # budgets whose live state the blocked panel reads
HELD_PODS_LIMIT = 200  # rows naming the pods those budgets hold back
UPCOMING_LIMIT = 15
RECENT_LIMIT = 10
LIVE_CACHE_SECONDS = 5
HISTORY_DAYS = 30
HISTORY_TOP = 10

# A pod that a budget holds back: waiting for it, or past its deadline still waiting for it.
HELD = (PodStatus.BLOCKED, PodStatus.NEEDS_INTERVENTION)
ACTIVE_REQUESTS = (
    RequestStatus.RUNNING,
    RequestStatus.PAUSED,
    RequestStatus.NEEDS_INTERVENTION,
    RequestStatus.SCHEDULED,
    RequestStatus.AWAITING_APPROVAL,
)


# ---- clusters ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterCard:
    """A cluster's counts. Each count is of one request or pod status, so that it equals the rows of the history list
    filtered by the cluster and that status, which the card links to (`lists`)."""

    cluster: Cluster
    running: int = 0
    paused_requests: int = 0
    awaiting: int = 0
    scheduled: int = 0
    drains_queued: int = 0  # of scheduled: drains waiting for their turn
    stuck_requests: int = 0
    blocked_pods: int = 0
    stuck_pods: int = 0

    @property
    def active(self) -> int:
        """Started and not finished: running, needing a person (its other pods still run) or paused."""
        return self.running + self.stuck_requests + self.paused_requests

    @property
    def lists(self) -> dict[str, str]:
        """Each count's list: the request or pod history of this cluster in that status."""
        requests, pods = reverse("requests"), reverse("evictions")
        pk = self.cluster.pk
        return {
            "running": f"{requests}?cluster={pk}&status={RequestStatus.RUNNING}",
            "needs_intervention": f"{requests}?cluster={pk}&status={RequestStatus.NEEDS_INTERVENTION}",
            "paused": f"{requests}?cluster={pk}&status={RequestStatus.PAUSED}",
            "scheduled": f"{requests}?cluster={pk}&status={RequestStatus.SCHEDULED}",
            "awaiting_approval": f"{requests}?cluster={pk}&status={RequestStatus.AWAITING_APPROVAL}",
            "blocked_pods": f"{pods}?cluster={pk}&status={PodStatus.BLOCKED}",
            "stuck_pods": f"{pods}?cluster={pk}&status={PodStatus.NEEDS_INTERVENTION}",
        }

    @property
    def status(self) -> str:
        return self.cluster.status

    @property
    def colour(self) -> str:
        return STATUS_COLOURS.get(self.cluster.status, "grey")

    @property
    def needs_attention(self) -> bool:
        return bool(self.stuck_pods or self.stuck_requests or self.cluster.reachable is False)


def cluster_cards() -> list[ClusterCard]:
    """Every cluster (up to MAX_CLUSTERS) with its counts of requests and pods, in three queries."""
    clusters = list(Cluster.objects.order_by("name")[:MAX_CLUSTERS])
    requests: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in (
        EvictionRequest.objects.filter(status__in=ACTIVE_REQUESTS)
        .values("cluster_id", "status", "kind")
        .annotate(n=Count("id"))
        .order_by()
    ):
        counts = requests[row["cluster_id"]]
        counts[row["status"]] += row["n"]
        if row["kind"] == RequestKind.DRAIN and row["status"] == RequestStatus.SCHEDULED:
            counts["drains_queued"] += row["n"]
    pods: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for group in (
        PodEviction.objects.filter(status__in=HELD)
        .values("request__cluster_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        pods[group["request__cluster_id"]][group["status"]] += group["n"]
    cards = []
    for cluster in clusters:
        r, p = requests.get(cluster.pk, {}), pods.get(cluster.pk, {})
        cards.append(
            ClusterCard(
                cluster=cluster,
                running=r.get(RequestStatus.RUNNING, 0),
                paused_requests=r.get(RequestStatus.PAUSED, 0),
                awaiting=r.get(RequestStatus.AWAITING_APPROVAL, 0),
                scheduled=r.get(RequestStatus.SCHEDULED, 0),
                drains_queued=r.get("drains_queued", 0),
                stuck_requests=r.get(RequestStatus.NEEDS_INTERVENTION, 0),
                blocked_pods=p.get(PodStatus.BLOCKED, 0),
                stuck_pods=p.get(PodStatus.NEEDS_INTERVENTION, 0),
            )
        )
    return cards


# ---- needs intervention --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StuckPod:
    pod: PodEviction  # with request and cluster
    since: datetime
    stuck_for: str


@dataclass(frozen=True)
class StuckRequest:
    request: EvictionRequest  # with cluster
    stuck_for: str


@dataclass(frozen=True)
class Interventions:
    pods: list[StuckPod]
    pods_total: int
    requests: list[StuckRequest]
    requests_total: int

    @property
    def empty(self) -> bool:
        return not self.pods and not self.requests

    @property
    def more_pods(self) -> int:
        return max(0, self.pods_total - len(self.pods))

    @property
    def more_requests(self) -> int:
        return max(0, self.requests_total - len(self.requests))


def interventions(now: datetime | None = None, limit: int = STUCK_LIMIT) -> Interventions:
    """Pods and requests waiting for a person, longest waiting first (four queries)."""
    now = now or timezone.now()
    stuck = PodEviction.objects.filter(status=PodStatus.NEEDS_INTERVENTION)
    pods = [
        StuckPod(pod, pod.updated_at, age_words((now - pod.updated_at).total_seconds()))
        for pod in stuck.select_related("request__cluster", "delete_requested_by").order_by("updated_at", "id")[:limit]
    ]
    waiting = EvictionRequest.objects.filter(status=RequestStatus.NEEDS_INTERVENTION)
    requests = [
        StuckRequest(req, age_words((now - req.updated_at).total_seconds()))
        for req in waiting.select_related("cluster").order_by("updated_at", "id")[:limit]
    ]
    return Interventions(pods, stuck.count(), requests, waiting.count())


# ---- blocked by budgets now ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldRequest:
    request_id: int
    pods: tuple[str, ...]  # namespace/name of the pods held back


@dataclass(frozen=True)
class BlockedBudget:
    cluster: Cluster
    pdb: str  # "namespace/name"
    pods: int
    needs: int | None
    has: int | None
    since: datetime | None
    blocked_for: str
    requests: tuple[HeldRequest, ...]
    live: BlockExplanation | None = None
    words: str = ""  # its numbers in words (budget_words), as last read, with their time

    @property
    def anchor(self) -> str:
        return budget_anchor(self.pdb)


def budget_anchor(pdb: str) -> str:
    """An HTML id for a budget: namespaces and names never contain '_', so 'ns_name' is unambiguous."""
    return "pdb-" + pdb.replace("/", "_", 1)


@dataclass(frozen=True)
class BlockedPanel:
    budgets: list[BlockedBudget]
    total: int  # budgets blocking now, all clusters

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.budgets))


def blocked_budgets(now: datetime | None = None, limit: int = BUDGET_LIMIT, live: bool = True) -> BlockedPanel:
    """The budgets holding back the most pods now, with the requests they hold and (live) what the cluster says
    of them: four queries, and at most two cluster reads per namespace involved, cached a few seconds."""
    now = now or timezone.now()
    held = PodEviction.objects.filter(status__in=HELD).exclude(blocking_pdb="")
    groups = list(
        held.values("request__cluster_id", "blocking_pdb")
        .annotate(pods=Count("id"), since=Min("blocked_since"))
        .order_by("-pods", "since", "blocking_pdb")[:limit]
    )
    if not groups:
        return BlockedPanel([], 0)
    total = held.values("request__cluster_id", "blocking_pdb").distinct().order_by().count()
    keys = {(g["request__cluster_id"], g["blocking_pdb"]) for g in groups}
    # Budget names and clusters each in a list (a plain IN, not an OR per pair); pairs not among the top are dropped.
    behind: dict[tuple[int, str], dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for cluster_id, pdb, request_id, namespace, name in (
        held.filter(blocking_pdb__in={pdb for _, pdb in keys}, request__cluster_id__in={c for c, _ in keys})
        .values_list("request__cluster_id", "blocking_pdb", "request_id", "namespace", "name")
        .order_by("request_id", "namespace", "name")[:HELD_PODS_LIMIT]
    ):
        if (cluster_id, pdb) in keys:
            behind[(cluster_id, pdb)][request_id].append(f"{namespace}/{name}")
    # One set of numbers per budget, not the largest "needs" of one pod beside the smallest "has" of another: the
    # numbers read last (the watcher writes the same ones on every pod the budget holds).
    latest: dict[tuple[int, str], PodEviction] = {}
    for pod in (
        held.filter(
            blocking_pdb__in={pdb for _, pdb in keys},
            request__cluster_id__in={c for c, _ in keys},
            budget_needs__isnull=False,
        )
        .select_related("request")
        .only(
            "request__cluster_id",
            *POD_BUDGET_FIELDS,
        )
        .order_by(F("budget_seen_at").desc(nulls_last=True), "-pk")[:HELD_PODS_LIMIT]
    ):
        latest.setdefault((pod.request.cluster_id, pod.blocking_pdb), pod)
    clusters = Cluster.objects.in_bulk({cluster_id for cluster_id, _ in keys})
    budgets = []
    for g in groups:
        key = (g["request__cluster_id"], g["blocking_pdb"])
        since = g["since"]
        numbers = latest.get(key)
        budgets.append(
            BlockedBudget(
                cluster=clusters[key[0]],
                pdb=key[1],
                pods=g["pods"],
                needs=numbers.budget_needs if numbers else None,
                has=numbers.budget_has if numbers else None,
                since=since,
                blocked_for=age_words((now - since).total_seconds()) if since else "",
                requests=tuple(HeldRequest(rid, tuple(names)) for rid, names in sorted(behind[key].items())),
                words=numbers.budget_words if numbers else budget_words(key[1], needs=None, has=None),
            )
        )
    if live:
        budgets = with_live_state(budgets)
    return BlockedPanel(budgets, total)


def with_live_state(budgets: list[BlockedBudget]) -> list[BlockedBudget]:
    """Each budget with what its cluster says of it now (numbers, unready pods behind it), or why it cannot say."""
    by_cluster: dict[int, list[str]] = defaultdict(list)
    for budget in budgets:
        by_cluster[budget.cluster.pk].append(budget.pdb)
    clusters = {b.cluster.pk: b.cluster for b in budgets}
    states: dict[tuple[int, str], BlockExplanation] = {}
    for cluster_id, pdbs in by_cluster.items():
        for pdb, state in live_budget_states(clusters[cluster_id], sorted(set(pdbs))).items():
            states[(cluster_id, pdb)] = state
    return [replace(b, live=states.get((b.cluster.pk, b.pdb))) for b in budgets]


def live_budget_states(cluster: Cluster, pdbs: list[str]) -> dict[str, BlockExplanation]:
    """What the cluster says of these budgets now, read at most every LIVE_CACHE_SECONDS however many people
    watch. An unreachable cluster (by its last check) is not called: its last error is the answer."""
    if cluster.reachable is False:
        why = f"Cluster {cluster.name} is unreachable: {cluster.last_error or 'its last check failed'}."
        return {pdb: BlockExplanation(pdb, "", (), why) for pdb in pdbs}
    digest = hashlib.sha256(",".join(pdbs).encode()).hexdigest()[:32]  # a short key, however long the names
    key = f"drainboard:dashboard:budgets:{cluster.pk}:{digest}"
    cached = cache.get(key)
    if cached is None:
        cached = _read_budget_states(cluster, pdbs)
        cache.set(key, cached, LIVE_CACHE_SECONDS)
    return cached


def _read_budget_states(cluster: Cluster, pdbs: list[str]) -> dict[str, BlockExplanation]:
    endpoint = kube.Endpoint.for_cluster(cluster)
    now = timezone.now()
    result: dict[str, BlockExplanation] = {}
    for namespace in sorted({pdb.split("/", 1)[0] for pdb in pdbs}):
        wanted = [pdb for pdb in pdbs if pdb.split("/", 1)[0] == namespace]
        try:
            live = {
                p.key: p
                for p in kube.list_pdbs(
                    endpoint, namespace=namespace, api_version=cluster.eviction_api_version or "policy/v1"
                )
            }
            pods = kube.list_pods(endpoint, namespace=namespace)
        except kube.KubeError as error:
            for pdb in wanted:
                result[pdb] = BlockExplanation(pdb, "", (), f"Could not read cluster {cluster.name}: {error.message}")
            continue
        for key in wanted:
            budget = live.get(key)
            if budget is None:
                result[key] = BlockExplanation(key, "", (), "The budget no longer exists.")
                continue
            unready = unready_behind(budget, pods, now)
            numbers = (
                f"allows {budget.disruptions_allowed} disruption(s): healthy {budget.current_healthy}, "
                f"desired {budget.desired_healthy}, expected {budget.expected_pods}"
            )
            result[key] = BlockExplanation(
                key, numbers, tuple(unready[:20]), disruptions_allowed=budget.disruptions_allowed
            )
    return result


# ---- upcoming and recent -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upcoming:
    request: EvictionRequest  # with cluster and requester
    when: str  # when it may start, in words
    queue: int | None  # its place in its cluster's line of drains, when it only waits for its turn

    @property
    def colour(self) -> str:
        return REQUEST_COLOURS.get(self.request.status, "grey")


@dataclass(frozen=True)
class UpcomingPanel:
    rows: list[Upcoming]
    total: int

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.rows))


def upcoming(now: datetime | None = None, limit: int = UPCOMING_LIMIT) -> UpcomingPanel:
    """Requests awaiting approval or scheduled, oldest first, with when each may start (four queries)."""
    now = now or timezone.now()
    waiting = EvictionRequest.objects.filter(status__in=(RequestStatus.AWAITING_APPROVAL, RequestStatus.SCHEDULED))
    rows = list(waiting.select_related("cluster", "requester").order_by("created_at", "id")[:limit])
    if not rows:
        return UpcomingPanel([], 0)
    total = waiting.count()
    cluster_ids = {r.cluster_id for r in rows}
    specs: dict[int, list[WindowSpec]] = defaultdict(list)
    if any(r.schedule == Schedule.WINDOW for r in rows):
        from evictions.services.policy import spec_of

        for window in MaintenanceWindow.objects.filter(cluster_id__in=cluster_ids).order_by("id"):
            specs[window.cluster_id].append(spec_of(window))
    positions = _queue_positions(cluster_ids, now) if any(r.kind == RequestKind.DRAIN for r in rows) else {}
    result = []
    for req in rows:
        queue = positions.get(req.pk) if req.status == RequestStatus.SCHEDULED else None
        result.append(Upcoming(req, start_words(req, specs.get(req.cluster_id, []), queue, now), queue))
    return UpcomingPanel(result, total)


def _queue_positions(cluster_ids: set[int], now: datetime) -> dict[int, int]:
    """Each due drain's place in its cluster's line: services.requests.drains_queued's order, for many clusters
    in one query."""
    due = EvictionRequest.objects.filter(
        Q(not_before__isnull=True) | Q(not_before__lte=now),
        Q(start_after__isnull=True) | Q(start_after__lte=now),
        cluster_id__in=cluster_ids,
        kind=RequestKind.DRAIN,
        status=RequestStatus.SCHEDULED,
    ).order_by("created_at", "pk")
    seen: dict[int, int] = defaultdict(int)
    positions = {}
    for pk, cluster_id in due.values_list("pk", "cluster_id")[:1000]:
        seen[cluster_id] += 1
        positions[pk] = seen[cluster_id]
    return positions


def start_words(req: EvictionRequest, specs: list[WindowSpec], queue: int | None, now: datetime) -> str:
    """When a waiting request may start, in words."""
    parts = []
    if req.status == RequestStatus.AWAITING_APPROVAL:
        parts.append("after approval")
    if req.not_before and req.not_before > now:
        parts.append(f"not before {describe(req.not_before)}")
    if req.schedule == Schedule.WINDOW:
        opening = next_opening(specs, max(now, req.not_before or now))
        tz = next((s.tz for s in specs if s.kind == "recurring"), "UTC")
        if opening is None:
            parts.append("no maintenance window opens in the next 15 days")
        elif opening.start <= now:
            parts.append(f"in the window open now, until {describe(opening.end, tz)}")
        else:
            parts.append(f"in the window opening {describe(opening.start, tz)}")
    if req.start_after and req.start_after > now and req.schedule != Schedule.WINDOW:
        parts.append(f"checked again {describe(req.start_after)}")
    if queue is not None:
        parts.append(
            f"number {queue} in line: {req.cluster.max_concurrent_drains} drain"
            f"{'s' if req.cluster.max_concurrent_drains != 1 else ''} at once on {req.cluster.name}"
        )
    if not parts:
        return "As soon as possible"
    words = ", ".join(parts)
    return words[0].upper() + words[1:]


@dataclass(frozen=True)
class Finished:
    request: EvictionRequest  # with cluster and requester
    duration: str

    @property
    def colour(self) -> str:
        return REQUEST_COLOURS.get(self.request.status, "grey")


def recent_finished(limit: int = RECENT_LIMIT) -> list[Finished]:
    """The last requests to finish, with their outcome and how long they ran: one query, read backwards along the
    request_finished_at index."""
    rows = (
        EvictionRequest.objects.filter(finished_at__isnull=False, status__in=REQUEST_FINISHED)
        .select_related("cluster", "requester")
        .order_by("-finished_at", "-id")[:limit]
    )
    result = []
    for req in rows:
        ran = ""
        if req.finished_at and req.started_at:
            ran = age_words((req.finished_at - req.started_at).total_seconds())
        result.append(Finished(req, ran))
    return result


# ---- which budgets block most, from Drainboard's own records -------------------------------------------------------

HISTORY_DEFINITION = (
    "Over the eviction requests submitted on this cluster in the last {days} days: a pod eviction counts as "
    "blocked by the budget that held it back (the budget named by its 429 answers, or the one it waited for). "
    "Its time blocked runs from when it was first held back until the eviction was accepted, or until it "
    "finished another way (deleted directly, skipped, cancelled), or until now while it still waits. "
    "429 answers counts every answer naming a budget."
)


@dataclass(frozen=True)
class BudgetHistory:
    pdb: str
    pods: int  # pod evictions it held back
    answers: int  # 429 answers naming a budget for those pods
    seconds: float  # their time blocked, added up

    @property
    def total_words(self) -> str:
        return age_words(self.seconds)


def budget_history(
    cluster_id: int, now: datetime | None = None, days: int = HISTORY_DAYS, top: int = HISTORY_TOP
) -> list[BudgetHistory]:
    """The budgets that held back the most time on a cluster, most first: two grouped queries over an indexed range
    (requests of the cluster by creation time; attempts by answer code and time)."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    pods = PodEviction.objects.filter(
        request__cluster_id=cluster_id, request__created_at__gte=since, blocked_since__isnull=False
    ).exclude(blocking_pdb="")
    waited = ExpressionWrapper(
        Coalesce("eviction_accepted_at", "finished_at", Value(now)) - F("blocked_since"), output_field=DurationField()
    )
    groups = list(
        pods.values("blocking_pdb")
        .annotate(pods=Count("id"), total=Sum(waited))
        .order_by("-total", "-pods", "blocking_pdb")[:top]
    )
    if not groups:
        return []
    names = [g["blocking_pdb"] for g in groups]
    answers = dict(
        EvictionAttempt.objects.filter(
            http_status=429,
            at__gte=since,
            pod__request__cluster_id=cluster_id,
            pod__request__created_at__gte=since,
            pod__blocking_pdb__in=names,
        )
        .exclude(budget="")
        .values("pod__blocking_pdb")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("pod__blocking_pdb", "n")
    )
    return [
        BudgetHistory(
            pdb=g["blocking_pdb"],
            pods=g["pods"],
            answers=answers.get(g["blocking_pdb"], 0),
            seconds=max(0.0, _seconds(g["total"])),
        )
        for g in groups
    ]


def _seconds(value: Any) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value or 0) / 1_000_000  # a backend that sums durations as microseconds


# ---- a bar chart, laid out for a server-rendered SVG ---------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    words: str
    y: int
    width: int
    text_y: int
    words_x: int


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    label_width: int
    bar_height: int
    bars: tuple[Bar, ...]


def bar_chart(
    rows: list[tuple[str, float, str]],
    *,
    width: int = 960,
    label_width: int = 280,
    words_width: int = 220,
    bar_height: int = 20,
    gap: int = 10,
) -> BarChart:
    """Horizontal bars: (label, value, words) per row, in the given order; the largest value fills the space between
    the labels and the words, any other value in proportion (a value above zero is at least 2 px wide)."""
    room = max(10, width - label_width - words_width)
    largest = max((value for _, value, _ in rows), default=0.0)
    bars = []
    for index, (label, value, words) in enumerate(rows):
        y = gap + index * (bar_height + gap)
        size = 0 if largest <= 0 or value <= 0 else max(2, round(room * value / largest))
        bars.append(Bar(label, words, y, size, y + bar_height - 5, label_width + size + 8))
    height = gap + len(rows) * (bar_height + gap)
    return BarChart(width, height, label_width, bar_height, tuple(bars))
