"""Eviction requests: create (with its plan), start, pause, resume, cancel, extend, and finishing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import Actor, audit_record
from clusters import kube
from clusters.models import Cluster
from evictions.models import (
    POD_WAITING_TO_TRY,
    REQUEST_RUNNING,
    EvictionRequest,
    PauseKind,
    PodEviction,
    PodStatus,
    RequestKind,
    RequestStatus,
    Schedule,
)
from evictions.planning import Disposition, DrainOptions, Plan, PodTarget, plan_drain, plan_pods
from evictions.scheduling import StartDecision, StartInputs, decide_start
from evictions.services.common import (
    CONTROL,
    WORKER,
    after_commit,
    authorize,
    endpoint,
    not_now,
    notify,
    require_reason,
)
from evictions.services.lifecycle import (
    enqueue_waiting,
    lock_request,
    request_finish,
    request_refresh,
    start_next_drains,
)
from evictions.services.policy import display_tz, drains_queued, policy_for, request_is_due, request_tally, window_specs
from evictions.windows import next_opening, open_at

MAX_TARGETS = 500
WAITING_FALLBACK_SECONDS = 15  # a pod queued behind its budget is tried by then even if the watch missed it
MAX_DEADLINE_MINUTES = 7 * 24 * 60
MAX_GRACE_SECONDS = 24 * 3600
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_SELECTOR = re.compile(r"^\s*!?[A-Za-z0-9./_-]+\s*((!=|==|=)\s*[A-Za-z0-9._-]*)?\s*$")


@dataclass(frozen=True)
class RequestInput:
    """What a person asks for, before validation (forms and the API both build one)."""

    cluster: Cluster
    kind: str
    reason: str
    node: str = ""
    targets: tuple[PodTarget, ...] = ()
    options: DrainOptions = field(default_factory=DrainOptions)
    deadline_minutes: int = 30
    not_before: datetime | None = None
    uncordon_when_done: bool = False
    schedule: str = ""  # blank: "not_before" when a time is given, else "now"

    @property
    def schedule_mode(self) -> str:
        return self.schedule or (Schedule.NOT_BEFORE if self.not_before else Schedule.NOW)


def _validate_selector(text: str) -> bool:
    return all(_SELECTOR.match(part) for part in text.split(",")) if text.strip() else True


def validate_request(data: RequestInput) -> None:
    """Every problem at once, by field name; raises ValidationError."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    reason = data.reason.strip()
    if not reason:
        add("reason", "Say why: the reason is kept in the audit log and shown to approvers.")
    elif len(reason) > 2000:
        add("reason", "Keep the reason under 2000 characters.")
    elif CONTROL.search(reason):
        add("reason", "The reason contains control characters.")
    if data.kind not in RequestKind.values:
        add("kind", "Choose 'pods' or 'drain'.")
    if data.kind == RequestKind.DRAIN:
        if not data.node:
            add("node", "Choose the node to drain.")
        elif not _DNS_SUBDOMAIN.match(data.node):
            add("node", "A node name is lower-case letters, digits, '-' and '.', at most 253 characters.")
        if not _validate_selector(data.options.pod_selector):
            add("pod_selector", "Use a label selector like app=web,tier!=db.")
        if data.targets:
            add("targets", "A drain names a node, not pods.")
    if data.kind == RequestKind.PODS:
        if not data.targets:
            add("targets", "Name at least one pod (namespace/name) or a namespace and a label selector.")
        if len(data.targets) > MAX_TARGETS:
            add("targets", f"At most {MAX_TARGETS} targets in one request.")
        for target in data.targets[:MAX_TARGETS]:
            label = f"{target.namespace}/{target.name or target.selector}"
            if not _DNS_LABEL.match(target.namespace):
                add("targets", f"{label[:80]}: the namespace is not a valid name.")
            elif bool(target.name) == bool(target.selector):
                add("targets", f"{label[:80]}: give a pod name or a label selector, not both.")
            elif target.name and not _DNS_SUBDOMAIN.match(target.name):
                add("targets", f"{label[:80]}: not a valid pod name.")
            elif target.selector and not _validate_selector(target.selector):
                add("targets", f"{label[:80]}: use a label selector like app=web.")
        if data.node:
            add("node", "A pods request does not name a node.")
    if not 1 <= data.deadline_minutes <= MAX_DEADLINE_MINUTES:
        add("deadline_minutes", f"The deadline is 1 to {MAX_DEADLINE_MINUTES} minutes.")
    grace = data.options.grace_period_seconds
    if grace is not None and not 0 <= grace <= MAX_GRACE_SECONDS:
        add("grace_period_seconds", f"The grace period is 0 to {MAX_GRACE_SECONDS} seconds (blank: the pod's own).")
    if data.not_before is not None and timezone.is_naive(data.not_before):
        add("not_before", "Give the time with its time zone.")
    mode = data.schedule_mode
    if mode not in Schedule.values:
        add("schedule", "Choose 'now', 'not_before' or 'window'.")
    elif mode == Schedule.NOT_BEFORE and data.not_before is None:
        add("not_before", "Give the time before which nothing may start.")
    elif mode == Schedule.WINDOW and not data.cluster.windows.exists():
        add("schedule", f"Cluster {data.cluster.name} has no maintenance windows; an admin adds them on its page.")
    if mode != Schedule.WINDOW and "schedule" not in errors:
        if policy_for(data.cluster.pk).windows_only:
            add("schedule", f"On {data.cluster.name}, evictions run only in maintenance windows: choose 'window'.")
    if errors:
        raise ValidationError(errors)


