"""Reads of eviction requests shared by pages and the API: filtered lists, a request with its pods, why it blocks."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Case, Count, IntegerField, Prefetch, Q, Value, When
from django.utils import timezone

from clusters import kube
from clusters.models import Cluster
from evictions.approvals import Tally, Vote, policy_allows, tally
from evictions.budgets import unready_behind
from evictions.models import (
    POD_DELETED,
    POD_FINISHED,
    POD_SKIPPED_BY_PERSON,
    WEEKDAY_NAMES,
    Approval,
    ApprovalPolicy,
    Decision,
    EvictionAttempt,
    EvictionRequest,
    Exceptions,
    MaintenanceWindow,
    PodEviction,
    PodStatus,
    RequestStatus,
    WindowKind,
)
from evictions.windows import WindowSpec, describe, next_opening

POD_TABLE_LIMIT = 50  # pods the request page lists by default: the ones that most need attention first

# The order of the pod table: what needs a person, then what is held back, then what is under way, then what is done.
ATTENTION = Case(
    When(status=PodStatus.NEEDS_INTERVENTION, then=Value(0)),
    When(status=PodStatus.FAILED, then=Value(1)),
    When(status=PodStatus.BLOCKED, then=Value(2)),
    When(status=PodStatus.EVICTING, then=Value(3)),
    When(status=PodStatus.PENDING, then=Value(4)),
    When(status=PodStatus.TERMINATING, then=Value(5)),
    default=Value(6),
    output_field=IntegerField(),
)


def request_detail(request_id: int, *, pod_limit: int | None = POD_TABLE_LIMIT) -> EvictionRequest:
    """One request with its pods (at most pod_limit, those needing attention first; None: all) and every attempt of
    each, in four queries (three for all pods)."""
    attempts = Prefetch("attempt_log", queryset=EvictionAttempt.objects.order_by("at", "id"))
    listed = (
        PodEviction.objects.annotate(attention=ATTENTION)
        .order_by("attention", "namespace", "name")
        .select_related("delete_requested_by")
        .prefetch_related(attempts)
    )
    if pod_limit:
        # The ids first (a sliced queryset cannot carry the nested prefetch of attempts).
        first = PodEviction.objects.filter(request_id=request_id).annotate(attention=ATTENTION)
        ids = list(first.order_by("attention", "namespace", "name").values_list("pk", flat=True)[:pod_limit])
        listed = listed.filter(pk__in=ids)
    pods = Prefetch("pods", queryset=listed)
    return EvictionRequest.objects.select_related("cluster", "requester").prefetch_related(pods).get(pk=request_id)


def pod_count(request: EvictionRequest) -> int:
    return PodEviction.objects.filter(request=request).count()


def timeline_rows(request: EvictionRequest) -> tuple[list[tuple[Any, ...]], dict[int, list[tuple[Any, ...]]]]:
    """Every pod and attempt of a request as plain tuples, for the timeline picture: cheap at 1,000 pods."""
    pods = list(
        PodEviction.objects.filter(request=request)
        .order_by("namespace", "name")
        .values_list(
            "pk", "namespace", "name", "status", "created_at", "eviction_accepted_at", "finished_at", "blocked_since"
        )
    )
    attempts: dict[int, list[tuple[Any, ...]]] = {}
    for pod_id, at, status, outcome, budget in (
        EvictionAttempt.objects.filter(pod__request=request)
        .order_by("at", "id")
        .values_list("pod_id", "at", "http_status", "outcome", "budget")
    ):
        attempts.setdefault(pod_id, []).append((at, status, outcome, budget))
    return pods, attempts


@dataclass(frozen=True)
class Progress:
    total: int
    done: int  # evicted or deleted directly
    blocked: int
    stuck: int
    terminating: int
    skipped: int
    deleted: int = 0  # of done: deleted directly, bypassing the budget
    skipped_by_person: int = 0  # of skipped: by a person (the others by the drain rules)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 100

    @property
    def evicted(self) -> int:
        return self.done - self.deleted


def progress_of(statuses: list[tuple[str, bool]]) -> Progress:
    """Progress over (status, skipped by a person) of every pod of a request."""
    counted = [s for s, _ in statuses if s != PodStatus.SKIPPED]
    return Progress(
        total=len(counted),
        done=sum(1 for s in counted if s in (PodStatus.EVICTED, PodStatus.DELETED)),
        blocked=counted.count(PodStatus.BLOCKED),
        stuck=counted.count(PodStatus.NEEDS_INTERVENTION),
        terminating=counted.count(PodStatus.TERMINATING),
        skipped=len(statuses) - len(counted),
        deleted=counted.count(PodStatus.DELETED),
        skipped_by_person=sum(1 for s, by_person in statuses if s == PodStatus.SKIPPED and by_person),
    )


def request_progress(request: EvictionRequest, *, prefetched: bool = False) -> Progress:
    """The request's progress over all its pods: from the prefetched pods when they are all there (the API's
    detail), else one grouped query (the page lists only the first pods)."""
    if prefetched:
        return progress_of([(p.status, p.skipped_by is not None) for p in request.pods.all()])
    rows = (
        PodEviction.objects.filter(request=request)
        .values_list("status", "skipped_by")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return progress_of([(status, by is not None) for status, by, n in rows for _ in range(n)])


def request_exceptions(request: EvictionRequest) -> Exceptions:
    """The pods of a request a person skipped or deleted directly (one query; a list page has them from
    history.attach_pod_counts instead)."""
    attached = getattr(request, "exceptions", None)
    if isinstance(attached, Exceptions):
        return attached
    counts = PodEviction.objects.filter(request=request).aggregate(
        skipped=Count("pk", filter=POD_SKIPPED_BY_PERSON), deleted=Count("pk", filter=POD_DELETED)
    )
    return Exceptions(skipped=counts["skipped"] or 0, deleted=counts["deleted"] or 0)


def exceptions_in(pods: list[PodEviction]) -> Exceptions:
    """request_exceptions over pods already read (every pod of the request)."""
    return Exceptions(
        skipped=sum(1 for p in pods if p.status == PodStatus.SKIPPED and p.skipped_by is not None),
        deleted=sum(1 for p in pods if p.status == PodStatus.DELETED),
    )


@dataclass(frozen=True)
class BlockExplanation:
    """Why a budget blocks: its live numbers and the pods it selects that are not Ready."""

    pdb: str
    numbers: str
    unready: tuple[str, ...]
    error: str = ""
    disruptions_allowed: int | None = None


EXPLANATION_CACHE_SECONDS = 3


def explain_blocks(request: EvictionRequest) -> dict[str, BlockExplanation]:
    """For each budget blocking a pod of this request, read the cluster (one PDB list and one pod list per
    namespace), at most every few seconds however many people watch the page. A cluster that cannot be read
    gives the reason instead; the page still renders."""
    blocking = sorted({p.blocking_pdb for p in request.pods.all() if p.blocking_pdb and p.status not in POD_FINISHED})
    if not blocking:
        return {}
    key = f"drainboard:explain:{request.pk}:{','.join(blocking)}"
    cached = cache.get(key)
    if cached is None:
        cached = _read_explanations(request, blocking)
        cache.set(key, cached, EXPLANATION_CACHE_SECONDS)
    return cached


def _read_explanations(request: EvictionRequest, blocking: list[str]) -> dict[str, BlockExplanation]:
    cluster: Cluster = request.cluster
    endpoint = kube.Endpoint.for_cluster(cluster)
    result: dict[str, BlockExplanation] = {}
    now = timezone.now()
    for namespace in sorted({key.split("/", 1)[0] for key in blocking}):
        try:
            pdbs = {
                p.key: p
                for p in kube.list_pdbs(
                    endpoint, namespace=namespace, api_version=cluster.eviction_api_version or "policy/v1"
                )
            }
            pods = kube.list_pods(endpoint, namespace=namespace)
        except kube.KubeError as error:
            for key in blocking:
                if key.startswith(f"{namespace}/"):
                    result[key] = BlockExplanation(key, "", (), f"Could not read the cluster: {error.message}")
            continue
        for key in blocking:
            if not key.startswith(f"{namespace}/"):
                continue
            pdb = pdbs.get(key)
            if pdb is None:
                result[key] = BlockExplanation(key, "", (), "The budget no longer exists.")
                continue
            unready = unready_behind(pdb, pods, now)
            numbers = (
                f"allows {pdb.disruptions_allowed} disruption(s): healthy {pdb.current_healthy}, "
                f"desired {pdb.desired_healthy}, expected {pdb.expected_pods}"
            )
            result[key] = BlockExplanation(key, numbers, tuple(unready), disruptions_allowed=pdb.disruptions_allowed)
    return result


def _age(now: datetime, since: datetime) -> str:
    seconds = int((now - since).total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def pod_rows(request: EvictionRequest) -> list[dict[str, Any]]:
    """Per pod, what the table shows: the last answer, how long blocked, when the next retry is."""
    now = timezone.now()
    rows = []
    for pod in request.pods.all():
        attempts = list(pod.attempt_log.all())
        last = attempts[-1] if attempts else None
        rows.append(
            {
                "pod": pod,
                "last": last,
                "attempts": attempts,
                "blocked_for": _age(now, pod.blocked_since)
                if pod.blocked_since and pod.status == PodStatus.BLOCKED
                else "",
                "next_in": max(0, int((pod.next_attempt_at - now).total_seconds()))
                if pod.next_attempt_at and pod.status in (PodStatus.BLOCKED, PodStatus.PENDING)
                else None,
            }
        )
    return rows


def queue_position(request: EvictionRequest, now: datetime | None = None) -> int | None:
    """1 for the next drain to start on its cluster, 2 behind it, …; None when the request is not in the line."""
    from evictions.models import RequestKind, RequestStatus
    from evictions.services.requests import drains_queued

    if request.kind != RequestKind.DRAIN or request.status != RequestStatus.SCHEDULED:
        return None
    ids = list(drains_queued(request.cluster_id, now or timezone.now()).values_list("pk", flat=True)[:1000])
    return ids.index(request.pk) + 1 if request.pk in ids else None


# ---- approvals -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalState:
    """A request's votes and what they add up to under its cluster's policy now."""

    policy: ApprovalPolicy
    votes: list[Approval]
    tally: Tally

    def vote_of(self, user_id: int | None) -> Approval | None:
        return next((v for v in self.votes if v.approver_id == user_id), None)


@dataclass(frozen=True)
class DeleteAsk:
    """A direct delete waiting for approval: the votes on it and how many it needs."""

    votes: list[Approval]
    needed: int

    @property
    def approvals(self) -> int:
        return sum(1 for v in self.votes if v.decision == Decision.APPROVE)


class _Policies:
    """Every policy the given clusters use, read once: their own, else the default, else the built-in one."""

    def __init__(self, cluster_ids: set[int]) -> None:
        rows = ApprovalPolicy.objects.filter(Q(cluster_id__in=cluster_ids) | Q(cluster__isnull=True))
        rows = rows.prefetch_related("approver_groups", "approver_users")
        self.own = {p.cluster_id: p for p in rows if p.cluster_id is not None}
        self.default = next((p for p in rows if p.cluster_id is None), None) or ApprovalPolicy()

    def of(self, cluster_id: int) -> ApprovalPolicy:
        return self.own.get(cluster_id, self.default)


def _allowed_approvers(user_ids: set[int]) -> tuple[set[int], dict[int, set[int]]]:
    """Of these users, who is active and holds the approve permission, and each one's groups (two queries)."""
    from evictions.services.approvals import APPROVE_PERM

    if not user_ids:
        return set(), {}
    User = get_user_model()
    holding = set(
        User.objects.with_perm(APPROVE_PERM, backend="django.contrib.auth.backends.ModelBackend")
        .filter(pk__in=user_ids)
        .values_list("pk", flat=True)
    )
    groups: dict[int, set[int]] = defaultdict(set)
    for user_id, group_id in User.groups.through.objects.filter(user_id__in=user_ids).values_list(
        "user_id", "group_id"
    ):
        groups[user_id].add(group_id)
    return holding, groups


