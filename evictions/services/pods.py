"""Pod evictions: one attempt, following a terminating pod until it is gone, and the interventions on a pod."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Min, Q, QuerySet
from django.utils import timezone

from audit.services import Actor, System, audit_record
from clusters import kube
from clusters.kubetypes import Answer, Pdb
from clusters.models import Cluster
from evictions import ratelimit
from evictions.budgets import unready_behind
from evictions.claims import claim_until, keeper
from evictions.models import (
    POD_BUDGET_FIELDS,
    POD_FINISHED,
    POD_WAITING_TO_TRY,
    REQUEST_RUNNING,
    Approval,
    AttemptKind,
    Decision,
    EvictionAttempt,
    EvictionRequest,
    PodEviction,
    PodStatus,
    RequestStatus,
)
from evictions.outcomes import Next, Outcome, decide
from evictions.services.common import (
    WORKER,
    actor_name,
    after_commit,
    authorize,
    cast_vote,
    clean_comment,
    endpoint,
    not_now,
    notify,
    require_reason,
    send_now,
)
from evictions.services.leases import LEASE_SECONDS, lease, renew
from evictions.services.lifecycle import request_refresh
from evictions.services.policy import APPROVE_PERM, approver_allowed, policy_for

LATE = "late: claim lost"  # an attempt's outcome when its claim ran out before the answer came (see _record)
# A request's stored plan (every pod with its dry-run answer), targets and options are read when it starts, never
# by an attempt or a follow round; decoding them on every attempt cost more CPU than the attempt itself.
_BULK = ("plan", "targets", "options")


def _claim(pod_id: int, now: datetime) -> PodEviction | None:
    """Take the pod for one attempt, compare-and-swap: only one worker wins, however many messages arrive.

    One UPDATE whose own WHERE clause holds every condition on the pod's row: PostgreSQL re-checks exactly that clause
    on the row version a waiting UPDATE gets, so of two workers claiming at once the second finds the claim taken.
    (Django's ORM turns a filter through a relation into `WHERE id IN (SELECT ... JOIN ...)`, which PostgreSQL does
    not re-check: the scale benchmark caught 11 pods evicted twice that way.) The request's conditions sit in a
    subquery on the other tables. Written in SQL because every attempt runs it: the ORM spent 0.9 ms building it.
    """
    ops = connection.ops
    claimed = _exec(
        _CLAIM_SQL,
        {
            "until": ops.adapt_datetimefield_value(claim_until(now)),
            "now": ops.adapt_datetimefield_value(now),
            "pod": pod_id,
            "pending": PodStatus.PENDING.value,
            "blocked": PodStatus.BLOCKED.value,
            "running": RequestStatus.RUNNING.value,
            "needs_intervention": RequestStatus.NEEDS_INTERVENTION.value,
        },
    )
    if not claimed:
        return None
    return PodEviction.objects.select_related("request__cluster").only(*_ATTEMPT_READS).get(pk=pod_id)


_CLAIM_SQL = f"""
UPDATE {PodEviction._meta.db_table} SET claimed_until = %(until)s
WHERE id = %(pod)s
  AND (claimed_until IS NULL OR claimed_until < %(now)s)
  AND status IN (%(pending)s, %(blocked)s)
  AND next_attempt_at <= %(now)s
  AND request_id IN (
    SELECT r.id FROM {EvictionRequest._meta.db_table} r JOIN {Cluster._meta.db_table} c ON c.id = r.cluster_id
    WHERE r.status IN (%(running)s, %(needs_intervention)s)
      AND NOT c.paused
      AND (r.window_ends_at IS NULL OR r.window_ends_at > %(now)s)
  )