def make_plan(data: RequestInput, *, dry_run_evictions: bool = True) -> Plan:
    """The plan as the cluster looks now; a cluster that cannot be read is a clear error, not a 500."""
    api_version = data.cluster.eviction_api_version or "policy/v1"
    try:
        if data.kind == RequestKind.DRAIN:
            return plan_drain(
                endpoint(data.cluster),
                node=data.node,
                options=data.options,
                eviction_api_version=api_version,
                dry_run_evictions=dry_run_evictions,
            )
        return plan_pods(
            endpoint(data.cluster),
            targets=data.targets,
            eviction_api_version=api_version,
            dry_run_evictions=dry_run_evictions,
        )
    except kube.KubeError as error:
        raise ValidationError({"cluster": [f"Could not read cluster {data.cluster.name}: {error.message}"]}) from None


def _options_json(options: DrainOptions) -> dict[str, Any]:
    return {
        "ignore_daemonsets": options.ignore_daemonsets,
        "delete_emptydir_data": options.delete_emptydir_data,
        "force": options.force,
        "pod_selector": options.pod_selector,
    }


def options_from_json(data: dict[str, Any], grace: int | None) -> DrainOptions:
    return DrainOptions(
        ignore_daemonsets=bool(data.get("ignore_daemonsets")),
        delete_emptydir_data=bool(data.get("delete_emptydir_data")),
        force=bool(data.get("force")),
        grace_period_seconds=grace,
        pod_selector=str(data.get("pod_selector", "")),
    )


def targets_from_json(data: list[dict[str, str]]) -> tuple[PodTarget, ...]:
    return tuple(PodTarget(t.get("namespace", ""), t.get("name", ""), t.get("selector", "")) for t in data)


def request_preview(*, actor: Actor, data: RequestInput) -> Plan:
    """The plan, with server-side dry-run evictions; nothing is stored."""
    authorize(actor, "evictions.add_evictionrequest")
    validate_request(data)
    return make_plan(data)


