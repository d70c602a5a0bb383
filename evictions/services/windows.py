"""Maintenance windows: editing them, and pausing or resuming the requests that run inside them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import Actor, audit_record
from clusters.models import Cluster
from evictions.models import (
    POD_WAITING_TO_TRY,
    REQUEST_RUNNING,
    EvictionRequest,
    MaintenanceWindow,
    PauseKind,
    PodEviction,
    RequestStatus,
    Schedule,
    WindowKind,
)
from evictions.services.common import TICK, authorize
from evictions.services.lifecycle import enqueue_waiting, request_refresh
from evictions.services.policy import display_tz, window_specs
from evictions.windows import Interval, describe, next_opening, open_at, valid_timezone

MAX_ONE_OFF = timedelta(days=14)


@dataclass(frozen=True)
class WindowInput:
    kind: str
    label: str = ""
    weekdays: tuple[int, ...] = ()
    start_time: time | None = None
    end_time: time | None = None
    timezone: str = "UTC"
    starts_at: datetime | None = None
    ends_at: datetime | None = None


def validate_window(data: WindowInput, now: datetime | None = None) -> None:
    errors: dict[str, list[str]] = {}
    if len(data.label) > 100:
        errors["label"] = ["Keep the label under 100 characters."]
    if data.kind == WindowKind.RECURRING:
        if not data.weekdays:
            errors["weekdays"] = ["Choose at least one day of the week."]
        elif any(not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 6 for d in data.weekdays):
            errors["weekdays"] = ["Days are 0 (Monday) to 6 (Sunday)."]
        if data.start_time is None:
            errors["start_time"] = ["Give the time the window opens."]
        if data.end_time is None:
            errors["end_time"] = ["Give the time the window closes."]
        if data.start_time is not None and data.start_time == data.end_time:
            errors["end_time"] = ["The window must close at a different time than it opens."]
        if not valid_timezone(data.timezone):
            errors["timezone"] = ["Use an IANA time zone name, such as Europe/Berlin or UTC."]
        if data.starts_at or data.ends_at:
            errors["starts_at"] = ["A recurring window has days and times, not dates."]
    elif data.kind == WindowKind.ONE_OFF:
        if data.starts_at is None:
            errors["starts_at"] = ["Give the moment the window opens."]
        if data.ends_at is None:
            errors["ends_at"] = ["Give the moment the window closes."]
        for name, value in (("starts_at", data.starts_at), ("ends_at", data.ends_at)):
            if value is not None and timezone.is_naive(value):
                errors[name] = ["Give the time with its time zone."]
        if data.starts_at and data.ends_at and not errors:
            if data.ends_at <= data.starts_at:
                errors["ends_at"] = ["The window must close after it opens."]
            elif data.ends_at - data.starts_at > MAX_ONE_OFF:
                errors["ends_at"] = ["A one-off window lasts at most 14 days."]
            elif data.ends_at <= (now or timezone.now()):
                errors["ends_at"] = ["This window would already be over."]
        if data.weekdays or data.start_time or data.end_time:
            errors["weekdays"] = ["A one-off window has a start and an end moment, not days and times."]
    else:
        errors["kind"] = ["Choose 'recurring' or 'one_off'."]
    if errors:
        raise ValidationError(errors)


def _apply(window: MaintenanceWindow, data: WindowInput) -> None:
    window.kind, window.label = data.kind, data.label.strip()
    window.weekdays = sorted(set(data.weekdays))
    window.start_time, window.end_time, window.timezone = data.start_time, data.end_time, data.timezone
    window.starts_at, window.ends_at = data.starts_at, data.ends_at


def _window_json(window: MaintenanceWindow) -> dict[str, object]:
    return {
        "kind": window.kind,
        "label": window.label,
        "weekdays": window.weekdays,
        "start_time": window.start_time.isoformat() if window.start_time else None,
        "end_time": window.end_time.isoformat() if window.end_time else None,
        "timezone": window.timezone,
        "starts_at": window.starts_at.isoformat() if window.starts_at else None,
        "ends_at": window.ends_at.isoformat() if window.ends_at else None,
    }


def window_create(*, actor: Actor, cluster_id: int, data: WindowInput) -> MaintenanceWindow:
    authorize(actor, "evictions.add_maintenancewindow")
    validate_window(data)
    with transaction.atomic():
        cluster = Cluster.objects.select_for_update().get(pk=cluster_id)
        window = MaintenanceWindow(cluster=cluster, created_by_id=getattr(actor, "pk", None))
        _apply(window, data)
        window.save()
        audit_record(actor=actor, action="window.create", target=window, cluster=cluster, details=_window_json(window))
        windows_changed(cluster_id)
    return window


def window_update(*, actor: Actor, window_id: int, data: WindowInput) -> MaintenanceWindow:
    authorize(actor, "evictions.change_maintenancewindow")
    validate_window(data)
    with transaction.atomic():
        window = MaintenanceWindow.objects.select_for_update().select_related("cluster").get(pk=window_id)
        before = _window_json(window)
        _apply(window, data)
        window.save()
        audit_record(
            actor=actor,
            action="window.update",
            target=window,
            cluster=window.cluster,
            details={"before": before, "after": _window_json(window)},
        )
        windows_changed(window.cluster_id)
    return window


def window_delete(*, actor: Actor, window_id: int) -> None:
    authorize(actor, "evictions.delete_maintenancewindow")
    with transaction.atomic():
        window = MaintenanceWindow.objects.select_for_update().select_related("cluster").get(pk=window_id)
        before, cluster = _window_json(window), window.cluster
        audit_record(actor=actor, action="window.delete", target=window, cluster=cluster, details=before)
        window.delete()
        windows_changed(cluster.pk)


def windows_changed(cluster_id: int) -> None:
    """After an edit: waiting requests look again now, and running ones take the window's new end."""

    now = timezone.now()
    EvictionRequest.objects.filter(
        cluster_id=cluster_id, status__in=[RequestStatus.SCHEDULED, RequestStatus.PAUSED]
    ).update(start_after=None)
    window = open_at(window_specs(cluster_id), now)
    EvictionRequest.objects.filter(cluster_id=cluster_id, status__in=REQUEST_RUNNING, schedule=Schedule.WINDOW).update(
        window_ends_at=window.end if window else now
    )