"""  # noqa: S608 - table names from our models; every value is a parameter


def _exec(sql: str, params: dict[str, Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


# What an attempt reads before it calls the cluster (a field not named here would cost one more query, not a bug).
_ATTEMPT_READS = (
    "namespace",
    "name",
    "uid",
    "attempts",
    "transient_failures",
    "request__grace_period_seconds",
    "request__deadline_at",
    "request__follower_until",
    *(
        f"request__cluster__{field}"
        for field in (
            "name",
            "api_url",
            "ca_pem",
            "credentials_secret",
            "qps_limit",
            "eviction_api_version",
            "watcher_until",
        )
    ),
)


def pod_attempt(*, pod_id: int) -> Outcome | None:
    """Try to evict one pod once, record what the cluster answered, and decide what happens next."""
    now = timezone.now()
    pod = _claim(pod_id, now)
    if pod is None:
        return None
    request, cluster = pod.request, pod.request.cluster
    with keeper.holding(pod.pk, claim_until(now)) as claim:  # renewed while the cluster takes its time
        ratelimit.acquire(cluster.pk, cluster.qps_limit)
        answer = kube.evict(
            endpoint(cluster),
            namespace=pod.namespace,
            name=pod.name,
            uid=pod.uid,
            api_version=cluster.eviction_api_version or "policy/v1",
            grace_period_seconds=request.grace_period_seconds,
        )
        deadline_passed = request.deadline_at is not None and timezone.now() >= request.deadline_at
        outcome = decide(
            answer,
            attempt=pod.attempts + 1,
            transient_failures=pod.transient_failures,
            deadline_passed=deadline_passed,
            namespace=pod.namespace,
        )
        if outcome.next is Next.NEEDS_INTERVENTION and outcome.budget is not None:
            outcome = _explain_block(cluster, pod, outcome)
    # The attempt is dated from its claim: a pause after that moment lets it finish, as promised.
    _record(claimed=pod, answer=answer, outcome=outcome, at=now, token=claim.until)
    return outcome


def _explain_block(cluster: Cluster, pod: PodEviction, outcome: Outcome) -> Outcome:
    """At the deadline, name the pods behind the budget that are not Ready: that is why it blocks."""
    try:
        unready = blocking_unready_pods(cluster, pod.namespace, outcome.budget.name if outcome.budget else "")
    except kube.KubeError:
        return outcome
    if not unready:
        return outcome
    names = ", ".join(unready[:10]) + (f" and {len(unready) - 10} more" if len(unready) > 10 else "")
    return Outcome(outcome.next, f"{outcome.note} Not Ready behind it: {names}.", None, outcome.budget)


def blocking_unready_pods(cluster: Cluster, namespace: str, pdb_name: str) -> list[str]:
    """The pods a budget selects that are not Ready, with their node: the reason a budget has no room."""
    api_version = cluster.eviction_api_version or "policy/v1"
    pdb = next(
        (
            p
            for p in kube.list_pdbs(endpoint(cluster), namespace=namespace, api_version=api_version)
            if p.name == pdb_name
        ),
        None,
    )
    if pdb is None or pdb.selector is None:
        return []
    return unready_behind(pdb, kube.list_pods(endpoint(cluster), namespace=namespace), timezone.now())


def _log_attempt(
    pod: PodEviction, kind: str, answer: Answer, at: datetime, *, budget: str = "", outcome: str = "", actor: str = ""
) -> EvictionAttempt:
    """Every call made, with what the cluster answered: the record an auditor reads afterwards."""
    return EvictionAttempt.objects.create(
        pod=pod,
        kind=kind,
        at=at,
        duration_ms=answer.duration_ms,
        http_status=answer.status,
        reason=answer.reason,
        message=answer.message[:2000],
        budget=budget,
        retry_after=answer.retry_after,
        transport_error=answer.transport_error,
        outcome=outcome,
        actor=actor,
    )


def _record(*, claimed: PodEviction, answer: Answer, outcome: Outcome, at: datetime, token: datetime | None) -> None:
    cluster = claimed.request.cluster
    with transaction.atomic():
        pod = PodEviction.objects.select_for_update().get(pk=claimed.pk)
        now = timezone.now()
        if token is None or pod.claimed_until != token:
            # The claim ran out under this attempt (its renewals stalled) and another attempt may hold the pod: what
            # the cluster answered goes in the record, the pod is left to the one that holds it.
            _log_attempt(pod, AttemptKind.EVICT, answer, at, outcome=LATE)
            return
        _log_attempt(
            pod,
            AttemptKind.EVICT,
            answer,
            at,
            budget=outcome.budget.words(pod.namespace) if outcome.budget else "",
            outcome=str(outcome.next),
        )
        was = pod.status
        pod.attempts += 1
        pod.last_status_code = answer.status
        pod.note = outcome.note[:2000]
        pod.claimed_until = None
        transient = outcome.next is Next.RETRY and (answer.status is None or answer.status >= 500)
        pod.transient_failures = pod.transient_failures + 1 if transient else 0
        if outcome.next is Next.TERMINATING:
            pod.status, pod.eviction_accepted_at, pod.next_attempt_at = PodStatus.TERMINATING, now, None
        elif outcome.next is Next.EVICTED:
            _mark_gone(pod, now)
        elif outcome.next is Next.BLOCKED:
            pod.status = PodStatus.BLOCKED
            pod.blocked_since = pod.blocked_since or at
            pod.blocking_pdb = f"{pod.namespace}/{outcome.budget.name}" if outcome.budget else ""
            # The 429's numbers, until the budget watcher reads the budget: it refuses only when none is allowed.
            pod.budget_needs = outcome.budget.needs if outcome.budget else None
            pod.budget_has = outcome.budget.has if outcome.budget else None
            pod.budget_allowed = 0 if outcome.budget and outcome.budget.needs is not None else None
            pod.budget_expected = None
            pod.budget_seen_at = at if pod.budget_needs is not None else None
            pod.next_attempt_at = now + timedelta(seconds=outcome.retry_in or 1)
        elif outcome.next is Next.RETRY:
            pod.status = PodStatus.BLOCKED if was == PodStatus.BLOCKED else PodStatus.PENDING
            pod.next_attempt_at = now + timedelta(seconds=outcome.retry_in or 1)
        elif outcome.next is Next.NEEDS_INTERVENTION:
            pod.status, pod.next_attempt_at = PodStatus.NEEDS_INTERVENTION, None
        else:
            pod.status, pod.next_attempt_at, pod.finished_at = PodStatus.FAILED, None, now
        pod.save(update_fields=_ATTEMPT_FIELDS)
        if pod.status != was or (outcome.next is Next.BLOCKED and pod.attempts == 1):
            audit_record(
                actor=WORKER,
                action=f"pod.{pod.status}",
                target=pod,
                cluster=cluster,
                details={"pod": pod.key, "request": pod.request_id, "http_status": answer.status, "note": pod.note},
            )
        if outcome.flag_cluster:
            _flag_cluster(cluster, outcome.note)
        elif pod.status in POD_FINISHED or pod.status == PodStatus.NEEDS_INTERVENTION:
            # Only a pod that finished or now needs a person can change its request's status (the pod was pending
            # or blocked): the request's row is locked, after the pod's as everywhere, only then.
            request = EvictionRequest.objects.select_for_update().defer(*_BULK).get(pk=pod.request_id)
            request.cluster = cluster
            request_refresh(request=request)
        # A pod a named budget just refused, on a cluster whose watcher is alive, is the watcher's to try again (see
        # pods_due); its backoff still dates the tick's fallback should the watcher die.
        watched = outcome.next is Next.BLOCKED and pod.blocking_pdb and _watcher_alive(cluster, now)
        if pod.status in POD_WAITING_TO_TRY and outcome.retry_in is not None and not watched:
            after_commit("attempt_pod", pod.pk, countdown=outcome.retry_in)
        # A follower renews its lease every round (a few seconds); one with most of its lease left is alive and will
        # see this pod. (If it ends at this very moment, the tick starts another.) That saves a message per eviction.
        follower = claimed.request.follower_until
        if pod.status == PodStatus.TERMINATING and (
            follower is None or follower < now + timedelta(seconds=LEASE_SECONDS / 2)
        ):
            after_commit("follow_request", pod.request_id)
        if pod.status == PodStatus.BLOCKED and was != PodStatus.BLOCKED:
            after_commit("watch_budgets", cluster.pk)  # a no-op when the cluster's watcher is alive


def _watcher_alive(cluster: Cluster, now: datetime) -> bool:
    return cluster.watcher_until is not None and cluster.watcher_until > now


# What an attempt changes on its pod (the UPDATE names only these).
_ATTEMPT_FIELDS = [
    "status",
    "note",
    "attempts",
    "transient_failures",
    "last_status_code",
    "next_attempt_at",
    "claimed_until",
    "blocked_since",
    *POD_BUDGET_FIELDS,
    "eviction_accepted_at",
    "finished_at",
    "seconds_to_evict",
    "updated_at",
]


def _mark_gone(
    pod: PodEviction, now: datetime, status: str = PodStatus.EVICTED, *, first: datetime | None = None
) -> None:
    """The pod is gone: done, with the time from its first attempt (read here unless the caller has it)."""
    if first is None:
        first = EvictionAttempt.objects.filter(pod=pod).aggregate(first=Min("at"))["first"] or pod.created_at
    pod.status, pod.finished_at, pod.next_attempt_at = status, now, None
    pod.seconds_to_evict = max(0.0, (now - first).total_seconds())


def _flag_cluster(cluster: Cluster, note: str) -> None:
    """Credentials or RBAC failed: mark the cluster, and fail its waiting pods now instead of retrying each."""
    Cluster.objects.filter(pk=cluster.pk).update(
        reachable=False, last_error=note[:1000], last_checked_at=timezone.now()
    )
    now = timezone.now()
    failed = PodEviction.objects.filter(
        request__cluster=cluster, request__status__in=REQUEST_RUNNING, status__in=POD_WAITING_TO_TRY
    )
    count = failed.update(
        status=PodStatus.FAILED, finished_at=now, next_attempt_at=None, note=f"Not attempted: {note}"[:2000]
    )
    audit_record(
        actor=WORKER,
        action="cluster.credentials_failed",
        target=cluster,
        cluster=cluster,
        details={"note": note, "pods_failed": count},
    )
    for request in EvictionRequest.objects.select_for_update().filter(cluster=cluster, status__in=REQUEST_RUNNING):
        request_refresh(request=request)


# ---- following pods until they are gone ---------------------------------------------------------------------------


def pods_terminated(*, request_id: int) -> int:
    """Mark evicted every terminating pod whose UID is gone, and return how many are still terminating.

    A drain costs one list of the node's pods per round, a pods request one list per namespace; kubectl instead
    GETs every pod every second."""
    request = EvictionRequest.objects.select_related("cluster").defer(*_BULK).get(pk=request_id)
    terminating = list(PodEviction.objects.filter(request=request, status=PodStatus.TERMINATING))
    if not terminating:
        return 0
    scopes = [""] if request.node else sorted({p.namespace for p in terminating})
    present: set[tuple[str, str]] = set()
    for namespace in scopes:
        try:
            pods = kube.list_pods(endpoint(request.cluster), namespace=namespace, node=request.node)
        except kube.KubeError:
            return len(terminating)  # try again on the next round
        present.update((p.namespace, p.uid) for p in pods)
    gone = [p.pk for p in terminating if (p.namespace, p.uid) not in present]
    if gone:
        cluster = request.cluster
        with transaction.atomic():
            request = EvictionRequest.objects.select_for_update().defer(*_BULK).get(pk=request_id)
            request.cluster = cluster
            now = timezone.now()
            # Two queries for the round, not two per pod: which pods were deleted directly, and their first attempts.
            attempts = EvictionAttempt.objects.filter(pod_id__in=gone)
            forced_ids = set(
                attempts.filter(kind=AttemptKind.DELETE, http_status__lt=300).values_list("pod_id", flat=True)
            )
            first = dict(attempts.values_list("pod_id").annotate(first=Min("at")).order_by())
            for pod in PodEviction.objects.select_for_update().filter(pk__in=gone, status=PodStatus.TERMINATING):
                forced = pod.pk in forced_ids
                _mark_gone(pod, now, PodStatus.DELETED if forced else PodStatus.EVICTED, first=first.get(pod.pk))
                pod.note = "Gone (deleted directly)." if forced else "Gone."
                pod.save(
                    update_fields=["status", "note", "finished_at", "next_attempt_at", "seconds_to_evict", "updated_at"]
                )
                audit_record(
                    actor=WORKER,
                    action=f"pod.{pod.status}",
                    target=pod,
                    cluster=request.cluster,
                    details={"pod": pod.key, "request": request.pk, "seconds": pod.seconds_to_evict},
                )
            request_refresh(request=request)
    return len(terminating) - len(gone)


def next_wait_for_termination(request_id: int) -> float:
    """Seconds until the next look: when the first pod's grace period ends, between 0.5 and 5 seconds."""
    now = timezone.now()
    soonest = None
    for pod in PodEviction.objects.filter(request_id=request_id, status=PodStatus.TERMINATING):
        if pod.grace_period_seconds is None:
            return 1.0  # the pod's own grace period is unknown: look every second, as kubectl does
        at = (pod.eviction_accepted_at or now) + timedelta(seconds=pod.grace_period_seconds)
        soonest = at if soonest is None or at < soonest else soonest
    if soonest is None:
        return 1.0
    return min(5.0, max(0.5, (soonest - now).total_seconds()))