def request_create(*, actor: Actor, data: RequestInput) -> EvictionRequest:
    """Validate, plan (refusing what kubectl drain would refuse), store, audit, and start it when due."""
    authorize(actor, "evictions.add_evictionrequest")
    if not isinstance(actor, get_user_model()):
        raise PermissionDenied("Eviction requests are made by people: the requester is recorded and cannot approve.")
    validate_request(data)
    plan = make_plan(data)
    if plan.errors:
        raise ValidationError({"plan": list(plan.errors)})

    policy = policy_for(data.cluster.pk)
    needs = policy.required_approvals
    with transaction.atomic():
        request = EvictionRequest.objects.create(
            cluster=data.cluster,
            kind=data.kind,
            status=RequestStatus.AWAITING_APPROVAL if needs else RequestStatus.SCHEDULED,
            status_reason=f"Needs {needs} approval(s) from another person." if needs else "",
            approved_at=None if needs else timezone.now(),
            schedule=data.schedule_mode,
            requester=actor,
            reason=data.reason.strip(),
            node=data.node,
            targets=[{k: v for k, v in vars(t).items() if v} for t in data.targets],
            options=_options_json(data.options),
            grace_period_seconds=data.options.grace_period_seconds,
            deadline_minutes=data.deadline_minutes,
            not_before=data.not_before,
            uncordon_when_done=data.uncordon_when_done,
            plan=plan.to_json(),
        )
        audit_record(
            actor=actor,
            action="request.create",
            target=request,
            cluster=data.cluster,
            details={
                "kind": data.kind,
                "node": data.node,
                "targets": request.targets,
                "reason": request.reason,
                "options": request.options,
                "deadline_minutes": data.deadline_minutes,
                "not_before": data.not_before.isoformat() if data.not_before else None,
                "schedule": request.schedule,
                "approvals_required": needs,
                "pods_planned": len(plan.to_evict),
            },
        )
        if needs:
            notify("approval_requested", request, f"needs {needs} approval(s)")
        if request_is_due(request):
            after_commit("start_request", request.pk)
    return request


def _start_check(request: EvictionRequest, now: datetime) -> StartDecision:
    """Everything that must hold at the moment a request starts, read fresh (cluster row locked by the caller)."""

    cluster = request.cluster
    specs = window_specs(cluster.pk) if request.schedule == Schedule.WINDOW else []
    ahead = in_progress = 0
    if request.kind == RequestKind.DRAIN:
        drains = EvictionRequest.objects.filter(cluster=cluster, kind=RequestKind.DRAIN)
        in_progress = drains.filter(
            started_at__isnull=False,
            status__in=[RequestStatus.RUNNING, RequestStatus.NEEDS_INTERVENTION, RequestStatus.PAUSED],
        ).count()
        ahead = (
            drains_queued(cluster.pk, now)
            .filter(Q(created_at__lt=request.created_at) | Q(created_at=request.created_at, pk__lt=request.pk))
            .count()
        )
    return decide_start(
        StartInputs(
            now=now,
            schedule=request.schedule,
            tally=request_tally(request, now=now),
            not_before=request.not_before,
            window=open_at(specs, now) if specs else None,
            next_window=next_opening(specs, now) if specs else None,
            display_tz=display_tz(specs),
            cluster_paused=cluster.paused,
            paused_reason=cluster.paused_reason,
            is_drain=request.kind == RequestKind.DRAIN,
            drains_in_progress=in_progress,
            drain_limit=cluster.max_concurrent_drains,
            queued_ahead=ahead,
        )
    )


def _wait(request: EvictionRequest, decision: StartDecision) -> None:
    """Not yet: say why, or send it back for approval when its approvals no longer hold."""
    if decision.needs_approval_again:
        request.status = RequestStatus.AWAITING_APPROVAL
        request.approved_at = None
        request.status_reason = decision.reason[:2000]
        request.save(update_fields=["status", "approved_at", "status_reason", "updated_at"])
        audit_record(
            actor=WORKER,
            action="request.approval_lapsed",
            target=request,
            cluster=request.cluster,
            details={"reason": decision.reason},
        )
        notify("approval_requested", request, decision.reason)
        return
    if request.status_reason != decision.reason[:2000] or request.start_after != decision.check_again_at:
        request.status_reason = decision.reason[:2000]
        request.start_after = decision.check_again_at
        request.save(update_fields=["status_reason", "start_after", "updated_at"])


