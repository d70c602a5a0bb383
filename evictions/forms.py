"""Forms of the request pages: the list filters, a new request, and the reasons that interventions ask for."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.roles import ROLES
from clusters.models import Cluster
from core.ids import IdModelChoiceField
from core.keyset import Order
from evictions.history import POD_ORDERS, REQUEST_ORDERS, HistoryFilters
from evictions.models import (
    DEFAULT_APPROVAL_VALID_MINUTES,
    WEEKDAY_NAMES,
    ApprovalPolicy,
    PodStatus,
    RequestKind,
    RequestStatus,
    Schedule,
    WindowKind,
)
from evictions.planning import DrainOptions, PodTarget
from evictions.services.approvals import MAX_REQUIRED_APPROVALS, MAX_VALID_MINUTES, PolicyInput
from evictions.services.requests import MAX_TARGETS, RequestInput
from evictions.services.windows import WindowInput

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class HistoryFilterForm(forms.Form):
    """The GET filters of a history list; an invalid value is reported and ignored, the valid ones still filter."""

    STATUSES: list[tuple[str, str]] = []
    ORDERS: dict[str, Order] = REQUEST_ORDERS

    cluster = IdModelChoiceField(queryset=Cluster.objects.order_by("name"), required=False, empty_label="any")
    status = forms.ChoiceField(choices=[("", "any")], required=False)
    namespace = forms.CharField(max_length=253, required=False)
    pod = forms.CharField(label="Pod name contains", max_length=253, required=False)
    node = forms.CharField(max_length=253, required=False)
    requester = forms.CharField(max_length=150, required=False)
    approver = forms.CharField(label="Approved by", max_length=150, required=False)
    answer = forms.IntegerField(
        label="Answer code",
        min_value=100,
        max_value=599,
        required=False,
        help_text="An HTTP status a pod received, e.g. 429.",
        widget=forms.NumberInput(attrs={"placeholder": "e.g. 429"}),
    )
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(choices=[], required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", "any"), *self.STATUSES]  # type: ignore[attr-defined]
        self.fields["sort"].choices = [(o.name, o.label) for o in self.ORDERS.values()]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "Choose a day on or after the first one.")
        return data

    def _valid(self) -> dict[str, Any]:
        if not self.is_bound:
            return {}
        self.is_valid()
        return getattr(self, "cleaned_data", {})  # the fields that were valid still filter

    def filters(self) -> HistoryFilters:
        data = self._valid()
        cluster = data.get("cluster")
        return HistoryFilters(
            cluster=cluster.pk if cluster else None,
            status=data.get("status") or "",
            namespace=(data.get("namespace") or "").strip(),
            pod=(data.get("pod") or "").strip(),
            node=(data.get("node") or "").strip(),
            requester=(data.get("requester") or "").strip(),
            approver=(data.get("approver") or "").strip(),
            answer=data.get("answer"),
            since=data.get("since"),
            until=data.get("until"),
        )

    def order(self) -> Order:
        return self.ORDERS.get(self._valid().get("sort") or "newest", self.ORDERS["newest"])


class RequestFilterForm(HistoryFilterForm):
    STATUSES = RequestStatus.choices
    ORDERS = REQUEST_ORDERS


class PodFilterForm(HistoryFilterForm):
    STATUSES = PodStatus.choices
    ORDERS = POD_ORDERS


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

    cluster = IdModelChoiceField(
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
    schedule = forms.ChoiceField(
        label="When",
        choices=[
            (Schedule.NOW, "As soon as approved (at once where no approval is needed)"),
            (Schedule.NOT_BEFORE, "Not before a given time"),
            (Schedule.WINDOW, "In the next maintenance window of the cluster"),
        ],
        widget=forms.RadioSelect,
        required=False,  # blank: "not before" when a time is given, else "now"
        initial=Schedule.NOW,
    )
    not_before = forms.DateTimeField(
        label="Not before (UTC)",
        required=False,
        input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
        help_text="Interpreted in UTC. With “not before”, or with a window: the first window after this time.",
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

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("schedule") == Schedule.NOW and data.get("not_before"):
            self.add_error("not_before", "Choose “Not before a given time” to use this time, or clear it.")
        return data

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
            schedule=data.get("schedule") or "",
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


# ---- approvals -----------------------------------------------------------------------------------------------------


class VoteForm(forms.Form):
    """The comment of an approval (optional) or a rejection (required: the service says so)."""

    comment = forms.CharField(max_length=2000, required=False)


# ---- maintenance windows and approval policies ---------------------------------------------------------------------


def _utc(value: datetime | None) -> datetime | None:
    """A datetime-local value is wall time in UTC (the page says so), whatever the server's time zone."""
    if value is None:
        return None
    wall = timezone.make_naive(value) if timezone.is_aware(value) else value
    return wall.replace(tzinfo=UTC)