# ---- interventions on a pod -------------------------------------------------------------------------------------


def _locked_pod(pod_id: int) -> PodEviction:
    return PodEviction.objects.select_for_update(of=("self",)).select_related("request__cluster").get(pk=pod_id)


_RETRYABLE = (*POD_WAITING_TO_TRY, PodStatus.NEEDS_INTERVENTION)


def _make_due(pod: PodEviction, actor: Actor) -> str:
    """Put a waiting or stuck pod back in line for an attempt now; returns the status it had."""
    was = pod.status
    pod.status = PodStatus.BLOCKED if was == PodStatus.BLOCKED else PodStatus.PENDING
    pod.next_attempt_at, pod.transient_failures = timezone.now(), 0
    pod.note = f"Retry requested by {actor}."
    pod.save()
    return was


def pod_retry_now(*, actor: Actor, pod_id: int, reason: str = "") -> PodEviction:
    authorize(actor, "evictions.intervene_evictionrequest")
    with transaction.atomic():
        pod = _locked_pod(pod_id)
        if pod.status not in _RETRYABLE:
            raise not_now("pod", "retried", pod.get_status_display())
        was = _make_due(pod, actor)
        audit_record(
            actor=actor,
            action="pod.retry",
            target=pod,
            cluster=pod.request.cluster,
            details={"pod": pod.key, "request": pod.request_id, "was": was, "reason": reason.strip()},
        )
        request = EvictionRequest.objects.select_for_update().get(pk=pod.request_id)
        request_refresh(request=request)
        after_commit("attempt_pod", pod.pk)
    return pod