def request_start(*, request_id: int) -> None:
    """Claim a due request, cordon its node, list its pods again and create one row per pod. Safe to repeat."""
    now = timezone.now()
    with transaction.atomic():
        # of=("self",): the joined cluster row is locked below, and not FOR UPDATE (see there).
        request = (
            EvictionRequest.objects.select_for_update(of=("self",))
            .select_related("cluster")
            .filter(pk=request_id)
            .first()
        )
        if request is None:
            return
        if request_is_due(request, now):
            # The cluster row is the lock that keeps two drains from both taking the last slot. FOR NO KEY UPDATE:
            # still one start at a time per cluster, but it lets the deferred foreign-key check (FOR KEY SHARE) of a
            # request being created on this cluster commit; FOR UPDATE deadlocked with it over the audit chain head.
            request.cluster = Cluster.objects.select_for_update(no_key=True).get(pk=request.cluster_id)
            decision = _start_check(request, now)
            if not decision.go:
                _wait(request, decision)
                return
            request.status = RequestStatus.RUNNING
            request.started_at = now
            request.deadline_at = now + timedelta(minutes=request.deadline_minutes)
            request.window_ends_at = decision.window_ends_at
            request.status_reason = ""
            request.start_after = None
            request.save(
                update_fields=[
                    "status",
                    "started_at",
                    "deadline_at",
                    "window_ends_at",
                    "status_reason",
                    "start_after",
                    "updated_at",
                ]
            )
            audit_record(
                actor=WORKER,
                action="request.start",
                target=request,
                cluster=request.cluster,
                details={"window_ends_at": decision.window_ends_at.isoformat() if decision.window_ends_at else None},
            )
            notify("started", request)
        elif request.status != RequestStatus.RUNNING or request.pods_created_at is not None:
            return  # not due, already started by another worker, paused or finished
    cluster = request.cluster
    if request.kind == RequestKind.DRAIN:
        # Like kubectl: cordon first, then list the node's pods as they are now.
        data = RequestInput(
            cluster=cluster,
            kind=request.kind,
            reason=request.reason,
            node=request.node,
            options=options_from_json(request.options, request.grace_period_seconds),
        )
        try:
            kube.set_unschedulable(endpoint(cluster), request.node, True)
            plan = make_plan(data, dry_run_evictions=False).to_json()
        except kube.KubeError as error:
            if error.kind in (kube.ErrorKind.UNAUTHORIZED, kube.ErrorKind.FORBIDDEN):
                with transaction.atomic():  # credentials or RBAC: retrying cannot help
                    request_finish(
                        lock_request(request.pk),
                        RequestStatus.FAILED,
                        f"Could not cordon {request.node}: {error.message}",
                    )
                return
            _not_started_yet(request, error.message)
            return
        except ValidationError as error:
            _not_started_yet(request, "; ".join(error.messages))
            return
    else:
        # Named pods are the ones approved, by UID: one gone since then answers 404/409 and counts as evicted.
        plan = request.plan
    with transaction.atomic():
        request = EvictionRequest.objects.select_for_update().get(pk=request.pk)
        if request.pods_created_at is not None or request.status != RequestStatus.RUNNING:
            return
        if plan.get("errors"):
            request_finish(request, RequestStatus.FAILED, "The drain cannot go ahead: " + "; ".join(plan["errors"]))
            return
        # One start at a time per cluster here too (the lock of the first transaction): a drain starting beside
        # another sees the pods the other has just created, and queues behind their budgets.
        Cluster.objects.select_for_update(no_key=True).filter(pk=request.cluster_id).first()
        busy = _budgets_in_use(request)
        rows = [_pod_row(request, planned, now, busy) for planned in plan.get("pods", [])]
        PodEviction.objects.bulk_create(rows, ignore_conflicts=True)
        request.pods_created_at = timezone.now()
        request.save(update_fields=["pods_created_at", "updated_at"])
        counts = {s: sum(1 for r in rows if r.status == s) for s in {r.status for r in rows}}
        audit_record(
            actor=WORKER,
            action="request.pods_listed",
            target=request,
            cluster=cluster,
            details={"counts": counts, "cordoned": request.kind == RequestKind.DRAIN},
        )
        for pod_id in PodEviction.objects.filter(request=request, status=PodStatus.PENDING).values_list(
            "pk", flat=True
        ):
            after_commit("attempt_pod", pod_id)
        if any(r.status == PodStatus.TERMINATING for r in rows):
            after_commit("follow_request", request.pk)
        if any(r.status == PodStatus.BLOCKED for r in rows):
            after_commit("watch_budgets", request.cluster_id)
        request_refresh(request=request)


