"""Request pages: the list, a new request (preview, submit), a request's live detail, and the interventions.

Thin, as the cluster pages: parse, check the permission, call one service or selector, render. A service's
ValidationError becomes a form error or a message, never a 500; htmx requests get the partial they swap in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from clusters import kube
from clusters import services as cluster_services
from clusters.forms import add_errors
from clusters.kubetypes import Pod
from clusters.models import Cluster
from evictions.forms import (
    ExtendForm,
    ForceDeleteForm,
    RequestFilterForm,
    RequestForm,
    SkipForm,
    requester_names,
)
from evictions.models import (
    POD_COLOURS,
    REQUEST_COLOURS,
    EvictionRequest,
    PodEviction,
    PodStatus,
    RequestKind,
    RequestStatus,
)
from evictions.selectors import explain_blocks, pod_rows, request_detail, request_list, request_progress
from evictions.services import pods as pod_services
from evictions.services import requests as request_services

PAGE_SIZE = 50
PICKER_LIMIT = 50
VIEW = "evictions.view_evictionrequest"
ADD = "evictions.add_evictionrequest"
INTERVENE = "evictions.intervene_evictionrequest"
FORCE_DELETE = "evictions.force_delete_podeviction"
PAUSABLE = {RequestStatus.SCHEDULED, RequestStatus.RUNNING, RequestStatus.NEEDS_INTERVENTION}
CANCELLABLE = {*PAUSABLE, RequestStatus.PAUSED, RequestStatus.AWAITING_APPROVAL}
RETRYABLE = {PodStatus.PENDING, PodStatus.BLOCKED, PodStatus.NEEDS_INTERVENTION}


# ---- list ------------------------------------------------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
def request_index(request: HttpRequest) -> HttpResponse:
    form = RequestFilterForm(request.GET or None)
    rows = request_list(form.filters() if form.is_bound else None)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "rows": [(r, REQUEST_COLOURS.get(r.status, "grey")) for r in page],
        "query": query.urlencode(),
        "requesters": requester_names(),
    }
    return render(request, "evictions/list.html", context)


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
            add_errors(form, error)
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
        waits = [row["next_in"] for row in behind if row["next_in"] is not None]
        result.append(
            {
                "pdb": key,
                "needs": first.budget_needs if first else None,
                "has": first.budget_has if first else None,
                "blocked_for": oldest["blocked_for"] if oldest else "",
                "next_in": min(waits) if waits else None,
                "pods": [row["pod"] for row in behind],
                "numbers": explanation.numbers,
                # With every selected pod Ready, only the budget's own arithmetic can still say no.
                "allows_none": explanation.disruptions_allowed == 0,
                "unready": explanation.unready,
                "error": explanation.error,
            }
        )
    return result


def _actions_key(req: EvictionRequest) -> str:
    """What the action buttons depend on; the refresh swaps them only when it changes (keeping typed reasons)."""
    return f"{req.status}.{int(req.cluster.paused)}"


def _live_context(req: EvictionRequest) -> dict[str, Any]:
    rows = pod_rows(req)
    for row in rows:
        row["colour"] = POD_COLOURS.get(row["pod"].status, "grey")
    blocked = any(row["pod"].blocking_pdb and not row["pod"].finished for row in rows)
    return {
        "req": req,
        "colour": REQUEST_COLOURS.get(req.status, "grey"),
        "progress": request_progress(req),
        "rows": rows,
        "blocks": _why_blocked(req, rows) if blocked else [],
        "actions_key": _actions_key(req),
        "active": not req.finished,
        "pausable": req.status in PAUSABLE,
        "cancellable": req.status in CANCELLABLE,
        "retryable": RETRYABLE,
        "drain": req.kind == RequestKind.DRAIN,
    }


def _request_or_404(pk: int) -> EvictionRequest:
    try:
        return request_detail(pk)
    except EvictionRequest.DoesNotExist:
        raise Http404("No such request.") from None


@login_required
@permission_required(VIEW, raise_exception=True)
def request_show(request: HttpRequest, pk: int) -> HttpResponse:
    req = _request_or_404(pk)
    context = _live_context(req)
    if getattr(request, "htmx", False):
        context["partial"] = True
        context["actions_oob"] = request.GET.get("k") != context["actions_key"]
        return render(request, "evictions/_request_live.html", context)
    return render(request, "evictions/detail.html", context)


def _after_action(request: HttpRequest, request_id: int) -> HttpResponse:
    """htmx: the refreshed live part (with the messages and new buttons); otherwise back to the page."""
    if getattr(request, "htmx", False):
        context = _live_context(request_detail(request_id))
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
            pod_services.pod_force_delete(
                actor=request.user,
                pod_id=pod.pk,
                reason=form.cleaned_data["reason"],
                confirm_name=form.cleaned_data["confirm_name"].strip(),
                grace_period_seconds=form.cleaned_data["grace_period_seconds"],
            )
        except ValidationError as error:
            add_errors(form, error)
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