def request_retry_now(*, actor: Actor, request_id: int, reason: str = "") -> EvictionRequest:
    """Every waiting or stuck pod of a running request is tried again now (one audit event for the request)."""
    authorize(actor, "evictions.intervene_evictionrequest")
    with transaction.atomic():
        request = EvictionRequest.objects.select_for_update(of=("self",)).select_related("cluster").get(pk=request_id)
        if request.status not in REQUEST_RUNNING:
            raise not_now("request", "retried", request.get_status_display())
        pods = list(PodEviction.objects.select_for_update().filter(request=request, status__in=_RETRYABLE))
        if not pods:
            raise ValidationError({"status": ["No pod of this request is waiting or stuck."]})
        for pod in pods:
            _make_due(pod, actor)
            after_commit("attempt_pod", pod.pk)
        audit_record(
            actor=actor,
            action="request.retry",
            target=request,
            cluster=request.cluster,
            details={"pods": [p.key for p in pods], "reason": reason.strip()},
        )
        request_refresh(request=request)
    return request


def pod_skip(*, actor: Actor, pod_id: int, reason: str) -> PodEviction:
    authorize(actor, "evictions.intervene_evictionrequest")
    reason = require_reason(reason)
    with transaction.atomic():
        pod = _locked_pod(pod_id)
        if pod.finished or pod.status == PodStatus.TERMINATING:
            raise not_now("pod", "skipped", pod.get_status_display())
        was = pod.status
        pod.status, pod.finished_at, pod.next_attempt_at = PodStatus.SKIPPED, timezone.now(), None
        pod.skipped_by = actor_name(actor)
        pod.note = f"Skipped by {actor}: {reason}"[:2000]
        pod.save()
        audit_record(
            actor=actor,
            action="pod.skip",
            target=pod,
            cluster=pod.request.cluster,
            details={"pod": pod.key, "request": pod.request_id, "was": was, "reason": reason},
        )
        request_refresh(request=EvictionRequest.objects.select_for_update().get(pk=pod.request_id))
    return pod