def _policy_allows(policy: ApprovalPolicy, user_id: int, holding: set[int], groups: dict[int, set[int]]) -> bool:
    # services.approvals.approver_allowed's rule (evictions.approvals.policy_allows), on rows read in bulk.
    if policy.pk is None:
        return user_id in holding
    return policy_allows(
        user_id=user_id,
        permitted=user_id in holding,
        group_ids=groups.get(user_id, set()),
        named_users={u.pk for u in policy.approver_users.all()},
        named_groups={g.pk for g in policy.approver_groups.all()},
    )


def approval_states(requests: list[EvictionRequest], now: datetime | None = None) -> dict[int, ApprovalState]:
    """The approval state of many requests in a constant number of queries (the approvals inbox)."""
    if not requests:
        return {}
    now = now or timezone.now()
    policies = _Policies({r.cluster_id for r in requests})
    votes: dict[int, list[Approval]] = defaultdict(list)
    for vote in Approval.objects.filter(request__in=[r.pk for r in requests], pod__isnull=True).select_related(
        "approver"
    ):
        votes[vote.request_id].append(vote)
    holding, groups = _allowed_approvers({v.approver_id for vs in votes.values() for v in vs})
    states = {}
    for request in requests:
        policy = policies.of(request.cluster_id)
        cast = votes.get(request.pk, [])
        counted = [
            Vote(
                approver_id=v.approver_id,
                approver_name=v.approver.get_username(),
                decision=v.decision,
                at=v.created_at,
                approver_allowed=_policy_allows(policy, v.approver_id, holding, groups),
            )
            for v in cast
        ]
        minutes = policy.approval_valid_minutes
        result = tally(counted, required=policy.required_approvals, valid_minutes=minutes, now=now)
        states[request.pk] = ApprovalState(policy, cast, result)
    return states


