"""Notification pages (admins): endpoints with add, edit and delete, and the delivery log. Thin, as the others."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from clusters.forms import add_errors
from core.keyset import InvalidCursor, keyset_page
from notifications import services
from notifications.forms import DeliveryFilterForm, EndpointForm
from notifications.models import DELIVERY_STATUS_COLOURS, NotificationEndpoint
from notifications.selectors import DELIVERY_ORDER, DeliveryFilters, delivery_list, endpoint_list

PAGE_SIZE = 50


def _endpoint(pk: int) -> NotificationEndpoint:
    return get_object_or_404(NotificationEndpoint.objects.select_related("cluster"), pk=pk)


@login_required
@permission_required("notifications.view_notificationendpoint", raise_exception=True)
def notification_index(request: HttpRequest) -> HttpResponse:
    endpoints = list(endpoint_list())
    # last_delivery_status is annotated by the selector.
    colours = [DELIVERY_STATUS_COLOURS.get(getattr(e, "last_delivery_status", None) or "", "grey") for e in endpoints]
    rows = list(zip(endpoints, colours, strict=True))
    return render(request, "notifications/list.html", {"rows": rows})


@login_required
@permission_required("notifications.add_notificationendpoint", raise_exception=True)
def endpoint_add(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.endpoint_create(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"Notification endpoint {endpoint.name} added.")
            return redirect("notifications")
    return render(request, "notifications/form.html", {"form": form, "title": "Add a notification endpoint"})


@login_required
@permission_required("notifications.change_notificationendpoint", raise_exception=True)
def endpoint_edit(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(pk)
    initial = {
        "name": endpoint.name,
        "kind": endpoint.kind,
        "cluster": endpoint.cluster_id,
        "emails": endpoint.emails,
        "events": endpoint.events,
        "blocked_after_minutes": endpoint.blocked_after_minutes,
        "enabled": endpoint.enabled,
    }
    form = EndpointForm(request.POST or None, initial=initial, endpoint=endpoint)
    if request.method == "POST" and form.is_valid():
        try:
            services.endpoint_update(actor=request.user, endpoint=endpoint, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"Notification endpoint {endpoint.name} updated.")
            return redirect("notifications")
    title = f"Edit {endpoint.name}"
    return render(request, "notifications/form.html", {"form": form, "title": title, "endpoint": endpoint})


@login_required
@permission_required("notifications.delete_notificationendpoint", raise_exception=True)
def endpoint_delete(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(pk)
    if request.method == "POST":
        services.endpoint_delete(actor=request.user, endpoint=endpoint)
        messages.success(request, f"Notification endpoint {endpoint.name} deleted.")
        return redirect("notifications")
    return render(request, "notifications/delete.html", {"endpoint": endpoint})


@login_required
@permission_required("notifications.view_notificationdelivery", raise_exception=True)
def delivery_index(request: HttpRequest) -> HttpResponse:
    query = request.GET.copy()
    query.pop("cursor", None)
    form = DeliveryFilterForm(query or None)
    filters = DeliveryFilters()
    if form.is_bound and form.is_valid():
        chosen = form.cleaned_data["endpoint"]
        filters = DeliveryFilters(endpoint=chosen.pk if chosen else None, status=form.cleaned_data["status"])
    rows, cursor_error = delivery_list(filters), ""
    try:
        page = keyset_page(rows, DELIVERY_ORDER, request.GET.get("cursor", ""), PAGE_SIZE)
    except InvalidCursor as error:  # an edited link: say so, and show the first page
        page, cursor_error = keyset_page(rows, DELIVERY_ORDER, "", PAGE_SIZE), str(error)
    context = {
        "form": form,
        "page": page,
        "cursor_error": cursor_error,
        "rows": [(delivery, DELIVERY_STATUS_COLOURS.get(delivery.status, "grey")) for delivery in page.rows],
        "query": query.urlencode(),
    }
    return render(request, "notifications/deliveries.html", context, status=400 if cursor_error else 200)
