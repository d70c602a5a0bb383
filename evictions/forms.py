"""Forms of the request pages: the list filters, a new request, and the reasons that interventions ask for."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from clusters.models import Cluster
from evictions.models import RequestKind, RequestStatus
from evictions.planning import DrainOptions, PodTarget
from evictions.selectors import RequestFilters
from evictions.services.requests import MAX_TARGETS, RequestInput

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class RequestFilterForm(forms.Form):
    """The GET filters of the requests list; an invalid value is reported and ignored."""

    cluster = forms.ModelChoiceField(queryset=Cluster.objects.order_by("name"), required=False, empty_label="any")
    status = forms.ChoiceField(choices=[("", "any"), *RequestStatus.choices], required=False)
    requester = forms.CharField(max_length=150, required=False)
    node = forms.CharField(max_length=253, required=False)
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def filters(self) -> RequestFilters:
        self.is_valid()
        data: dict[str, Any] = getattr(self, "cleaned_data", {})  # the fields that were valid still filter
        cluster = data.get("cluster")
        return RequestFilters(
            cluster=cluster.pk if cluster else None,
            status=data.get("status") or "",
            requester=(data.get("requester") or "").strip(),
            node=(data.get("node") or "").strip(),
            since=data.get("since"),
            until=data.get("until"),
        )


def requester_names() -> list[str]:
    return list(get_user_model().objects.order_by("username").values_list("username", flat=True)[:500])


def parse_targets(text: str) -> tuple[tuple[PodTarget, ...], list[str]]:
    """One target a line: `namespace/name`, or `namespace selector` (a label selector after a space)."""
    targets: list[PodTarget] = []
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        namespace, space, rest = line.partition(" ")
        if space and rest.strip():
            targets.append(PodTarget(namespace=namespace.strip(), selector=rest.strip()))
        elif "/" in line:
            namespace, _, name = line.partition("/")
            if not namespace or not name or "/" in name:
                errors.append(f"Line {number}: write namespace/name, e.g. shop/web-1.")
            else:
                targets.append(PodTarget(namespace=namespace, name=name))
        else:
            errors.append(f"Line {number}: write namespace/name, or a namespace and a label selector (shop app=web).")
    return tuple(targets), errors


class RequestForm(forms.Form):
    """A new eviction request. Field names match the service's error keys, so its errors land on the fields."""

    cluster = forms.ModelChoiceField(
        queryset=Cluster.objects.order_by("name"),
        empty_label="Choose a cluster",
        error_messages={"invalid_choice": "That cluster does not exist (any more); choose another."},
    )
    kind = forms.ChoiceField(
        label="What to evict",
        choices=[(RequestKind.DRAIN, "Drain a node"), (RequestKind.PODS, "Evict pods")],
        widget=forms.RadioSelect,
        initial=RequestKind.DRAIN,
    )
    node = forms.CharField(
        max_length=253,
        required=False,
        help_text="The node is cordoned, then its pods are evicted as kubectl drain would.",
        widget=forms.TextInput(attrs={"list": "node-options", "autocomplete": "off", "spellcheck": "false"}),
    )
    ignore_daemonsets = forms.BooleanField(
        label="Ignore DaemonSet-managed pods", required=False, help_text="Without it the drain refuses them."
    )
    delete_emptydir_data = forms.BooleanField(
        label="Delete emptyDir data", required=False, help_text="Pods with emptyDir volumes lose that data."
    )
    force = forms.BooleanField(
        label="Force: also pods without a controller", required=False, help_text="Nothing will replace them."
    )
    pod_selector = forms.CharField(
        label="Only pods matching (label selector)",
        max_length=1000,
        required=False,
        help_text="Optional, e.g. app=web,tier!=db.",
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )
    targets = forms.CharField(
        label="Pods",
        required=False,
        help_text="One per line: namespace/name, or a namespace and a label selector (shop app=web).",
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
    )
    reason = forms.CharField(
        max_length=2000,
        required=False,  # the service says why it is needed, next to the field
        help_text="Kept in the audit log and shown to approvers.",
        widget=forms.TextInput(),
    )
    deadline_minutes = forms.IntegerField(
        label="Deadline (minutes)",
        initial=30,
        min_value=1,
        help_text="A pod still blocked by its budget after this long needs a person.",
    )
    grace_period_seconds = forms.IntegerField(
        label="Grace period (seconds)",
        required=False,
        min_value=0,
        help_text="Blank: each pod's own terminationGracePeriodSeconds.",
    )
    not_before = forms.DateTimeField(
        label="Not before (UTC)",
        required=False,
        input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
        help_text="Interpreted in UTC. Blank: start as soon as it is submitted.",
    )
    uncordon_when_done = forms.BooleanField(label="Uncordon the node when done", required=False)

    def clean_targets(self) -> str:
        text: str = self.cleaned_data.get("targets") or ""
        targets, errors = parse_targets(text)
        if errors:
            raise forms.ValidationError(errors[:10])
        if len(targets) > MAX_TARGETS:
            raise forms.ValidationError(f"At most {MAX_TARGETS} targets in one request.")
        return text

    def clean_not_before(self) -> datetime | None:
        value: datetime | None = self.cleaned_data.get("not_before")
        if value is None:
            return None
        # datetime-local carries no zone and the page says it is UTC; Django read it in the current time zone.
        wall = timezone.make_naive(value) if timezone.is_aware(value) else value
        return wall.replace(tzinfo=UTC)

    def request_input(self) -> RequestInput:
        """What the services take; call after is_valid(). Only the fields of the chosen kind are passed."""
        data = self.cleaned_data
        drain = data["kind"] == RequestKind.DRAIN
        targets, _ = parse_targets(data.get("targets") or "")
        options = DrainOptions(
            ignore_daemonsets=drain and data["ignore_daemonsets"],
            delete_emptydir_data=drain and data["delete_emptydir_data"],
            force=drain and data["force"],
            grace_period_seconds=data.get("grace_period_seconds"),
            pod_selector=(data.get("pod_selector") or "").strip() if drain else "",
        )
        return RequestInput(
            cluster=data["cluster"],
            kind=data["kind"],
            reason=data.get("reason") or "",
            node=(data.get("node") or "").strip() if drain else "",
            targets=() if drain else targets,
            options=options,
            deadline_minutes=data["deadline_minutes"],
            not_before=data.get("not_before"),
            uncordon_when_done=drain and data["uncordon_when_done"],
        )


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=2000, required=False)


class ExtendForm(forms.Form):
    minutes = forms.IntegerField(min_value=1, max_value=7 * 24 * 60)
    reason = forms.CharField(max_length=2000, required=False)


class ForceDeleteForm(forms.Form):
    confirm_name = forms.CharField(
        label="Type the pod's name to confirm",
        max_length=253,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    grace_period_seconds = forms.IntegerField(
        label="Grace period (seconds)",
        required=False,
        min_value=0,
        max_value=24 * 3600,
        help_text="Blank: the pod's own terminationGracePeriodSeconds. 0 deletes it at once.",
    )
    reason = forms.CharField(
        max_length=2000,
        required=False,
        help_text="Required; kept in the audit log.",
        widget=forms.TextInput(),
    )


class SkipForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        required=False,
        help_text="Required; kept in the audit log.",
        widget=forms.TextInput(),
    )