def delete_asks(pods: list[PodEviction]) -> dict[int, DeleteAsk]:
    """For direct deletes waiting for approval: the votes cast and how many approvals each needs."""
    if not pods:
        return {}
    policies = _Policies({p.request.cluster_id for p in pods})
    votes: dict[int, list[Approval]] = defaultdict(list)
    for vote in Approval.objects.filter(pod__in=[p.pk for p in pods]).select_related("approver"):
        votes[vote.pod_id or 0].append(vote)
    return {
        p.pk: DeleteAsk(votes.get(p.pk, []), max(1, policies.of(p.request.cluster_id).required_approvals)) for p in pods
    }


def my_requests_awaiting_approval(user: Any) -> list[EvictionRequest]:
    return list(
        EvictionRequest.objects.filter(status=RequestStatus.AWAITING_APPROVAL, requester_id=user.pk)
        .select_related("cluster", "requester")
        .order_by("created_at", "id")[:200]
    )


# ---- the schedule --------------------------------------------------------------------------------------------------

SCHEDULED_STATUSES = (
    RequestStatus.AWAITING_APPROVAL,
    RequestStatus.SCHEDULED,
    RequestStatus.RUNNING,
    RequestStatus.NEEDS_INTERVENTION,
    RequestStatus.PAUSED,
)


