"""Approval policies and votes: who must agree before the engine acts, and recording that they did."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import Actor, audit_record
from clusters.models import Cluster
from evictions.approvals import Tally, awaiting_words, vote_refusal
from evictions.models import (
    DEFAULT_APPROVAL_VALID_MINUTES,
    Approval,
    ApprovalPolicy,
    Decision,
    EvictionRequest,
    PodEviction,
    RequestStatus,
)
from evictions.services.common import after_commit, authorize, cast_vote, clean_comment, notify
from evictions.services.lifecycle import lock_request
from evictions.services.policy import (
    APPROVE_PERM,
    PolicyCache,
    approver_allowed,
    policy_for,
    request_is_due,
    request_tally,
)

MAX_REQUIRED_APPROVALS = 10
MAX_VALID_MINUTES = 30 * 24 * 60


# ---- policies ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyInput:
    required_approvals: int = 0
    approver_groups: tuple[str, ...] = ()
    approver_users: tuple[str, ...] = ()
    delete_needs_approval: bool = False
    approval_valid_minutes: int = DEFAULT_APPROVAL_VALID_MINUTES
    windows_only: bool = False


def _policy_json(policy: ApprovalPolicy) -> dict[str, object]:
    return {
        "required_approvals": policy.required_approvals,
        "approver_groups": sorted(g.name for g in policy.approver_groups.all()) if policy.pk else [],
        "approver_users": sorted(u.get_username() for u in policy.approver_users.all()) if policy.pk else [],
        "delete_needs_approval": policy.delete_needs_approval,
        "approval_valid_minutes": policy.approval_valid_minutes,
        "windows_only": policy.windows_only,
    }


def policy_set(*, actor: Actor, cluster_id: int | None, data: PolicyInput) -> ApprovalPolicy:
    """Create or replace a cluster's policy (cluster_id None: the default for clusters without their own)."""
    authorize(actor, "evictions.change_approvalpolicy")
    errors: dict[str, list[str]] = {}
    if not isinstance(data.required_approvals, int) or not 0 <= data.required_approvals <= MAX_REQUIRED_APPROVALS:
        errors["required_approvals"] = [f"Between 0 (automatic) and {MAX_REQUIRED_APPROVALS}."]
    if not isinstance(data.approval_valid_minutes, int) or not 1 <= data.approval_valid_minutes <= MAX_VALID_MINUTES:
        errors["approval_valid_minutes"] = [f"Between 1 and {MAX_VALID_MINUTES} minutes (30 days)."]
    groups = list(Group.objects.filter(name__in=data.approver_groups))
    unknown = sorted(set(data.approver_groups) - {g.name for g in groups})
    if unknown:
        errors["approver_groups"] = [f"No such group: {', '.join(unknown)[:200]}."]
    User = get_user_model()
    users = list(User.objects.filter(username__in=data.approver_users))
    unknown = sorted(set(data.approver_users) - {u.get_username() for u in users})
    if unknown:
        errors["approver_users"] = [f"No such user: {', '.join(unknown)[:200]}."]
    cluster = None
    if cluster_id is not None:
        cluster = Cluster.objects.filter(pk=cluster_id).first()
        if cluster is None:
            errors["cluster"] = ["No such cluster."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        scope = {"cluster_id": cluster_id} if cluster_id is not None else {"cluster__isnull": True}
        policy = ApprovalPolicy.objects.select_for_update().filter(**scope).first()
        before = _policy_json(policy) if policy else None
        policy = policy or ApprovalPolicy(cluster=cluster)
        policy.required_approvals = data.required_approvals
        policy.delete_needs_approval = data.delete_needs_approval
        policy.approval_valid_minutes = data.approval_valid_minutes
        policy.windows_only = data.windows_only
        policy.save()
        policy.approver_groups.set(groups)
        policy.approver_users.set(users)
        reworded = _reword_awaiting(cluster_id)
        audit_record(
            actor=actor,
            action="policy.update",
            target=policy,
            cluster=cluster,
            details={
                "scope": cluster.name if cluster else "default",
                "before": before,
                "after": _policy_json(policy),
                "awaiting_requests_reworded": reworded,
            },
        )
    return policy


def policy_reset(*, actor: Actor, cluster_id: int) -> None:
    """Drop a cluster's own policy: the default applies again."""
    authorize(actor, "evictions.change_approvalpolicy")
    with transaction.atomic():
        policy = ApprovalPolicy.objects.select_for_update().filter(cluster_id=cluster_id).first()
        if policy is None:
            return
        before = _policy_json(policy)
        cluster = policy.cluster
        policy.delete()
        reworded = _reword_awaiting(cluster_id)
        audit_record(
            actor=actor,
            action="policy.reset",
            target=cluster,
            cluster=cluster,
            details={"before": before, "awaiting_requests_reworded": reworded},
        )


def _reword_awaiting(cluster_id: int | None) -> list[int]:
    """Rewrite the status line of the requests awaiting approval under a policy that just changed (a cluster's own,
    or the default for clusters without one), so none still says what the old policy needed. The ids changed."""
    awaiting = EvictionRequest.objects.filter(status=RequestStatus.AWAITING_APPROVAL)
    if cluster_id is None:
        awaiting = awaiting.filter(cluster__approval_policy__isnull=True)
    else:
        awaiting = awaiting.filter(cluster_id=cluster_id)
    changed = []
    for request in awaiting.select_for_update(of=("self",)).order_by("pk"):
        words = awaiting_words(request_tally(request))[:2000]
        if request.status_reason != words:
            request.status_reason = words
            request.save(update_fields=["status_reason", "updated_at"])
            changed.append(request.pk)
    return changed


# ---- votes on a request -----------------------------------------------------------------------------------------


def _check_vote(
    actor: Actor,
    *,
    requester_id: int,
    existing: Approval | None,
    tally_now: Tally,
    awaiting: bool,
    policy: ApprovalPolicy,
) -> None:
    voter_id = getattr(actor, "pk", None)
    if voter_id is None:
        raise PermissionDenied("Only a person can approve.")
    # A vote that no longer counts (expired, or cast before the approver was removed and re-added) can be renewed.
    name = actor.get_username()  # type: ignore[union-attr]
    still_counts = existing is not None and (existing.decision == Decision.REJECT or name in tally_now.valid)
    refusal = vote_refusal(
        voter_id=voter_id,
        requester_id=requester_id,
        voter_allowed=approver_allowed(actor, policy),
        already_voted=still_counts,
        awaiting=awaiting,
    )
    if refusal is None:
        return
    if voter_id == requester_id or not approver_allowed(actor, policy):
        raise PermissionDenied(refusal)
    raise ValidationError({"approval": [refusal]})


def request_approve(*, actor: Actor, request_id: int, comment: str = "") -> EvictionRequest:
    """Record an approval; with enough of them the request is scheduled (and starts if due)."""
    authorize(actor, APPROVE_PERM)
    comment = clean_comment(comment, required=False)
    with transaction.atomic():
        request = lock_request(request_id)
        policy = policy_for(request.cluster_id)
        now = timezone.now()
        existing = Approval.objects.filter(
            request=request, pod__isnull=True, approver_id=getattr(actor, "pk", None)
        ).first()
        before = request_tally(request, policy, now)
        _check_vote(
            actor,
            requester_id=request.requester_id,
            existing=existing,
            tally_now=before,
            awaiting=request.status == RequestStatus.AWAITING_APPROVAL,
            policy=policy,
        )
        cast_vote(request, None, actor, request.requester_id, Decision.APPROVE, comment, now, existing)
        after = request_tally(request, policy, now)
        audit_record(
            actor=actor,
            action="request.approve",
            target=request,
            cluster=request.cluster,
            details={"comment": comment, "renewed": existing is not None, "approvals": after.words()},
        )
        if after.approved:
            request.status = RequestStatus.SCHEDULED
            request.approved_at = now
            request.status_reason = f"Approved: {after.words()}"[:2000]
            request.start_after = None
            request.save(update_fields=["status", "approved_at", "status_reason", "start_after", "updated_at"])
            notify("approved", request, f"approved by {actor}")
            if request_is_due(request, now):
                after_commit("start_request", request.pk)
        else:
            request.status_reason = after.words()[:2000]
            request.save(update_fields=["status_reason", "updated_at"])
    return request


def request_reject(*, actor: Actor, request_id: int, comment: str) -> EvictionRequest:
    """A rejection ends the request; the comment says why."""
    authorize(actor, APPROVE_PERM)
    comment = clean_comment(comment, required=True)
    with transaction.atomic():
        request = lock_request(request_id)
        policy = policy_for(request.cluster_id)
        now = timezone.now()
        existing = Approval.objects.filter(
            request=request, pod__isnull=True, approver_id=getattr(actor, "pk", None)
        ).first()
        _check_vote(
            actor,
            requester_id=request.requester_id,
            existing=existing,
            tally_now=request_tally(request, policy, now),
            awaiting=request.status == RequestStatus.AWAITING_APPROVAL,
            policy=policy,
        )
        cast_vote(request, None, actor, request.requester_id, Decision.REJECT, comment, now, existing)
        request.status = RequestStatus.REJECTED
        request.status_reason = f"Rejected by {actor}: {comment}"[:2000]
        request.finished_at = now
        request.save(update_fields=["status", "status_reason", "finished_at", "updated_at"])
        audit_record(
            actor=actor, action="request.reject", target=request, cluster=request.cluster, details={"comment": comment}
        )
        notify("rejected", request, f"rejected by {actor}: {comment}")
    return request


def requests_awaiting_me(user: object) -> list[EvictionRequest]:
    """Requests this person may approve now: awaiting approval, not their own, and they are an allowed approver."""
    if not getattr(user, "is_active", False) or not user.has_perm(APPROVE_PERM):  # type: ignore[attr-defined]
        return []
    waiting = (
        EvictionRequest.objects.filter(status=RequestStatus.AWAITING_APPROVAL)
        .exclude(requester_id=getattr(user, "pk", None))
        .select_related("cluster", "requester")
        .order_by("created_at", "id")[:200]
    )
    policies = PolicyCache(user)
    return [request for request in waiting if policies.allowed(request.cluster_id)]


def pod_deletes_awaiting_me(user: object) -> list[PodEviction]:
    """Direct deletes asked for by someone else that this person may approve now."""
    if not getattr(user, "is_active", False) or not user.has_perm(APPROVE_PERM):  # type: ignore[attr-defined]
        return []
    asked = (
        PodEviction.objects.filter(delete_requested_at__isnull=False)
        .exclude(delete_requested_by_id=getattr(user, "pk", None))
        .exclude(delete_approvals__approver_id=getattr(user, "pk", None))
        .select_related("request__cluster", "delete_requested_by")
        .order_by("delete_requested_at", "id")[:200]
    )
    policies = PolicyCache(user)
    return [pod for pod in asked if not pod.finished and policies.allowed(pod.request.cluster_id)]
