"""Cluster pages: list, add, edit, delete, check. Thin: parse, check permission, call a service. (The detail and
budgets pages also show the engine's records: they are in config/cluster_pages.py.)"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db.models import ProtectedError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from clusters import services
from clusters.forms import ClusterEditForm, ClusterForm, add_errors
from clusters.models import Cluster
from clusters.selectors import cluster_list


@login_required
@permission_required("clusters.view_cluster", raise_exception=True)
def cluster_index(request: HttpRequest) -> HttpResponse:
    return render(request, "clusters/list.html", {"clusters": cluster_list()})


@login_required
@permission_required("clusters.add_cluster", raise_exception=True)
def cluster_add(request: HttpRequest) -> HttpResponse:
    form = ClusterForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid() and form.connection is not None:
        try:
            cluster = services.cluster_create(
                actor=request.user,
                name=form.cleaned_data["name"],
                connection=form.connection,
                qps_limit=form.cleaned_data["qps_limit"],
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            result = services.cluster_check(actor=request.user, cluster=cluster)
            if result.reachable:
                messages.success(request, f"Cluster {cluster.name} added; it is reachable.")
            else:
                messages.warning(request, f"Cluster {cluster.name} added, but it is not reachable: {result.error}")
            return redirect("cluster-detail", pk=cluster.pk)
    return render(request, "clusters/form.html", {"form": form, "title": "Add a cluster"})


@login_required
@permission_required("clusters.change_cluster", raise_exception=True)
def cluster_edit(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster, pk=pk)
    initial = {
        "name": cluster.name,
        "api_url": cluster.api_url,
        "ca_pem": cluster.ca_pem,
        "qps_limit": cluster.qps_limit,
        "max_concurrent_drains": cluster.max_concurrent_drains,
    }
    form = ClusterEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.cluster_update(actor=request.user, cluster=cluster, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "Cluster updated.")
            return redirect("cluster-detail", pk=cluster.pk)
    return render(request, "clusters/form.html", {"form": form, "title": f"Edit {cluster.name}", "cluster": cluster})


@login_required
@permission_required("clusters.delete_cluster", raise_exception=True)
def cluster_delete(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster, pk=pk)
    if request.method == "POST":
        if request.POST.get("confirm_name") != cluster.name:
            messages.error(request, "Type the cluster's name to confirm the deletion.")
            return redirect("cluster-delete", pk=cluster.pk)
        try:
            services.cluster_delete(actor=request.user, cluster=cluster)
        except ProtectedError:
            messages.error(request, f"Cluster {cluster.name} has eviction requests; it cannot be deleted.")
            return redirect("cluster-detail", pk=cluster.pk)
        messages.success(request, f"Cluster {cluster.name} deleted.")
        return redirect("cluster-list")
    return render(request, "clusters/delete.html", {"cluster": cluster})


@login_required
@require_POST
@permission_required("clusters.check_cluster", raise_exception=True)
def cluster_check(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = get_object_or_404(Cluster, pk=pk)
    services.cluster_check(actor=request.user, cluster=cluster)
    cluster.refresh_from_db()
    if getattr(request, "htmx", False):
        return render(request, "clusters/_status.html", {"cluster": cluster})
    return redirect("cluster-detail", pk=cluster.pk)