@dataclass(frozen=True)
class ClusterSchedule:
    cluster: Cluster
    specs: list[WindowSpec]
    requests: list[EvictionRequest]


def schedule_by_cluster() -> list[ClusterSchedule]:
    """Every cluster with its maintenance windows and its unfinished requests, in three queries."""
    from evictions.services.policy import spec_of

    clusters = list(Cluster.objects.order_by("name"))
    specs: dict[int, list[WindowSpec]] = defaultdict(list)
    for window in MaintenanceWindow.objects.order_by("id"):
        specs[window.cluster_id].append(spec_of(window))
    requests: dict[int, list[EvictionRequest]] = defaultdict(list)
    unfinished = EvictionRequest.objects.filter(status__in=SCHEDULED_STATUSES).select_related("requester")
    for request in unfinished.order_by("created_at", "id")[:1000]:
        requests[request.cluster_id].append(request)
    return [ClusterSchedule(c, specs.get(c.pk, []), requests.get(c.pk, [])) for c in clusters]


# ---- a cluster's windows and policy, in words -----------------------------------------------------------------------


def approvers_words(policy: ApprovalPolicy) -> str:
    """Who may approve under a policy, in words."""
    anyone = "anyone with the approver or admin role"
    if policy.pk is None:
        return anyone
    groups = sorted(g.name for g in policy.approver_groups.all())
    users = sorted(u.get_username() for u in policy.approver_users.all())
    parts = []
    if groups:
        parts.append(f"the {', '.join(groups)} role{'s' if len(groups) > 1 else ''}")
    if users:
        parts.append(", ".join(users))
    return " or ".join(parts) or anyone


def window_words(window: MaintenanceWindow) -> str:
    """'Mon, Tue 02:00-04:00 Europe/Berlin' or '2025-06-01 22:00 - 2025-06-02 02:00 UTC'."""
    if window.kind == WindowKind.ONE_OFF:
        return str(window)
    days = ", ".join(WEEKDAY_NAMES[d] for d in sorted(window.weekdays or []))
    start, end = window.start_time, window.end_time
    overnight = " (closes the next day)" if start and end and end <= start else ""
    return f"{days} {start:%H:%M}-{end:%H:%M} {window.timezone}{overnight}"


def cluster_windows(cluster: Cluster) -> list[dict[str, Any]]:
    """The cluster's windows for its page: in words, and when each opens next."""
    from evictions.services.policy import spec_of

    now = timezone.now()
    result = []
    for window in MaintenanceWindow.objects.filter(cluster=cluster).order_by("id"):
        spec = spec_of(window)
        upcoming = next_opening([spec], now)
        tz = window.timezone if window.kind == WindowKind.RECURRING else "UTC"
        if upcoming is None:
            when = "over" if window.kind == WindowKind.ONE_OFF else "does not open in the next 15 days"
        elif upcoming.start <= now:
            when = f"open now, until {describe(upcoming.end, tz)}"
        else:
            when = f"next opens {describe(upcoming.start, tz)}"
        result.append({"window": window, "words": window_words(window), "when": when})
    return result


def cluster_policy(cluster: Cluster | None) -> dict[str, Any]:
    """The policy that applies (the cluster's own, the default, or the built-in one) and where it comes from."""
    from evictions.services.approvals import policy_for

    policy = policy_for(cluster.pk if cluster else None)
    if cluster is not None and policy.cluster_id == cluster.pk:
        scope = "own"
    elif policy.pk is not None:
        scope = "default"
    else:
        scope = "built-in"
    return {"policy": policy, "scope": scope, "approvers": approvers_words(policy)}