# ---- the tick: close and reopen -----------------------------------------------------------------------------------


def requests_window_closed(now: datetime | None = None) -> int:
    """Pause every request whose window has closed: no new eviction starts; pods in flight finish."""

    now = now or timezone.now()
    count = 0
    for request_id in EvictionRequest.objects.filter(status__in=REQUEST_RUNNING, window_ends_at__lte=now).values_list(
        "pk", flat=True
    )[:500]:
        with transaction.atomic():
            request = (
                EvictionRequest.objects.select_for_update(of=("self",)).select_related("cluster").get(pk=request_id)
            )
            if request.status not in REQUEST_RUNNING or request.window_ends_at is None or request.window_ends_at > now:
                continue
            specs = window_specs(request.cluster_id)
            still_open = open_at(specs, now)
            if still_open is not None:  # the windows were changed: follow the new end
                request.window_ends_at = still_open.end
                request.save(update_fields=["window_ends_at", "updated_at"])
                continue
            upcoming = next_opening(specs, now)
            reopens = (
                f"resumes by itself when the next window opens, {describe(upcoming.start, display_tz(specs))}"
                if upcoming
                else "no window opens in the next 15 days"
            )
            request.status = RequestStatus.PAUSED
            request.pause_kind = PauseKind.WINDOW
            request.status_reason = (
                f"Window closed at {describe(request.window_ends_at, display_tz(specs))}; {reopens}."
            )
            request.start_after = upcoming.start if upcoming else now + timedelta(hours=1)
            request.save(update_fields=["status", "pause_kind", "status_reason", "start_after", "updated_at"])
            audit_record(
                actor=TICK,
                action="request.window_closed",
                target=request,
                cluster=request.cluster,
                details={
                    "closed_at": request.window_ends_at.isoformat(),
                    "reopens_at": upcoming.start.isoformat() if upcoming else None,
                },
            )
            count += 1
    return count


def requests_window_reopened(now: datetime | None = None) -> int:
    """Resume requests paused by a closed window once a window is open again."""

    now = now or timezone.now()
    count = 0
    waiting = EvictionRequest.objects.filter(status=RequestStatus.PAUSED, pause_kind=PauseKind.WINDOW).exclude(
        start_after__gt=now
    )
    for request_id in waiting.values_list("pk", flat=True)[:500]:
        with transaction.atomic():
            request = (
                EvictionRequest.objects.select_for_update(of=("self",)).select_related("cluster").get(pk=request_id)
            )
            if request.status != RequestStatus.PAUSED or request.pause_kind != PauseKind.WINDOW:
                continue
            specs = window_specs(request.cluster_id)
            window: Interval | None = open_at(specs, now)
            if window is None:
                upcoming = next_opening(specs, now)
                request.start_after = upcoming.start if upcoming else now + timedelta(hours=1)
                request.save(update_fields=["start_after", "updated_at"])
                continue
            request.status, request.pause_kind = RequestStatus.RUNNING, PauseKind.NONE
            request.window_ends_at, request.start_after = window.end, None
            # The deadline counts time inside windows: a blocked pod gets its full time again in the new window.
            request.deadline_at = now + timedelta(minutes=request.deadline_minutes)
            request.status_reason = ""
            request.save(
                update_fields=[
                    "status",
                    "pause_kind",
                    "window_ends_at",
                    "start_after",
                    "deadline_at",
                    "status_reason",
                    "updated_at",
                ]
            )
            PodEviction.objects.filter(request=request, status__in=POD_WAITING_TO_TRY).update(next_attempt_at=now)
            audit_record(
                actor=TICK,
                action="request.window_opened",
                target=request,
                cluster=request.cluster,
                details={"window_ends_at": window.end.isoformat()},
            )
            request_refresh(request=request)
            if request.status in REQUEST_RUNNING:
                enqueue_waiting(request)
            count += 1
    return count