def _not_started_yet(request: EvictionRequest, text: str) -> None:
    # Left RUNNING without pods: the tick tries the start again. The reason is shown meanwhile.
    EvictionRequest.objects.filter(pk=request.pk).update(status_reason=f"Could not start yet: {text}"[:2000])


_ROW_STATUS = {str(Disposition.EVICT): PodStatus.PENDING, str(Disposition.WAIT): PodStatus.TERMINATING}


def _budgets_in_use(request: EvictionRequest) -> dict[str, int]:
    """The budgets other running requests of this cluster have pods waiting to go through: budget -> the first such
    request. A pod of this request behind one of them would only be refused (429) by an attempt now: the disruption
    it allows is about to go to, or is already queued for, the other request's pods (at 100 drains at once, about
    1,400 of the 1,700 refusals of a round were such first attempts)."""
    in_use: dict[str, int] = {}
    waiting = (
        PodEviction.objects.filter(
            request__cluster_id=request.cluster_id,
            request__status__in=REQUEST_RUNNING,
            status__in=POD_WAITING_TO_TRY,
        )
        .exclude(request_id=request.pk)
        .exclude(budget="")
        .values_list("budget", "request_id")
        .order_by("request_id")
    )
    for budget, request_id in waiting:
        in_use.setdefault(budget, request_id)
    return in_use


def _pod_row(request: EvictionRequest, planned: dict[str, Any], now: datetime, busy: dict[str, int]) -> PodEviction:
    status = _ROW_STATUS.get(planned.get("disposition", ""), PodStatus.SKIPPED)
    grace = request.grace_period_seconds
    if grace is None and isinstance(planned.get("termination_grace_seconds"), int):
        grace = planned["termination_grace_seconds"]
    row = PodEviction(
        request=request,
        namespace=planned["namespace"],
        name=planned["name"],
        uid=planned["uid"],
        node=planned.get("node", ""),
        status=status,
        note=str(planned.get("reason", ""))[:2000],
        next_attempt_at=now if status == PodStatus.PENDING else None,
        eviction_accepted_at=now if status == PodStatus.TERMINATING else None,
        finished_at=now if status == PodStatus.SKIPPED else None,
        grace_period_seconds=grace,
    )
    pdbs = planned.get("pdbs") or []
    if len(pdbs) == 1:
        name = str(pdbs[0]["name"])  # the plan names budgets "namespace/name"
        row.budget = name if "/" in name else f"{row.namespace}/{name}"
    if status != PodStatus.PENDING or not row.budget:
        return row
    ahead = busy.get(row.budget)
    if ahead is not None:
        note = f"Waiting for its turn: {row.budget} is in use by request #{ahead}, whose pods go first."
    elif planned.get("waits_for_budget") and not planned.get("blocked_now"):
        # Earlier pods of this plan use up the budget. (A pod blocked already is tried once: the 429 names the
        # numbers.)
        note = f"Waiting for its turn: {str(planned.get('words', ''))[:1900]}"
    else:
        return row
    # Wait for the budget watch to say it has room again, instead of spending a call on a certain 429. The fallback
    # retry covers a lost watch.
    row.status = PodStatus.BLOCKED
    row.blocking_pdb = row.budget
    row.blocked_since = now
    row.next_attempt_at = now + timedelta(seconds=WAITING_FALLBACK_SECONDS)
    row.note = note
    return row