def pod_force_delete(
    *, actor: Actor, pod_id: int, reason: str, confirm_name: str, grace_period_seconds: int | None = None
) -> PodEviction:
    """Delete the pod directly (bypassing its budget), only the pod with the recorded UID. Operators only.

    On a cluster whose policy wants direct deletes approved, this records the ask instead (the pod's
    delete_requested_* fields) and the delete happens when another person approves it."""

    authorize(actor, "evictions.force_delete_podeviction")
    reason = require_reason(reason)
    if grace_period_seconds is not None and not 0 <= grace_period_seconds <= 24 * 3600:
        raise ValidationError({"grace_period_seconds": ["Choose 0 to 86400 seconds, or blank for the pod's own."]})
    pod = PodEviction.objects.select_related("request__cluster").get(pk=pod_id)
    if confirm_name != pod.name:
        raise ValidationError({"confirm_name": [f"Type the pod's name ({pod.name}) to confirm."]})
    if pod.finished:
        raise ValidationError({"status": [f"The pod is already {pod.get_status_display().lower()}."]})
    if policy_for(pod.request.cluster_id).delete_needs_approval:
        return _ask_delete_approval(actor, pod_id, reason, grace_period_seconds)
    return _delete_directly(actor, pod_id, reason, grace_period_seconds)


def _ask_delete_approval(actor: Actor, pod_id: int, reason: str, grace_period_seconds: int | None) -> PodEviction:
    with transaction.atomic():
        pod = _locked_pod(pod_id)
        if pod.delete_requested_at is not None:
            raise ValidationError(
                {
                    "status": [
                        f"A direct delete of this pod already waits for approval (asked by {pod.delete_requested_by})."
                    ]
                }
            )
        pod.delete_requested_by = actor  # type: ignore[assignment]
        pod.delete_requested_at = timezone.now()
        pod.delete_reason = reason
        pod.delete_grace_seconds = grace_period_seconds
        pod.save(
            update_fields=[
                "delete_requested_by",
                "delete_requested_at",
                "delete_reason",
                "delete_grace_seconds",
                "updated_at",
            ]
        )
        Approval.objects.filter(pod=pod).delete()  # votes on an earlier, rejected ask do not carry over
        audit_record(
            actor=actor,
            action="pod.force_delete_requested",
            target=pod,
            cluster=pod.request.cluster,
            details={
                "pod": pod.key,
                "request": pod.request_id,
                "reason": reason,
                "grace_period_seconds": grace_period_seconds,
            },
        )
        notify("approval_requested", pod.request, f"{actor} asks to delete pod {pod.key} directly: {reason}")
    return pod


