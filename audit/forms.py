"""The audit search form: the same filters as the API, errors reported by field instead of a failed page."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from audit.selectors import AuditFilters
from core.ids import IdFormField, parse_id

MIN_TEXT = 3


def parse_when(value: str, *, end_of_day: bool) -> datetime | None:
    """ISO 8601 date or time; a time without zone is UTC (the pages show UTC); a bare date as `until` means its end."""
    value = value.strip()
    if not value:
        return None
    try:
        moment = parse_datetime(value.replace(" ", "T", 1))
    except ValueError:
        moment = None
    if moment is None:
        try:
            day = parse_date(value)
        except ValueError:
            day = None
        if day is None:
            raise forms.ValidationError("Give a date (2025-06-01) or a time (2025-06-01T22:00, UTC unless zoned).")
        moment = datetime.combine(day, time.min) + (timedelta(days=1) if end_of_day else timedelta())
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment


class AuditSearchForm(forms.Form):
    """GET filters of the audit page and its exports."""

    q = forms.CharField(label="Text", max_length=200, required=False, help_text="in action, actor, object, details")
    actor = forms.CharField(max_length=150, required=False)
    action = forms.CharField(max_length=64, required=False, help_text="starts with, e.g. pod.")
    cluster = forms.CharField(max_length=100, required=False, help_text="name or id")
    object_type = forms.CharField(
        label="Object type", max_length=64, required=False, help_text="request, pod, cluster…"
    )
    object_id = forms.CharField(label="Object id", max_length=64, required=False)
    request = IdFormField(label="Request", required=False, help_text="a request and its pods")
    since = forms.CharField(label="From (UTC)", max_length=40, required=False)
    until = forms.CharField(label="To (UTC)", max_length=40, required=False)

    def clean_q(self) -> str:
        text = " ".join(self.cleaned_data["q"].split())
        if text and len(text) < MIN_TEXT:
            raise forms.ValidationError(f"Give at least {MIN_TEXT} characters to search for.")
        return text

    def clean_since(self) -> datetime | None:
        return parse_when(self.cleaned_data["since"], end_of_day=False)

    def clean_until(self) -> datetime | None:
        return parse_when(self.cleaned_data["until"], end_of_day=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            self.add_error("until", "Give a time after From.")
        if data.get("object_id") and not data.get("object_type") and "object_type" not in self.errors:
            self.add_error("object_type", "Give the object type with its id (request, pod, cluster…).")
        return data

    def filters(self) -> AuditFilters:
        """The valid filters. Call only when the form is valid: a search with a dropped filter would mislead."""
        data = self.cleaned_data
        cluster = data.get("cluster", "").strip()
        cluster_id = parse_id(cluster)
        return AuditFilters(
            actor=data.get("actor", "").strip(),
            action=data.get("action", "").strip(),
            cluster_id=cluster_id,
            cluster_name="" if cluster_id else cluster,
            object_type=data.get("object_type", "").strip(),
            object_id=data.get("object_id", "").strip(),
            since=data.get("since"),
            until=data.get("until"),
            q=data.get("q", ""),
            request=data.get("request"),
        )
