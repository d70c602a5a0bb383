"""Read-only rules the flows share: which approval policy applies and who may approve, the votes that count, the
maintenance windows of a cluster, whether a request is due and which drains wait in line. No writes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from evictions.approvals import Tally, Vote, policy_allows, tally
from evictions.models import (
    Approval,
    ApprovalPolicy,
    EvictionRequest,
    MaintenanceWindow,
    RequestKind,
    RequestStatus,
    WindowKind,
)
from evictions.windows import WindowSpec

APPROVE_PERM = "evictions.approve_evictionrequest"


def policy_for(cluster_id: int | None) -> ApprovalPolicy:
    """The cluster's own policy, else the default one, else the built-in default (no approval needed)."""
    rows = ApprovalPolicy.objects.prefetch_related("approver_groups", "approver_users")
    if cluster_id is not None:
        own = rows.filter(cluster_id=cluster_id).first()
        if own is not None:
            return own
    return rows.filter(cluster__isnull=True).first() or ApprovalPolicy()


def approver_allowed(user: object, policy: ApprovalPolicy, group_ids: set[int] | None = None) -> bool:
    """Active, holding the approve permission, and (when the policy names people or groups) named by it.

    group_ids: the user's groups, when the caller checks many policies for one user."""
    permitted = bool(getattr(user, "is_active", False)) and user.has_perm(APPROVE_PERM)  # type: ignore[attr-defined]
    if not permitted or policy.pk is None:
        return permitted
    if group_ids is None:
        group_ids = set(user.groups.values_list("pk", flat=True))  # type: ignore[attr-defined]
    return policy_allows(
        user_id=user.pk,  # type: ignore[attr-defined]
        permitted=permitted,
        group_ids=group_ids,
        named_users={u.pk for u in policy.approver_users.all()},
        named_groups={g.pk for g in policy.approver_groups.all()},
    )


class PolicyCache:
    """policy_for once per cluster, and the user's groups once, for pages that check many requests."""

    def __init__(self, user: object) -> None:
        self.user = user
        self._policies: dict[int, ApprovalPolicy] = {}
        self._groups: set[int] | None = None

    def allowed(self, cluster_id: int) -> bool:
        if cluster_id not in self._policies:
            self._policies[cluster_id] = policy_for(cluster_id)
        if self._groups is None:
            self._groups = set(self.user.groups.values_list("pk", flat=True))  # type: ignore[attr-defined]
        return approver_allowed(self.user, self._policies[cluster_id], self._groups)


def request_tally(request: EvictionRequest, policy: ApprovalPolicy | None = None, now: datetime | None = None) -> Tally:
    """The approvals that hold now, re-checking each approver against the current policy."""
    policy = policy or policy_for(request.cluster_id)
    votes = [
        Vote(
            approver_id=a.approver_id,
            approver_name=a.approver.get_username(),
            decision=a.decision,
            at=a.created_at,
            approver_allowed=approver_allowed(a.approver, policy),
        )
        for a in Approval.objects.filter(request=request, pod__isnull=True).select_related("approver")
    ]
    return tally(
        votes,
        required=policy.required_approvals,
        valid_minutes=policy.approval_valid_minutes,
        now=now or timezone.now(),
    )


def window_specs(cluster_id: int) -> list[WindowSpec]:
    return [spec_of(w) for w in MaintenanceWindow.objects.filter(cluster_id=cluster_id)]


def spec_of(window: MaintenanceWindow) -> WindowSpec:
    return WindowSpec(
        kind=window.kind,
        weekdays=tuple(window.weekdays or ()),
        start=window.start_time,
        end=window.end_time,
        tz=window.timezone,
        starts_at=window.starts_at,
        ends_at=window.ends_at,
        label=window.label or str(window),
        window_id=window.pk,
    )


def display_tz(specs: list[WindowSpec]) -> str:
    return next((s.tz for s in specs if s.kind == WindowKind.RECURRING), "UTC")


def request_is_due(request: EvictionRequest, now: datetime | None = None) -> bool:
    """Worth a start attempt now (the start itself checks approvals, window, pause and queue again)."""
    now = now or timezone.now()
    return (
        request.status == RequestStatus.SCHEDULED
        and (request.not_before is None or request.not_before <= now)
        and (request.start_after is None or request.start_after <= now)
    )


def drains_queued(cluster_id: int, now: datetime) -> Any:
    """Drains on the cluster that are approved and due, waiting only for their turn (submission order)."""
    return EvictionRequest.objects.filter(
        Q(not_before__isnull=True) | Q(not_before__lte=now),
        Q(start_after__isnull=True) | Q(start_after__lte=now),
        cluster_id=cluster_id,
        kind=RequestKind.DRAIN,
        status=RequestStatus.SCHEDULED,
    ).order_by("created_at", "pk")
