"""Site-wide pages: the dashboard, health check and placeholders for pages still to come."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from clusters.selectors import cluster_list


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    clusters = cluster_list() if request.user.has_perm("clusters.view_cluster") else []
    return render(request, "dashboard.html", {"clusters": clusters})


@login_required
def coming_soon(request: HttpRequest, page: str) -> HttpResponse:
    return render(request, "coming_soon.html", {"page": page})


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker reachability, for load balancers and docker-compose health checks."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - any failure means unhealthy; the type is reported
        checks["database"] = f"error: {type(error).__name__}"
    try:
        from config.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as error:  # noqa: BLE001
        checks["broker"] = f"error: {type(error).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "unhealthy", **checks}, status=200 if healthy else 503)
