"""The cluster pages that combine apps: a cluster's detail (its windows and approval policy, from the engine) and its
budgets (live, and which blocked most in the engine's records). They live in config/, above every app they show."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from audit.selectors import audit_cluster_history
from clusters.models import Cluster
from clusters.selectors import cluster_budgets
from evictions.dashboard import HISTORY_DAYS, HISTORY_DEFINITION, bar_chart, budget_history
from evictions.selectors import cluster_policy, cluster_windows


@login_required
@permission_required("clusters.view_cluster", raise_exception=True)
def cluster_detail(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster, pk=pk)
    history = audit_cluster_history(cluster_id=cluster.pk)
    context = {
        "cluster": cluster,
        "audit_history": history,
        "windows": cluster_windows(cluster),
        **cluster_policy(cluster),
    }
    return render(request, "clusters/detail.html", context)


@login_required
@permission_required("clusters.view_cluster", raise_exception=True)
def cluster_pdbs(request: HttpRequest, pk: int) -> HttpResponse:
    """The cluster's disruption budgets now (with the pods each selects), and which blocked most in our records."""
    cluster = get_object_or_404(Cluster, pk=pk)
    history = budget_history(cluster.pk)
    chart = bar_chart(
        [(h.pdb, h.seconds, f"{h.total_words}, {h.pods} pod{'s' if h.pods != 1 else ''}") for h in history]
    )
    context = {
        "cluster": cluster,
        "live": cluster_budgets(cluster),
        "history": history,
        "chart": chart,
        "history_days": HISTORY_DAYS,
        "definition": HISTORY_DEFINITION.format(days=HISTORY_DAYS),
    }
    return render(request, "clusters/pdbs.html", context)
