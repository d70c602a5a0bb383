"""Site-wide pages: the dashboard and placeholders for pages still to come (/healthz is in config/health.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from evictions import dashboard as dashboard_reads

# Each panel refreshes itself over htmx (GET /?panel=NAME) from one selector of evictions.dashboard.
DASHBOARD_PANELS: dict[str, Callable[[], dict[str, Any]]] = {
    "clusters": lambda: {"cards": dashboard_reads.cluster_cards()},
    "stuck": lambda: {"stuck": dashboard_reads.interventions()},
    "blocked": lambda: {"blocked": dashboard_reads.blocked_budgets()},
    "upcoming": lambda: {"upcoming": dashboard_reads.upcoming()},
    "recent": lambda: {"recent": dashboard_reads.recent_finished()},
}
DASHBOARD_READ_PERMS = ("clusters.view_cluster", "evictions.view_evictionrequest")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """What needs a person now, what blocks, what comes next and what just finished; every panel polls itself."""
    if not request.user.has_perms(DASHBOARD_READ_PERMS):
        return render(request, "dashboard.html", {"allowed": False})
    panel = request.GET.get("panel", "")
    if getattr(request, "htmx", False) and panel in DASHBOARD_PANELS:
        return render(request, f"dashboard/_{panel}.html", DASHBOARD_PANELS[panel]())
    context: dict[str, Any] = {"allowed": True}
    for read in DASHBOARD_PANELS.values():
        context.update(read())
    return render(request, "dashboard.html", context)