# ---- interventions on a request ---------------------------------------------------------------------------------

_ACTIVE = (RequestStatus.SCHEDULED, RequestStatus.RUNNING, RequestStatus.NEEDS_INTERVENTION, RequestStatus.PAUSED)


def request_pause(*, actor: Actor, request_id: int, reason: str) -> EvictionRequest:
    authorize(actor, "evictions.intervene_evictionrequest")
    reason = require_reason(reason)
    with transaction.atomic():
        request = lock_request(request_id)
        if request.status not in (RequestStatus.SCHEDULED, RequestStatus.RUNNING, RequestStatus.NEEDS_INTERVENTION):
            raise not_now("request", "paused", request.get_status_display())
        previous = request.status
        request.status = RequestStatus.PAUSED
        request.pause_kind = PauseKind.PERSON
        request.status_reason = f"Paused by {actor}: {reason}"[:2000]
        request.save(update_fields=["status", "pause_kind", "status_reason", "updated_at"])
        audit_record(
            actor=actor,
            action="request.pause",
            target=request,
            cluster=request.cluster,
            details={"reason": reason, "was": previous},
        )
    return request


def request_resume(*, actor: Actor, request_id: int, reason: str = "") -> EvictionRequest:
    authorize(actor, "evictions.intervene_evictionrequest")
    with transaction.atomic():
        request = lock_request(request_id)
        if request.status != RequestStatus.PAUSED:
            raise ValidationError({"status": ["Only a paused request can be resumed."]})
        if request.pause_kind == PauseKind.WINDOW:
            raise ValidationError(
                {"status": ["Its maintenance window is closed; it resumes by itself when the next one opens."]}
            )
        window = None
        if request.schedule == Schedule.WINDOW and request.started_at:
            window = open_at(window_specs(request.cluster_id), timezone.now())
            if window is None:
                # Resumed outside its window: it waits for the next one instead of running now.
                request.pause_kind, request.start_after = PauseKind.WINDOW, None
                request.status_reason = "Resumed; waits for its next maintenance window."
                request.save(update_fields=["pause_kind", "start_after", "status_reason", "updated_at"])
                audit_record(
                    actor=actor,
                    action="request.resume",
                    target=request,
                    cluster=request.cluster,
                    details={"reason": reason.strip(), "waits_for_window": True},
                )
                return request
        request.status = RequestStatus.RUNNING if request.started_at else RequestStatus.SCHEDULED
        request.pause_kind = PauseKind.NONE
        request.status_reason = ""
        if window is not None:
            request.window_ends_at = window.end
        request.save(update_fields=["status", "pause_kind", "status_reason", "window_ends_at", "updated_at"])
        # Waiting pods try again now rather than at their old backoff time.
        PodEviction.objects.filter(request=request, status__in=POD_WAITING_TO_TRY).update(
            next_attempt_at=timezone.now()
        )
        audit_record(
            actor=actor,
            action="request.resume",
            target=request,
            cluster=request.cluster,
            details={"reason": reason.strip()},
        )
        if request.status == RequestStatus.RUNNING:
            request_refresh(request=request)
            enqueue_waiting(request)
        elif request_is_due(request):
            after_commit("start_request", request.pk)
    return request