class WindowForm(forms.Form):
    """A maintenance window; only the fields of the chosen kind are passed on. Names match the service's errors."""

    kind = forms.ChoiceField(
        label="Kind",
        choices=[(WindowKind.RECURRING, "Every week"), (WindowKind.ONE_OFF, "Once")],
        widget=forms.RadioSelect,
        initial=WindowKind.RECURRING,
    )
    label = forms.CharField(max_length=100, required=False, help_text="Optional, e.g. “patch night”.")
    weekdays = forms.TypedMultipleChoiceField(
        label="Days (the day the window opens)",
        choices=list(enumerate(WEEKDAY_NAMES)),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        required=False,  # the service says "choose at least one day" for weekly windows
    )
    start_time = forms.TimeField(
        label="Opens at", required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    end_time = forms.TimeField(
        label="Closes at",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="At or before the opening time: the window closes the next day.",
    )
    timezone = forms.CharField(
        label="Time zone",
        max_length=64,
        required=False,
        initial="UTC",
        help_text="An IANA name such as Europe/Berlin or America/New_York; daylight saving time is followed.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    starts_at = forms.DateTimeField(
        label="Opens (UTC)",
        required=False,
        input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    ends_at = forms.DateTimeField(
        label="Closes (UTC)",
        required=False,
        input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )

    @staticmethod
    def initial_of(window: Any) -> dict[str, Any]:
        return {
            "kind": window.kind,
            "label": window.label,
            "weekdays": list(window.weekdays or []),
            "start_time": window.start_time,
            "end_time": window.end_time,
            "timezone": window.timezone,
            "starts_at": window.starts_at.astimezone(UTC).replace(tzinfo=None) if window.starts_at else None,
            "ends_at": window.ends_at.astimezone(UTC).replace(tzinfo=None) if window.ends_at else None,
        }

    def window_input(self) -> WindowInput:
        data = self.cleaned_data
        if data["kind"] == WindowKind.ONE_OFF:
            return WindowInput(
                kind=data["kind"],
                label=data.get("label") or "",
                starts_at=_utc(data.get("starts_at")),
                ends_at=_utc(data.get("ends_at")),
            )
        return WindowInput(
            kind=data["kind"],
            label=data.get("label") or "",
            weekdays=tuple(data.get("weekdays") or ()),
            start_time=data.get("start_time"),
            end_time=data.get("end_time"),
            timezone=(data.get("timezone") or "").strip() or "UTC",
        )


class PolicyForm(forms.Form):
    required_approvals = forms.IntegerField(
        label="Approvals needed",
        min_value=0,
        max_value=MAX_REQUIRED_APPROVALS,
        help_text="From people other than the requester. 0: requests start without approval.",
    )
    approver_groups = forms.MultipleChoiceField(
        label="Who may approve: roles",
        choices=[(role, role) for role in ROLES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Members of these roles; approving also needs the approver or admin role.",
    )
    approver_users = forms.CharField(
        label="Who may approve: people",
        max_length=2000,
        required=False,
        help_text="Usernames, comma-separated. No roles and no people: everyone with the approver or admin role.",
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    delete_needs_approval = forms.BooleanField(label="Deleting a pod directly needs approval too", required=False)
    approval_valid_minutes = forms.IntegerField(
        label="An approval holds for (minutes)",
        min_value=1,
        max_value=MAX_VALID_MINUTES,
        initial=DEFAULT_APPROVAL_VALID_MINUTES,
        help_text="A request that has not started by then needs approving again.",
    )
    windows_only = forms.BooleanField(label="Evictions run only in maintenance windows", required=False)

    @staticmethod
    def initial_of(policy: ApprovalPolicy) -> dict[str, Any]:
        saved = policy.pk is not None
        return {
            "required_approvals": policy.required_approvals,
            "approver_groups": sorted(g.name for g in policy.approver_groups.all()) if saved else [],
            "approver_users": ", ".join(sorted(u.get_username() for u in policy.approver_users.all())) if saved else "",
            "delete_needs_approval": policy.delete_needs_approval,
            "approval_valid_minutes": policy.approval_valid_minutes,
            "windows_only": policy.windows_only,
        }

    def policy_input(self) -> PolicyInput:
        data = self.cleaned_data
        names = [name.strip() for name in (data.get("approver_users") or "").replace("\n", ",").split(",")]
        return PolicyInput(
            required_approvals=data["required_approvals"],
            approver_groups=tuple(data.get("approver_groups") or ()),
            approver_users=tuple(dict.fromkeys(name for name in names if name)),
            delete_needs_approval=data["delete_needs_approval"],
            approval_valid_minutes=data["approval_valid_minutes"],
            windows_only=data["windows_only"],
        )


# The plan names the drain options as the API does (`use force`); a page names them by the form's boxes. Not next to
# a letter, dot, slash or hyphen, so that a pod called force or a namespace force-app is left alone.
_OPTION_NAME = re.compile(r"(?<![\w./-])(ignore_daemonsets|delete_emptydir_data|force)(?![\w./-])")


def in_form_words(text: str) -> str:
    """A planning message as the request form says it: 'use force' → 'use “Force: also pods without a controller”'."""
    return _OPTION_NAME.sub(lambda match: f"“{RequestForm.base_fields[match.group(1)].label}”", str(text))


def error_in_form_words(error: ValidationError) -> ValidationError:
    if hasattr(error, "error_dict"):
        return ValidationError(
            {field: [in_form_words(m) for m in messages] for field, messages in error.message_dict.items()}
        )
    return ValidationError([in_form_words(m) for m in error.messages])