def pod_delete_approve(*, actor: Actor, pod_id: int, comment: str = "") -> PodEviction:
    """Approve an asked-for direct delete; with enough approvals the pod is deleted now.

    If the cluster refuses the delete, the approved ask stays; an approver who voted for it approves again to retry."""

    authorize(actor, APPROVE_PERM)
    comment = clean_comment(comment, required=False)
    with transaction.atomic():
        pod = _locked_pod(pod_id)
        policy = policy_for(pod.request.cluster_id)
        needed = max(1, policy.required_approvals)
        approvals = Approval.objects.filter(pod=pod, decision=Decision.APPROVE).count()
        voted_for = Approval.objects.filter(
            pod=pod, approver_id=getattr(actor, "pk", None), decision=Decision.APPROVE
        ).exists()
        retry = voted_for and approvals >= needed and pod.delete_requested_at is not None and not pod.finished
        if not retry:
            _check_delete_vote(actor, pod, approver_allowed(actor, policy))
            now = timezone.now()
            cast_vote(pod.request, pod, actor, pod.delete_requested_by_id, Decision.APPROVE, comment, now, None)  # type: ignore[arg-type]
            approvals += 1
        audit_record(
            actor=actor,
            action="pod.force_delete_approve",
            target=pod,
            cluster=pod.request.cluster,
            details={"pod": pod.key, "comment": comment, "approvals": approvals, "needed": needed, "retry": retry},
        )
        asked_by, reason, grace = pod.delete_requested_by, pod.delete_reason, pod.delete_grace_seconds
        asked_at = pod.delete_requested_at
        if approvals < needed:
            return pod
        # Everyone whose approval made the delete, in the order they voted, not only the last one.
        approvers = [
            a.approver.get_username()
            for a in Approval.objects.filter(pod=pod, decision=Decision.APPROVE)
            .select_related("approver")
            .order_by("created_at", "pk")
        ]
        # Taken off the inbox before the call, so that two approvers at once do not both delete.
        PodEviction.objects.filter(pk=pod.pk).update(delete_requested_at=None)
    try:
        return _delete_directly(
            actor,
            pod_id,
            f"{reason} (asked by {asked_by}, approved by {_names(approvers)})",
            grace,
            approved_by=approvers,
        )
    except ValidationError:
        PodEviction.objects.filter(pk=pod_id, delete_requested_at__isnull=True).update(delete_requested_at=asked_at)
        raise


def pod_delete_reject(*, actor: Actor, pod_id: int, comment: str) -> PodEviction:
    """Refuse an asked-for direct delete; the pod stays where it is and keeps waiting for its budget."""

    authorize(actor, APPROVE_PERM)
    comment = clean_comment(comment, required=True)
    with transaction.atomic():
        pod = _locked_pod(pod_id)
        _check_delete_vote(actor, pod, approver_allowed(actor, policy_for(pod.request.cluster_id)))
        cast_vote(pod.request, pod, actor, pod.delete_requested_by_id, Decision.REJECT, comment, timezone.now(), None)  # type: ignore[arg-type]
        pod.delete_requested_at = None
        pod.note = f"Direct delete refused by {actor}: {comment}"[:2000]
        pod.save(update_fields=["delete_requested_at", "note", "updated_at"])
        audit_record(
            actor=actor,
            action="pod.force_delete_reject",
            target=pod,
            cluster=pod.request.cluster,
            details={"pod": pod.key, "comment": comment, "asked_by": str(pod.delete_requested_by)},
        )
    return pod


def _check_delete_vote(actor: Actor, pod: PodEviction, allowed: bool) -> None:
    from django.core.exceptions import PermissionDenied

    from evictions.approvals import vote_refusal

    voted = Approval.objects.filter(pod=pod, approver_id=getattr(actor, "pk", None)).exists()
    refusal = vote_refusal(
        voter_id=getattr(actor, "pk", 0),
        requester_id=pod.delete_requested_by_id or 0,
        voter_allowed=allowed,
        already_voted=voted,
        awaiting=pod.delete_requested_at is not None and not pod.finished,
    )
    if refusal is None:
        return
    if getattr(actor, "pk", None) == pod.delete_requested_by_id:
        raise PermissionDenied("You cannot approve a direct delete you asked for; another person must.")
    if not allowed:
        raise PermissionDenied(refusal)
    if not voted:
        refusal = "No direct delete of this pod waits for approval."
    raise ValidationError({"approval": [refusal]})


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _delete_directly(
    actor: Actor, pod_id: int, reason: str, grace_period_seconds: int | None, approved_by: list[str] | None = None
) -> PodEviction:
    pod = PodEviction.objects.select_related("request__cluster").get(pk=pod_id)
    if pod.finished:
        raise ValidationError({"status": [f"The pod is already {pod.get_status_display().lower()}."]})
    cluster = pod.request.cluster
    started = timezone.now()
    answer = kube.delete_pod(
        endpoint(cluster),
        namespace=pod.namespace,
        name=pod.name,
        uid=pod.uid,
        grace_period_seconds=grace_period_seconds,
    )
    return_error = ""
    with transaction.atomic():
        pod = _locked_pod(pod_id)
        _log_attempt(pod, AttemptKind.DELETE, answer, started, actor=str(actor))
        details = {
            "pod": pod.key,
            "uid": pod.uid,
            "request": pod.request_id,
            "reason": reason,
            "grace_period_seconds": grace_period_seconds,
            "http_status": answer.status,
        }
        if approved_by is not None:
            details["approved_by"] = approved_by
        if answer.status in (200, 202):
            pod.status, pod.next_attempt_at = PodStatus.TERMINATING, None
            pod.eviction_accepted_at = timezone.now()
            pod.grace_period_seconds = grace_period_seconds
            pod.note = f"Deleted directly by {actor}: {reason}"[:2000]
            pod.save()
            audit_record(actor=actor, action="pod.force_delete", target=pod, cluster=cluster, details=details)
            after_commit("follow_request", pod.request_id)
        elif answer.status in (404, 409):
            _mark_gone(pod, timezone.now(), PodStatus.DELETED)
            pod.note = "The pod was already gone when it was deleted directly."
            pod.save()
            audit_record(actor=actor, action="pod.force_delete", target=pod, cluster=cluster, details=details)
        else:
            refused = answer.message or answer.transport_error or f"HTTP {answer.status}"
            audit_record(
                actor=actor,
                action="pod.force_delete_failed",
                target=pod,
                cluster=cluster,
                details={**details, "error": refused},
            )
            return_error = refused
        if not return_error:
            request_refresh(request=EvictionRequest.objects.select_for_update().get(pk=pod.request_id))
    if return_error:
        # Raised after the commit: the attempt and its audit event are kept.
        raise ValidationError({"status": [f"The cluster refused the delete: {return_error}"]})
    return pod