def request_cancel(*, actor: Actor, request_id: int, reason: str, uncordon: bool = False) -> EvictionRequest:
    """No new attempts start; pods already terminating finish on their own. Optionally uncordon the node."""
    authorize(actor, "evictions.intervene_evictionrequest")
    reason = require_reason(reason)
    with transaction.atomic():
        request = lock_request(request_id)
        if request.status not in _ACTIVE and request.status != RequestStatus.AWAITING_APPROVAL:
            raise not_now("request", "cancelled", request.get_status_display())
        now = timezone.now()
        cancelled = PodEviction.objects.filter(
            request=request, status__in=[*POD_WAITING_TO_TRY, PodStatus.NEEDS_INTERVENTION]
        ).update(status=PodStatus.CANCELLED, finished_at=now, next_attempt_at=None, note=f"Cancelled: {reason}"[:2000])
        request.status = RequestStatus.CANCELLED
        request.status_reason = f"Cancelled by {actor}: {reason}"[:2000]
        request.finished_at = now
        request.save(update_fields=["status", "status_reason", "finished_at", "updated_at"])
        audit_record(
            actor=actor,
            action="request.cancel",
            target=request,
            cluster=request.cluster,
            details={"reason": reason, "pods_cancelled": cancelled, "uncordon": uncordon},
        )
        notify("finished", request, request.status_reason)
        if request.kind == RequestKind.DRAIN:
            start_next_drains(request.cluster_id)
        if uncordon and request.kind == RequestKind.DRAIN and request.started_at:
            after_commit("uncordon_node", request.pk)
    return request


def request_extend_deadline(*, actor: Actor, request_id: int, minutes: int, reason: str = "") -> EvictionRequest:
    """Give blocked pods more time; pods already flagged at the deadline go back to trying."""
    authorize(actor, "evictions.intervene_evictionrequest")
    if not isinstance(minutes, int) or not 1 <= minutes <= MAX_DEADLINE_MINUTES:
        raise ValidationError({"minutes": [f"Extend by 1 to {MAX_DEADLINE_MINUTES} minutes."]})
    with transaction.atomic():
        request = lock_request(request_id)
        if request.status not in _ACTIVE:
            raise ValidationError({"status": ["Only an active request has a deadline to extend."]})
        now = timezone.now()
        base = max(request.deadline_at or now, now)
        request.deadline_at = base + timedelta(minutes=minutes)
        request.deadline_minutes = min(MAX_DEADLINE_MINUTES, request.deadline_minutes + minutes)
        request.save(update_fields=["deadline_at", "deadline_minutes", "updated_at"])
        revived = PodEviction.objects.filter(
            request=request, status=PodStatus.NEEDS_INTERVENTION, blocking_pdb__gt=""
        ).update(status=PodStatus.BLOCKED, next_attempt_at=now, note="Deadline extended; trying again.")
        audit_record(
            actor=actor,
            action="request.extend_deadline",
            target=request,
            cluster=request.cluster,
            details={
                "minutes": minutes,
                "deadline_at": request.deadline_at.isoformat(),
                "reason": reason.strip(),
                "pods_retried": revived,
            },
        )
        request_refresh(request=request)
        if request.status in (RequestStatus.RUNNING, RequestStatus.NEEDS_INTERVENTION):
            enqueue_waiting(request)
    return request


def requests_due_to_start(now: datetime | None = None) -> list[int]:
    """Scheduled requests whose time has come, and running ones whose start did not finish (a lost task)."""
    now = now or timezone.now()
    stalled = now - timedelta(seconds=30)
    due = EvictionRequest.objects.filter(
        Q(
            Q(not_before__isnull=True) | Q(not_before__lte=now),
            Q(start_after__isnull=True) | Q(start_after__lte=now),
            status=RequestStatus.SCHEDULED,
        )
        | Q(status=RequestStatus.RUNNING, pods_created_at__isnull=True, started_at__lt=stalled)
    ).order_by("created_at", "pk")
    return list(due.values_list("pk", flat=True)[:500])


def request_uncordon(*, request_id: int) -> None:
    """Uncordon a finished drain's node (asked for with uncordon_when_done or at cancel); a refusal is said on the
    request, not raised: the drain itself is done."""
    request = EvictionRequest.objects.select_related("cluster").get(pk=request_id)
    try:
        kube.set_unschedulable(endpoint(request.cluster), request.node, False)
    except kube.KubeError as error:
        EvictionRequest.objects.filter(pk=request_id).update(
            status_reason=f"{request.status_reason} Uncordoning {request.node} failed: {error.message}"[:2000]
        )
        return
    with transaction.atomic():
        audit_record(
            actor=WORKER,
            action="node.uncordon",
            target=request,
            cluster=request.cluster,
            details={"node": request.node},
        )
