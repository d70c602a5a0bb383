"""Request pages: the list, a new request (preview, submit), a request's live detail, and the interventions.

Thin, as the cluster pages: parse, check the permission, call one service or selector, render. A service's
ValidationError becomes a form error or a message, never a 500; htmx requests get the partial they swap in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from audit.selectors import audit_request_history
from clusters import kube
from clusters import services as cluster_services
from clusters.forms import add_errors
from clusters.kubetypes import Pod
from clusters.models import Cluster
from core.keyset import InvalidCursor, KeysetPage, Order, keyset_page
from evictions.forms import (
    ExtendForm,
    ForceDeleteForm,
    PodFilterForm,
    PolicyForm,
    RequestFilterForm,
    RequestForm,
    SkipForm,
    VoteForm,
    WindowForm,
    error_in_form_words,
    requester_names,
)
from evictions.history import attach_pod_counts, pod_history, request_history
from evictions.lanes import AttemptInput, Picture, PodInput, picture
from evictions.models import (
    POD_COLOURS,
    REQUEST_COLOURS,
    Decision,
    EvictionRequest,
    MaintenanceWindow,
    PodEviction,
    PodStatus,
    RequestKind,
    RequestStatus,
    Schedule,
    WindowKind,
)
from evictions.outcomes import budget_words
from evictions.selectors import (
    POD_TABLE_LIMIT,
    ApprovalState,
    approval_states,
    approvers_words,
    cluster_policy,
    delete_asks,
    explain_blocks,
    my_requests_awaiting_approval,
    pod_count,
    pod_rows,
    queue_position,
    request_detail,
    request_progress,
    schedule_by_cluster,
    timeline_rows,
    window_words,
)
from evictions.services import approvals as approval_services
from evictions.services import pods as pod_services
from evictions.services import requests as request_services
from evictions.services import windows as window_services
from evictions.timeline import RowInput, Span, layout, place_request, strip_start
from evictions.windows import WindowSpec, describe, merged, next_opening

PAGE_SIZE = 50
PICKER_LIMIT = 50
VIEW = "evictions.view_evictionrequest"
ADD = "evictions.add_evictionrequest"
INTERVENE = "evictions.intervene_evictionrequest"
FORCE_DELETE = "evictions.force_delete_podeviction"
APPROVE = "evictions.approve_evictionrequest"
POLICY = "evictions.change_approvalpolicy"
SCHEDULE_DAYS = 15  # today and the next 14 days
PAUSABLE = {RequestStatus.SCHEDULED, RequestStatus.RUNNING, RequestStatus.NEEDS_INTERVENTION}
CANCELLABLE = {*PAUSABLE, RequestStatus.PAUSED, RequestStatus.AWAITING_APPROVAL}
RETRYABLE = {PodStatus.PENDING, PodStatus.BLOCKED, PodStatus.NEEDS_INTERVENTION}


# ---- list ------------------------------------------------------------------------------------------------------------


def _history_page(request: HttpRequest, rows: QuerySet[Any], order: Order) -> tuple[KeysetPage[Any], str]:
    """A keyset page from the request's `cursor`; a cursor that is not ours gives the first page and a message."""
    try:
        return keyset_page(rows, order, request.GET.get("cursor", ""), PAGE_SIZE), ""
    except InvalidCursor as error:
        return keyset_page(rows, order, "", PAGE_SIZE), str(error)