def enqueue_waiting_on_cluster(cluster_id: int) -> None:
    """After a cluster is resumed: every waiting pod of its running requests is due now (enqueued after commit)."""
    waiting = PodEviction.objects.filter(
        request__cluster_id=cluster_id, request__status__in=REQUEST_RUNNING, status__in=POD_WAITING_TO_TRY
    )
    waiting.update(next_attempt_at=timezone.now())
    for pod_id in waiting.values_list("pk", flat=True):
        after_commit("attempt_pod", pod_id)


def pods_due(now: datetime | None = None) -> list[int]:
    """Pods whose next attempt is past due by a whole tick with nobody working on them: lost messages, expired claims.

    A tick's grace, not a second or two: behind a backlog a countdown message runs late without being lost, and
    sending its pod again only lengthens the backlog (at 100 drains the duplicates were 6 of every 10 attempt tasks).
    A message that was really lost is sent again within two ticks."""
    now = now or timezone.now()
    late = now - timedelta(seconds=max(2, settings.TICK_SECONDS))
    due = PodEviction.objects.filter(
        _unclaimed(now),
        status__in=POD_WAITING_TO_TRY,
        next_attempt_at__lte=late,
        request__status__in=REQUEST_RUNNING,
        request__cluster__paused=False,
    ).exclude(
        # A pod waiting for a named budget on a cluster whose budget watcher is alive is the watcher's: it attempts
        # it the moment the budget has room, and lists every budget again at least every FOLLOW_SECONDS. Sending it
        # from here as well only buys a 429 (at 100 drains, a thousand of them a round).
        # Not a claim a killed worker left behind (claimed_until set and past): the watcher may have passed that pod
        # over while it was claimed, and would not come back to it before the budget changes again.
        Q(status=PodStatus.BLOCKED)
        & ~Q(blocking_pdb="")
        & Q(request__cluster__watcher_until__gt=now)
        & Q(claimed_until__isnull=True)
    )
    return list(due.values_list("pk", flat=True)[:2000])


def pods_blocked_past_deadline(now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        PodEviction.objects.filter(
            status=PodStatus.BLOCKED, request__deadline_at__lte=now, request__status__in=REQUEST_RUNNING
        ).values_list("pk", flat=True)[:2000]
    )


def requests_needing_followers(now: datetime | None = None) -> list[int]:
    """Requests with terminating pods and no live follower."""
    now = now or timezone.now()
    free = Q(follower_until__isnull=True) | Q(follower_until__lt=now)
    follow = EvictionRequest.objects.filter(
        free,
        status__in=[*REQUEST_RUNNING, RequestStatus.PAUSED, RequestStatus.CANCELLED],
        pods__status=PodStatus.TERMINATING,
    ).distinct()
    return list(follow.values_list("pk", flat=True)[:500])


def blocked_pods(cluster_id: int) -> QuerySet[PodEviction]:
    """The pods a budget pushed back on this cluster, in every running request: what its budget watcher serves."""
    return PodEviction.objects.filter(
        request__cluster_id=cluster_id, request__status__in=REQUEST_RUNNING, status=PodStatus.BLOCKED
    )


