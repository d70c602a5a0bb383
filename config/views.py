"""Site-wide pages: the dashboard and placeholders for pages still to come (/healthz is in config/health.py)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from clusters.selectors import cluster_list


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    clusters = cluster_list() if request.user.has_perm("clusters.view_cluster") else []
    return render(request, "dashboard.html", {"clusters": clusters})


@login_required
def coming_soon(request: HttpRequest, page: str) -> HttpResponse:
    return render(request, "coming_soon.html", {"page": page})
