"""The audit pages: search with keyset pages, streamed exports, and the chain's verification checkpoint."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from audit import export
from audit.forms import AuditSearchForm
from audit.models import AuditEvent
from audit.selectors import (
    AuditFilters,
    audit_page,
    audit_search,
    audit_verification_state,
    chain_head_sequence,
    chain_start,
    event_rows,
)
from audit.services import VERIFY_NOW_INLINE_LIMIT, audit_chain_verify_now
from core.keyset import InvalidCursor, KeysetPage

VIEW = "audit.view_auditevent"
VERIFY = "audit.verify_auditevent"
PAGE_SIZE = 50


def cluster_names() -> list[str]:
    from django.apps import apps

    clusters = apps.get_model("clusters", "Cluster")  # by name: audit does not import a higher app's models
    return list(clusters.objects.order_by("name").values_list("name", flat=True)[:500])


@login_required
@permission_required(VIEW, raise_exception=True)
def audit_index(request: HttpRequest) -> HttpResponse:
    form = AuditSearchForm(request.GET)
    page: KeysetPage[AuditEvent] = KeysetPage([], "", "")
    cursor_error = ""
    if form.is_valid():
        try:
            page = audit_page(form.filters(), cursor=request.GET.get("cursor", ""), size=PAGE_SIZE)
        except InvalidCursor as error:  # an edited link: say so, and show the first page
            page, cursor_error = audit_page(form.filters(), size=PAGE_SIZE), str(error)
    query = request.GET.copy()
    query.pop("cursor", None)
    searched = any(form.data.get(name) for name in form.fields)
    context = {
        "form": form,
        "searched": searched,
        "page": page,
        "cursor_error": cursor_error,
        "rows": event_rows(page.rows),
        "empty_text": "No events match this search." if searched else "No events yet.",
        "query": query.urlencode(),
        "cluster_names": cluster_names(),
        **chain_state_context(),
    }
    return render(request, "audit/index.html", context, status=400 if cursor_error else 200)


def chain_state_context() -> dict[str, Any]:
    """What the last check verified, and how: the whole chain recomputed, or new events and a digest of the rest."""
    verification = audit_verification_state()
    head = chain_head_sequence()
    first, _ = chain_start(verification)
    recomputed_from = verification.recomputed_from if verification.recomputed_from is not None else first
    return {
        "verification": verification,
        "verified_count": f"{verification.verified_count:,}",
        "full_verified_count": f"{verification.full_verified_count:,}",
        "whole": verification.full_verified_at is not None and verification.full_verified_at == verification.checked_at,
        "chain_first": first,
        "recomputed_from": recomputed_from,
        "digest_through": recomputed_from - 1,
        "new_checked": (verification.verified_sequence or 0) >= recomputed_from,
        "unverified": max(0, head - (verification.verified_sequence or 0)) if verification.checked_at else 0,
        "verify_inline_limit": f"{VERIFY_NOW_INLINE_LIMIT:,}",
    }


@login_required
@permission_required(VIEW, raise_exception=True)
def audit_chain_state(request: HttpRequest) -> HttpResponse:
    """The chain-state section alone: the page polls it while a queued whole-chain check runs."""
    return render(request, "audit/_chain_state.html", chain_state_context())


def streamed_export(filters: AuditFilters, fmt: str) -> StreamingHttpResponse:
    """The whole search as a file, written as rows come from the database (never all in memory)."""
    rows = export.export_rows(audit_search(filters))
    response = StreamingHttpResponse(export.chunks(fmt, rows), content_type=export.content_type(fmt))
    response["Content-Disposition"] = f'attachment; filename="{export.file_name(fmt, timezone.now())}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@permission_required(VIEW, raise_exception=True)
def audit_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    form = AuditSearchForm(request.GET)
    if fmt not in export.FORMATS:
        return HttpResponse("Export as .csv or .json.\n", status=404, content_type="text/plain")
    if not form.is_valid():
        lines = [f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items()]
        return HttpResponse("\n".join(lines) + "\n", status=400, content_type="text/plain; charset=utf-8")
    return streamed_export(form.filters(), fmt)


@login_required
@require_POST
@permission_required(VERIFY, raise_exception=True)
def audit_verify_now(request: HttpRequest) -> HttpResponse:
    state = audit_chain_verify_now()
    if state.broken:
        messages.error(request, "The audit chain does not verify; see below.")
    elif state.full_requested_at is not None:
        messages.info(request, "The chain is long: its whole-chain verification is queued for a worker; see below.")
    else:
        messages.success(
            request, f"Whole chain verified: {state.verified_count:,} events, up to #{state.verified_sequence or 0}."
        )
    return redirect("audit")