def pods_freed_by(cluster_id: int, budget: str, allowed: int) -> list[int]:
    """The pods a budget that now allows `allowed` disruptions lets go: its longest-blocked pods on this cluster,
    whatever their request and not in flight, made due now."""
    now = timezone.now()
    pod_ids = list(
        blocked_pods(cluster_id)
        .filter(_unclaimed(now), blocking_pdb=budget)
        .order_by("blocked_since", "pk")
        .values_list("pk", flat=True)[: max(0, allowed)]
    )
    PodEviction.objects.filter(pk__in=pod_ids).update(next_attempt_at=now)
    return pod_ids


def budgets_seen(cluster_id: int, pdbs: list[Pdb]) -> int:
    """What the budget watcher reads of the budgets holding pods back, written on those pods: "needs 2 healthy pods
    and has 1" as the cluster has it now. A pod waiting its turn has had no 429 of its own to name the numbers, and
    a refusal's numbers go stale while the replacement starts. Returns how many pods changed."""
    seen = {p.key: p for p in pdbs if p.processed}
    blocking = set(seen)  # one budget (a watch event): its UPDATE alone finds whether it holds pods back
    if len(seen) > 1:  # a list: only the budgets that hold pods back, not one UPDATE for every budget of the cluster
        blocking = set(blocked_pods(cluster_id).filter(blocking_pdb__in=seen).values_list("blocking_pdb", flat=True))
    changed = 0
    now = timezone.now()
    for key in blocking:
        pdb = seen[key]
        numbers = {
            "budget_needs": pdb.desired_healthy,
            "budget_has": pdb.current_healthy,
            "budget_allowed": pdb.disruptions_allowed,
            "budget_expected": pdb.expected_pods,
        }
        # Written only when they changed: the time says when these numbers were read, which they still are.
        changed += (
            blocked_pods(cluster_id).filter(blocking_pdb=key).exclude(**numbers).update(**numbers, budget_seen_at=now)
        )
    return changed


def _unclaimed(now: datetime) -> Q:
    """No worker holds the pod: never claimed, or its claim ran out (a worker died with it)."""
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


def clusters_needing_watchers(now: datetime | None = None) -> list[int]:
    """Clusters with blocked pods in a running request and no live budget watcher."""
    now = now or timezone.now()
    return list(
        Cluster.objects.filter(
            Q(watcher_until__isnull=True) | Q(watcher_until__lt=now),
            requests__status__in=REQUEST_RUNNING,
            requests__pods__status=PodStatus.BLOCKED,
        )
        .distinct()
        .values_list("pk", flat=True)[:500]
    )


def pod_deadline_reached(*, pod_id: int) -> None:
    """The tick found a blocked pod past its request's deadline: a person is needed, with the reason in words."""
    with transaction.atomic():
        pod = _locked_pod(pod_id)
        if pod.status != PodStatus.BLOCKED:
            return
        request = EvictionRequest.objects.select_for_update().get(pk=pod.request_id)
        # The note names the budget; its numbers are the pod's budget fields, said once (PodEviction.budget_words).
        budget = f"its disruption budget {pod.blocking_pdb}" if pod.blocking_pdb else "its disruption budget"
        pod.status, pod.next_attempt_at = PodStatus.NEEDS_INTERVENTION, None
        pod.note = f"Still blocked at the deadline by {budget}."
        pod.save()
        audit_record(
            actor=System("tick"),
            action="pod.needs_intervention",
            target=pod,
            cluster=request.cluster,
            details={"pod": pod.key, "request": request.pk, "note": pod.note},
        )
        request_refresh(request=request)
    # Name the unready pods behind the budget (outside the transaction: it reads the cluster).
    if pod.blocking_pdb:
        namespace, _, name = pod.blocking_pdb.partition("/")
        try:
            unready = blocking_unready_pods(pod.request.cluster, namespace, name)
        except kube.KubeError:
            unready = []
        if unready:
            note = f"{pod.note} Not Ready behind it: {', '.join(unready[:10])}."[:2000]
            PodEviction.objects.filter(pk=pod.pk, status=PodStatus.NEEDS_INTERVENTION).update(note=note)


def request_follow_round(*, request_id: int, round_token: str = "") -> None:
    """One round of following terminating pods; it re-enqueues itself (a short task never holds a worker slot).

    The first round takes the request's follower lease; later rounds (carrying round_token) renew it, so the tick
    never starts a second chain while this one is alive, and takes over within LEASE_SECONDS if it dies.
    """
    token = round_token or uuid.uuid4().hex
    rows = EvictionRequest.objects.filter(pk=request_id)
    if not round_token and not lease(rows, "follower_until"):
        return
    renew(rows, "follower_until")
    if pods_terminated(request_id=request_id) == 0:
        rows.update(follower_until=None)
        return
    send_now("follow_request", request_id, token, countdown=next_wait_for_termination(request_id))