def _query_without_cursor(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("cursor", None)
    query.pop("page", None)
    return query.urlencode()


@login_required
@permission_required(VIEW, raise_exception=True)
def request_index(request: HttpRequest) -> HttpResponse:
    """Request history: filters, a sort order, and cursor pages (fast at any depth)."""
    form = RequestFilterForm(request.GET or None)
    page, cursor_error = _history_page(request, request_history(form.filters()), form.order())
    attach_pod_counts(page.rows)
    context = {
        "form": form,
        "page": page,
        "cursor_error": cursor_error,
        "rows": [(r, REQUEST_COLOURS.get(r.status, "grey")) for r in page.rows],
        "query": _query_without_cursor(request),
        "requesters": requester_names(),
    }
    return render(request, "evictions/list.html", context, status=400 if cursor_error else 200)


@login_required
@permission_required(VIEW, raise_exception=True)
def pod_index(request: HttpRequest) -> HttpResponse:
    """Pod eviction history across requests: filters, sort orders (time to evict too), cursor pages."""
    form = PodFilterForm(request.GET or None)
    page, cursor_error = _history_page(request, pod_history(form.filters()), form.order())
    context = {
        "form": form,
        "page": page,
        "cursor_error": cursor_error,
        "rows": [(p, POD_COLOURS.get(p.status, "grey")) for p in page.rows],
        "query": _query_without_cursor(request),
        "requesters": requester_names(),
    }
    return render(request, "evictions/evictions.html", context, status=400 if cursor_error else 200)


# ---- new request ---------------------------------------------------------------------------------------------------


@login_required
@permission_required(ADD, raise_exception=True)
def request_new(request: HttpRequest) -> HttpResponse:
    initial = {"cluster": request.GET.get("cluster")} if request.GET.get("cluster", "").isdigit() else {}
    form = RequestForm(request.POST or None, initial=initial)
    plan = None
    if request.method == "POST" and form.is_valid():
        data = form.request_input()
        try:
            if request.POST.get("action") == "submit":
                created = request_services.request_create(actor=request.user, data=data)
                messages.success(request, f"Request #{created.pk} submitted.")
                return redirect("request-detail", pk=created.pk)
            plan = request_services.request_preview(actor=request.user, data=data).to_json()
        except ValidationError as error:
            add_errors(form, error_in_form_words(error))
    return render(request, "evictions/new.html", {"form": form, "plan": plan})


def _cluster_from_query(request: HttpRequest) -> Cluster | None:
    value = request.GET.get("cluster", "")
    return Cluster.objects.filter(pk=int(value)).first() if value.isdigit() else None


@login_required
@require_GET
@permission_required(ADD, raise_exception=True)
def request_nodes(request: HttpRequest) -> HttpResponse:
    """The cluster's nodes for the node picker, read live."""
    cluster = _cluster_from_query(request)
    nodes: list[str] = []
    error = ""
    if cluster is not None:
        try:
            nodes = sorted(node.name for node in kube.list_nodes(kube.Endpoint.for_cluster(cluster)))
        except kube.KubeError as failure:
            error = f"Could not read the nodes of {cluster.name}: {failure.message}"
    return render(request, "evictions/_node_options.html", {"cluster": cluster, "nodes": nodes, "error": error})


@login_required
@require_GET
@permission_required(ADD, raise_exception=True)
def request_pods(request: HttpRequest) -> HttpResponse:
    """Live pods of the cluster whose namespace/name (or node) contains q, for the pod picker."""
    cluster = _cluster_from_query(request)
    query = request.GET.get("q", "").strip().lower()[:253]
    found: list[Pod] = []
    total = 0
    error = ""
    if cluster is not None:
        namespace = query.split("/", 1)[0] if "/" in query else ""
        try:
            pods = kube.list_pods(kube.Endpoint.for_cluster(cluster), namespace=namespace)
        except kube.KubeError as failure:
            error = f"Could not read the pods of {cluster.name}: {failure.message}"
        else:
            matching = [p for p in pods if not query or query in p.key.lower() or query == p.node.lower()]
            matching.sort(key=lambda p: p.key)
            total, found = len(matching), matching[:PICKER_LIMIT]
    context = {"cluster": cluster, "pods": found, "total": total, "error": error, "q": query}
    return render(request, "evictions/_pod_picker.html", context)


# ---- detail --------------------------------------------------------------------------------------------------------


def _why_blocked(req: EvictionRequest, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per blocking budget: the numbers from the 429, the pods it holds back, and what the cluster says now."""
    explanations = explain_blocks(req)
    result = []
    for key, explanation in sorted(explanations.items()):
        behind = [row for row in rows if row["pod"].blocking_pdb == key and not row["pod"].finished]
        oldest = min(behind, key=lambda row: row["pod"].blocked_since or row["pod"].created_at) if behind else None
        first = oldest["pod"] if oldest else None
        # One set of numbers: the ones read last of the pods it holds (the watcher writes the same on each).
        read = [row["pod"] for row in behind if row["pod"].budget_seen_at]
        numbers = max(read, key=lambda pod: pod.budget_seen_at) if read else first
        waits = [row["next_in"] for row in behind if row["next_in"] is not None]
        result.append(
            {
                "pdb": key,
                "words": numbers.budget_words if numbers else budget_words(key, needs=None, has=None),
                "blocked_for": oldest["blocked_for"] if oldest else "",
                "next_in": min(waits) if waits else None,
                "pods": [row["pod"] for row in behind],
                # With every selected pod Ready, only the budget's own arithmetic can still say no.
                "allows_none": explanation.disruptions_allowed == 0,
                "unready": explanation.unready,
                "error": explanation.error,
            }
        )
    return result


def _actions_key(req: EvictionRequest, may_vote: bool = False) -> str:
    """What the action buttons depend on; the refresh swaps them only when it changes (keeping typed reasons)."""
    return f"{req.status}.{int(req.cluster.paused)}" + (".vote" if may_vote else "")


def may_vote(user: Any, req: EvictionRequest, state: ApprovalState) -> bool:
    """Whether this person sees Approve and Reject: an allowed approver, not the requester, with no vote that counts."""
    if req.status != RequestStatus.AWAITING_APPROVAL or user.pk == req.requester_id or not user.has_perm(APPROVE):
        return False
    if not approval_services.approver_allowed(user, state.policy):
        return False
    mine = state.vote_of(user.pk)
    return mine is None or (mine.decision == Decision.APPROVE and user.get_username() not in state.tally.valid)


def _approval_context(req: EvictionRequest, user: Any) -> dict[str, Any]:
    if req.status != RequestStatus.AWAITING_APPROVAL:
        votes = list(req.approvals.filter(pod__isnull=True).select_related("approver"))
        return {"votes": votes, "state": None, "may_vote": False}
    state = approval_states([req])[req.pk]
    return {
        "votes": state.votes,
        "state": state,
        "may_vote": may_vote(user, req, state),
        "approvers": approvers_words(state.policy),
        "own": user.pk == req.requester_id,
    }


def _schedule_context(req: EvictionRequest) -> dict[str, Any]:
    """When the request runs, in words: its schedule, the window it waits for or runs in, its place in line."""
    now = timezone.now()
    waiting = req.status in (RequestStatus.AWAITING_APPROVAL, RequestStatus.SCHEDULED) and not req.started_at
    specs: list[WindowSpec] = []
    if req.schedule == Schedule.WINDOW or req.window_ends_at:
        specs = window_services.window_specs(req.cluster_id)
    tz = window_services.display_tz(specs)
    context: dict[str, Any] = {"window_closes": "", "window_note": "", "queue": None}
    after = f", not before {describe(req.not_before)}" if req.not_before else ""
    if req.schedule == Schedule.WINDOW:
        context["words"] = f"In the next maintenance window{after}"
        if waiting:
            upcoming = next_opening(specs, max(now, req.not_before or now))
            if upcoming is None:
                context["window_note"] = "No maintenance window opens in the next 15 days: an admin adds one on the "
                context["window_missing"] = True
            elif upcoming.start <= now:
                context["window_note"] = f"A window is open now, until {describe(upcoming.end, tz)}."
            else:
                context["window_note"] = f"The next window opens {describe(upcoming.start, tz)}."
    elif req.not_before:
        context["words"] = f"Not before {describe(req.not_before)}"
    else:
        context["words"] = (
            "As soon as approved" if req.status == RequestStatus.AWAITING_APPROVAL else "As soon as possible"
        )
    if req.window_ends_at and req.status in (RequestStatus.RUNNING, RequestStatus.NEEDS_INTERVENTION):
        context["window_closes"] = describe(req.window_ends_at, tz)
    if req.kind == RequestKind.DRAIN and req.status == RequestStatus.SCHEDULED:
        context["queue"] = queue_position(req, now)
    return context


def _live_context(req: EvictionRequest, user: Any) -> dict[str, Any]:
    rows = pod_rows(req)
    for row in rows:
        row["colour"] = POD_COLOURS.get(row["pod"].status, "grey")
    blocked = any(row["pod"].blocking_pdb and not row["pod"].finished for row in rows)
    approval = _approval_context(req, user)
    return {
        "req": req,
        "colour": REQUEST_COLOURS.get(req.status, "grey"),
        # The rows are every pod unless the first page is full: then progress counts them all in one query.
        "progress": request_progress(req, prefetched=len(rows) < POD_TABLE_LIMIT),
        "rows": rows,
        # Only a full first page can hide pods: count them then, and only then.
        "pod_total": pod_count(req) if len(rows) >= POD_TABLE_LIMIT else len(rows),
        "blocks": _why_blocked(req, rows) if blocked else [],
        "actions_key": _actions_key(req, approval["may_vote"]),
        "active": not req.finished,
        "pausable": req.status in PAUSABLE,
        "cancellable": req.status in CANCELLABLE,
        "retryable": RETRYABLE,
        "drain": req.kind == RequestKind.DRAIN,
        "approval": approval,
        "when": _schedule_context(req),
    }


def _timeline(req: EvictionRequest) -> Picture | None:
    """The lanes picture of every pod, read as plain rows (two queries, whatever the pod table shows)."""
    pods, attempts = timeline_rows(req)
    inputs = [
        PodInput(
            key=f"{namespace}/{name}",
            status=status,
            start=created_at,
            attempts=[AttemptInput(*attempt) for attempt in attempts.get(pk, [])],
            eviction_accepted_at=accepted_at,
            finished_at=finished_at,
            blocked_since=blocked_since,
        )
        for pk, namespace, name, status, created_at, accepted_at, finished_at, blocked_since in pods
    ]
    return picture(inputs, timezone.now())


def _request_or_404(pk: int, *, show_all: bool = False) -> EvictionRequest:
    try:
        return request_detail(pk, pod_limit=None if show_all else POD_TABLE_LIMIT)
    except EvictionRequest.DoesNotExist:
        raise Http404("No such request.") from None


@login_required
@permission_required(VIEW, raise_exception=True)
def request_show(request: HttpRequest, pk: int) -> HttpResponse:
    show_all = request.GET.get("pods") == "all"
    req = _request_or_404(pk, show_all=show_all)
    context = _live_context(req, request.user)
    context["show_all"] = show_all
    if getattr(request, "htmx", False):
        context["partial"] = True
        context["actions_oob"] = request.GET.get("k") != context["actions_key"]
        return render(request, "evictions/_request_live.html", context)
    if context["pod_total"] > POD_TABLE_LIMIT:
        # A big request's picture follows the page (htmx), so the page itself stays quick.
        context["timeline_url"] = reverse("request-timeline", args=[req.pk])
    else:
        context["timeline"] = _timeline(req)
    context["audit_history"] = audit_request_history(request_id=req.pk)
    return render(request, "evictions/detail.html", context)


@login_required
@permission_required(VIEW, raise_exception=True)
def request_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    req = get_object_or_404(EvictionRequest, pk=pk)
    return render(request, "evictions/_timeline.html", {"timeline": _timeline(req), "req": req})


def _after_action(request: HttpRequest, request_id: int) -> HttpResponse:
    """htmx: the refreshed live part (with the messages and new buttons); otherwise back to the page."""
    if getattr(request, "htmx", False):
        context = _live_context(request_detail(request_id), request.user)
        context.update(partial=True, actions_oob=True)
        return render(request, "evictions/_request_live.html", context)
    return redirect("request-detail", pk=request_id)


def _attempt(request: HttpRequest, action: Callable[[], object], done: str) -> bool:
    try:
        action()
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return False
    messages.success(request, done)
    return True


# ---- interventions on a request ------------------------------------------------------------------------------------


@login_required
@require_POST
@permission_required(INTERVENE, raise_exception=True)
def request_pause(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(EvictionRequest, pk=pk)
    reason = request.POST.get("reason", "")
    _attempt(
        request,
        lambda: request_services.request_pause(actor=request.user, request_id=pk, reason=reason),
        "Request paused: no new attempts start; evictions already accepted finish.",
    )
    return _after_action(request, pk)


@login_required
@require_POST
@permission_required(INTERVENE, raise_exception=True)
def request_resume(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(EvictionRequest, pk=pk)
    reason = request.POST.get("reason", "")
    _attempt(
        request,
        lambda: request_services.request_resume(actor=request.user, request_id=pk, reason=reason),
        "Request resumed.",
    )
    return _after_action(request, pk)


@login_required
@require_POST
@permission_required(INTERVENE, raise_exception=True)
def request_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(EvictionRequest, pk=pk)
    reason = request.POST.get("reason", "")
    uncordon = request.POST.get("uncordon") in ("on", "true", "1")
    _attempt(
        request,
        lambda: request_services.request_cancel(actor=request.user, request_id=pk, reason=reason, uncordon=uncordon),
        "Request cancelled." + (" The node will be uncordoned." if uncordon else ""),
    )
    return _after_action(request, pk)


@login_required
@require_POST
@permission_required(INTERVENE, raise_exception=True)
def request_extend(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(EvictionRequest, pk=pk)
    form = ExtendForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Extend the deadline by a whole number of minutes, 1 to 10080.")
        return _after_action(request, pk)
    minutes: int = form.cleaned_data["minutes"]
    _attempt(
        request,
        lambda: request_services.request_extend_deadline(
            actor=request.user, request_id=pk, minutes=minutes, reason=form.cleaned_data["reason"]
        ),
        f"Deadline extended by {minutes} minutes.",
    )
    return _after_action(request, pk)


@login_required
@require_POST
@permission_required(INTERVENE, raise_exception=True)
def request_retry(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(EvictionRequest, pk=pk)
    reason = request.POST.get("reason", "")
    _attempt(
        request,
        lambda: pod_services.request_retry_now(actor=request.user, request_id=pk, reason=reason),
        "Every waiting or stuck pod is being tried again now.",
    )
    return _after_action(request, pk)


# ---- interventions on a pod ----------------------------------------------------------------------------------------


@login_required
@require_POST
@permission_required(INTERVENE, raise_exception=True)
def pod_retry(request: HttpRequest, pk: int) -> HttpResponse:
    pod = get_object_or_404(PodEviction, pk=pk)
    reason = request.POST.get("reason", "")
    _attempt(
        request,
        lambda: pod_services.pod_retry_now(actor=request.user, pod_id=pod.pk, reason=reason),
        f"Retrying {pod.key} now.",
    )
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return redirect(target)  # e.g. back to the dashboard the button was pressed on
    return _after_action(request, pod.request_id)


@login_required
@permission_required(INTERVENE, raise_exception=True)
def pod_skip(request: HttpRequest, pk: int) -> HttpResponse:
    pod = get_object_or_404(PodEviction.objects.select_related("request__cluster"), pk=pk)
    form = SkipForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            pod_services.pod_skip(actor=request.user, pod_id=pod.pk, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"{pod.key} skipped.")
            return redirect("request-detail", pk=pod.request_id)
    return render(request, "evictions/pod_skip.html", {"pod": pod, "form": form})


@login_required
@permission_required(FORCE_DELETE, raise_exception=True)
def pod_force_delete(request: HttpRequest, pk: int) -> HttpResponse:
    pod = get_object_or_404(PodEviction.objects.select_related("request__cluster"), pk=pk)
    form = ForceDeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = pod_services.pod_force_delete(
                actor=request.user,
                pod_id=pod.pk,
                reason=form.cleaned_data["reason"],
                confirm_name=form.cleaned_data["confirm_name"].strip(),
                grace_period_seconds=form.cleaned_data["grace_period_seconds"],
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            if result.delete_requested_at is not None:
                messages.success(
                    request,
                    f"Direct delete of {pod.key} asked for: on {pod.request.cluster.name} another person must approve "
                    "it first, on the Approvals page. Meanwhile the pod keeps waiting for its budget.",
                )
            else:
                messages.success(request, f"{pod.key} deleted directly; waiting for it to be gone.")
            return redirect("request-detail", pk=pod.request_id)
    return render(request, "evictions/pod_force_delete.html", {"pod": pod, "form": form})


# ---- the whole cluster ---------------------------------------------------------------------------------------------


def _back(request: HttpRequest, cluster: Cluster) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect(reverse("cluster-detail", args=[cluster.pk]))


@login_required
@require_POST
@permission_required(INTERVENE, raise_exception=True)
def cluster_pause(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster, pk=pk)
    reason = request.POST.get("reason", "")
    _attempt(
        request,
        lambda: cluster_services.cluster_pause(actor=request.user, cluster=cluster, reason=reason),
        f"Cluster {cluster.name} paused: no new eviction attempts start on it.",
    )
    return _back(request, cluster)


@login_required
@require_POST
@permission_required(INTERVENE, raise_exception=True)
def cluster_resume(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster, pk=pk)
    reason = request.POST.get("reason", "")
    _attempt(
        request,
        lambda: cluster_services.cluster_resume(actor=request.user, cluster=cluster, reason=reason),
        f"Cluster {cluster.name} resumed.",
    )
    return _back(request, cluster)


# ---- approvals -----------------------------------------------------------------------------------------------------


def _next_or(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect(default)


def _vote(request: HttpRequest, action: Callable[[], object], done: str, refused: str) -> None:
    """Run one vote; a refusal (own request, already voted, not an approver here) is a message, never a 500."""
    try:
        action()
    except PermissionDenied as error:
        messages.error(request, f"{refused}: {error}" if str(error) else f"{refused}: you may not vote on it.")
    except ValidationError as error:
        messages.error(request, f"{refused}: {' '.join(error.messages)}")
    else:
        messages.success(request, done)


@login_required
@permission_required(VIEW, raise_exception=True)
def approvals_inbox(request: HttpRequest) -> HttpResponse:
    """What waits for this person's decision (requests, direct deletes), and their own requests waiting for others."""
    user = request.user
    waiting = approval_services.requests_awaiting_me(user)
    mine = my_requests_awaiting_approval(user)
    states = approval_states(waiting + mine)
    rows = []
    for req in waiting:
        state = states[req.pk]
        vote = state.vote_of(user.pk)
        counts = vote is not None and (vote.decision == Decision.REJECT or user.get_username() in state.tally.valid)
        pods = (req.plan.get("counts") or {}).get("evict") if isinstance(req.plan, dict) else None
        rows.append(
            {
                "req": req,
                "state": state,
                "my_vote": vote if counts else None,
                "plan_id": f"plan-{req.pk}",
                "pods": pods if pods is not None else len(req.targets),
            }
        )
    pods = approval_services.pod_deletes_awaiting_me(user)
    asks = delete_asks(pods)
    context = {
        "rows": rows,
        "mine": [{"req": req, "state": states[req.pk]} for req in mine],
        "deletes": [{"pod": pod, "ask": asks[pod.pk]} for pod in pods],
        "approver": user.has_perm(APPROVE),
    }
    return render(request, "evictions/approvals.html", context)


@login_required
@require_POST
@permission_required(APPROVE, raise_exception=True)
def request_approve(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(EvictionRequest, pk=pk)
    form = VoteForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    _vote(
        request,
        lambda: approval_services.request_approve(actor=request.user, request_id=pk, comment=comment),
        f"You approved request #{pk}.",
        f"Request #{pk} was not approved",
    )
    return _next_or(request, reverse("approvals"))


@login_required
@require_POST
@permission_required(APPROVE, raise_exception=True)
def request_reject(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(EvictionRequest, pk=pk)
    form = VoteForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    _vote(
        request,
        lambda: approval_services.request_reject(actor=request.user, request_id=pk, comment=comment),
        f"You rejected request #{pk}; it will not run.",
        f"Request #{pk} was not rejected",
    )
    return _next_or(request, reverse("approvals"))


@login_required
@require_POST
@permission_required(APPROVE, raise_exception=True)
def pod_delete_approve(request: HttpRequest, pk: int) -> HttpResponse:
    pod = get_object_or_404(PodEviction, pk=pk)
    form = VoteForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    try:
        result = pod_services.pod_delete_approve(actor=request.user, pod_id=pk, comment=comment)
    except PermissionDenied as error:
        messages.error(request, f"{pod.key} was not deleted: {error or 'you may not approve this delete.'}")
    except ValidationError as error:
        stands = PodEviction.objects.filter(
            pk=pk, delete_requested_at__isnull=False, delete_approvals__approver_id=request.user.pk
        ).exists()
        retry = " Your approval stands: approve again to retry." if stands else ""
        messages.error(request, f"{pod.key} was not deleted: {' '.join(error.messages)}{retry}")
    else:
        if result.delete_requested_at is not None:
            messages.success(request, f"You approved deleting {pod.key} directly; it needs more approvals.")
        else:
            messages.success(request, f"You approved deleting {pod.key} directly; it is being deleted.")
    return _next_or(request, reverse("approvals"))


@login_required
@require_POST
@permission_required(APPROVE, raise_exception=True)
def pod_delete_reject(request: HttpRequest, pk: int) -> HttpResponse:
    pod = get_object_or_404(PodEviction, pk=pk)
    form = VoteForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    _vote(
        request,
        lambda: pod_services.pod_delete_reject(actor=request.user, pod_id=pk, comment=comment),
        f"You refused deleting {pod.key} directly; it keeps waiting for its budget.",
        f"Deleting {pod.key} directly was not refused",
    )
    return _next_or(request, reverse("approvals"))


# ---- the schedule --------------------------------------------------------------------------------------------------


def _what(req: EvictionRequest) -> str:
    if req.kind == RequestKind.DRAIN:
        return f"drain {req.node}"
    return f"{len(req.targets)} pod target{'s' if len(req.targets) != 1 else ''}"


@login_required
@permission_required(VIEW, raise_exception=True)
def schedule(request: HttpRequest) -> HttpResponse:
    """Every cluster's maintenance windows and unfinished requests on a strip of days, drawn on the server (UTC)."""
    now = timezone.now()
    since = strip_start(now)
    until = since + timedelta(days=SCHEDULE_DAYS)
    rows: list[RowInput] = []
    listed: list[dict[str, Any]] = []
    unplaced: list[dict[str, Any]] = []
    for entry in schedule_by_cluster():
        cluster = entry.cluster
        windows = []
        for interval in merged(entry.specs, since, until):
            names = ", ".join(interval.labels)
            windows.append(
                Span(
                    interval.start,
                    interval.end,
                    label=names,
                    title=f"Maintenance window {names}: {interval.start:%a %d %b %H:%M} to "
                    f"{interval.end:%a %d %b %H:%M} UTC",
                    css="tl-window",
                )
            )
        items = []
        for req in entry.requests:
            placement = place_request(
                status=req.status,
                schedule=req.schedule,
                started_at=req.started_at,
                not_before=req.not_before,
                specs=entry.specs,
                now=now,
            )
            fact = {
                "req": req,
                "cluster": cluster,
                "what": _what(req),
                "placement": placement,
                "colour": REQUEST_COLOURS.get(req.status, "grey"),
            }
            if placement.start is None:
                unplaced.append(fact)
                continue
            listed.append(fact)
            items.append(
                Span(
                    placement.start,
                    placement.end,
                    label=f"#{req.pk} {_what(req)}",
                    title=f"#{req.pk} {_what(req)} by {req.requester.get_username()}: "
                    f"{req.get_status_display().lower()}, {placement.words}",
                    url=reverse("request-detail", args=[req.pk]),
                    css=f"tl-{req.status}",
                )
            )
        note = "" if entry.specs else "no maintenance windows"
        rows.append(
            RowInput(
                cluster.name, reverse("cluster-detail", args=[cluster.pk]), windows=windows, items=items, note=note
            )
        )
    listed.sort(key=lambda fact: (fact["placement"].start, fact["req"].pk))
    context = {
        "timeline": layout(rows, since=since, days=SCHEDULE_DAYS, now=now),
        "listed": listed,
        "unplaced": unplaced,
        "now": now,
        "until": until,
    }
    return render(request, "evictions/schedule.html", context)


# ---- a cluster's maintenance windows and approval policy -------------------------------------------------------------


@login_required
@permission_required("evictions.add_maintenancewindow", raise_exception=True)
def window_add(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster, pk=pk)
    initial = {"kind": request.GET.get("kind")} if request.GET.get("kind") in WindowKind.values else {}
    form = WindowForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            window_services.window_create(actor=request.user, cluster_id=cluster.pk, data=form.window_input())
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"Maintenance window added to {cluster.name}.")
            return redirect("cluster-detail", pk=cluster.pk)
    context = {"form": form, "cluster": cluster, "title": f"Add a maintenance window to {cluster.name}"}
    return render(request, "clusters/window_form.html", context)


@login_required
@permission_required("evictions.change_maintenancewindow", raise_exception=True)
def window_edit(request: HttpRequest, pk: int) -> HttpResponse:
    window = get_object_or_404(MaintenanceWindow.objects.select_related("cluster"), pk=pk)
    form = WindowForm(request.POST or None, initial=WindowForm.initial_of(window))
    if request.method == "POST" and form.is_valid():
        try:
            window_services.window_update(actor=request.user, window_id=window.pk, data=form.window_input())
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"Maintenance window of {window.cluster.name} changed.")
            return redirect("cluster-detail", pk=window.cluster_id)
    context = {"form": form, "cluster": window.cluster, "window": window, "title": "Change a maintenance window"}
    return render(request, "clusters/window_form.html", context)


@login_required
@permission_required("evictions.delete_maintenancewindow", raise_exception=True)
def window_delete(request: HttpRequest, pk: int) -> HttpResponse:
    window = get_object_or_404(MaintenanceWindow.objects.select_related("cluster"), pk=pk)
    if request.method == "POST":
        window_services.window_delete(actor=request.user, window_id=window.pk)
        messages.success(request, f"Maintenance window {window_words(window)} removed from {window.cluster.name}.")
        return redirect("cluster-detail", pk=window.cluster_id)
    return render(request, "clusters/window_delete.html", {"window": window, "words": window_words(window)})


def _policy_page(request: HttpRequest, cluster: Cluster | None) -> HttpResponse:
    current = cluster_policy(cluster)
    form = PolicyForm(request.POST or None, initial=PolicyForm.initial_of(current["policy"]))
    if request.method == "POST" and form.is_valid():
        try:
            approval_services.policy_set(
                actor=request.user, cluster_id=cluster.pk if cluster else None, data=form.policy_input()
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            where = f"Cluster {cluster.name} has its own approval policy now." if cluster else "Default policy saved."
            messages.success(request, where)
            return redirect("cluster-detail", pk=cluster.pk) if cluster else redirect("cluster-list")
    return render(request, "clusters/policy_form.html", {"form": form, "cluster": cluster, **current})


@login_required
@permission_required(POLICY, raise_exception=True)
def policy_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _policy_page(request, get_object_or_404(Cluster, pk=pk))


@login_required
@permission_required(POLICY, raise_exception=True)
def policy_default(request: HttpRequest) -> HttpResponse:
    return _policy_page(request, None)


@login_required
@require_POST
@permission_required(POLICY, raise_exception=True)
def policy_reset(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster, pk=pk)
    approval_services.policy_reset(actor=request.user, cluster_id=cluster.pk)
    messages.success(request, f"Cluster {cluster.name} follows the default approval policy again.")
    return redirect("cluster-detail", pk=cluster.pk)
