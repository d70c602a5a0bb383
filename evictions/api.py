"""REST API for eviction requests, pod evictions, approvals, approval policies and maintenance windows: parse,
check the role, call one service or selector, render."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import MethodNotAllowed, NotFound
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from accounts.permissions import require_perm
from clusters.models import Cluster
from core.ids import ID_PATH_REGEX, OFFSET_MAX, IdField, IdRelatedField
from core.keyset import MAX_PAGE_SIZE, KeysetPage, Order
from core.pagination import cursor_page, keyset_answer
from core.schema import ErrorSerializer
from core.serializers import Strict
from evictions.history import (
    POD_ORDERS,
    REQUEST_ORDERS,
    HistoryFilters,
    attach_pod_counts,
    pod_history,
    request_history,
)
from evictions.models import (
    DEFAULT_APPROVAL_VALID_MINUTES,
    POD_BUDGET_FIELDS,
    Approval,
    ApprovalPolicy,
    EvictionAttempt,
    EvictionRequest,
    MaintenanceWindow,
    PodEviction,
    PodStatus,
    RequestKind,
    RequestStatus,
    Schedule,
    WindowKind,
)
from evictions.planning import DrainOptions, PodTarget
from evictions.selectors import (
    exceptions_in,
    queue_position,
    request_detail,
    request_exceptions,
    request_progress,
)
from evictions.services import approvals as approval_services
from evictions.services import pods as pod_services
from evictions.services import requests as request_services
from evictions.services import windows as window_services
from evictions.services.policy import spec_of
from evictions.windows import next_opening

VIEW = "evictions.view_evictionrequest"
CREATE = "evictions.add_evictionrequest"
INTERVENE = "evictions.intervene_evictionrequest"
FORCE_DELETE = "evictions.force_delete_podeviction"
APPROVE = approval_services.APPROVE_PERM
CHANGE_POLICY = "evictions.change_approvalpolicy"
ADD_WINDOW = "evictions.add_maintenancewindow"
CHANGE_WINDOW = "evictions.change_maintenancewindow"
DELETE_WINDOW = "evictions.delete_maintenancewindow"
DEFAULT_LIMIT = 100


# ---- input --------------------------------------------------------------------------------------------------------


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with its zone: a time without one would silently be read in the server's zone."""

    default_error_messages = {"naive": "Give the time with its time zone, e.g. 2025-06-01T22:00:00+02:00 or …Z."}

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
            if parsed is not None and timezone.is_naive(parsed):
                self.fail("naive")
        return super().to_internal_value(value)


class TargetSerializer(Strict):
    namespace = serializers.CharField(max_length=253, allow_blank=True)
    name = serializers.CharField(max_length=253, required=False, allow_blank=True, default="")
    selector = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class DrainOptionsSerializer(Strict):
    ignore_daemonsets = serializers.BooleanField(required=False, default=False)
    delete_emptydir_data = serializers.BooleanField(required=False, default=False)
    force = serializers.BooleanField(required=False, default=False)
    pod_selector = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class EvictionRequestCreateSerializer(Strict):
    cluster = IdRelatedField(
        queryset=Cluster.objects.all(),
        error_messages={"does_not_exist": "No cluster with id {pk_value}.", "incorrect_type": "Give the cluster's id."},
    )
    kind = serializers.ChoiceField(choices=RequestKind.choices)
    reason = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=4000)
    node = serializers.CharField(max_length=253, required=False, allow_blank=True, default="")
    targets = serializers.ListField(
        child=TargetSerializer(),
        required=False,
        max_length=request_services.MAX_TARGETS,
        error_messages={"max_length": f"At most {request_services.MAX_TARGETS} targets in one request."},
    )
    options = DrainOptionsSerializer(required=False)
    grace_period_seconds = serializers.IntegerField(required=False, allow_null=True, default=None)
    deadline_minutes = serializers.IntegerField(required=False, default=30)
    not_before = AwareDateTimeField(required=False, allow_null=True, default=None)
    schedule = serializers.ChoiceField(
        choices=Schedule.choices,
        required=False,
        help_text="now: as soon as approved; not_before: not before `not_before`; window: in the cluster's next "
        "maintenance window. Absent: not_before when `not_before` is given, else now.",
    )
    uncordon_when_done = serializers.BooleanField(required=False, default=False)
    dry_run = serializers.BooleanField(
        required=False, default=False, help_text="true: answer 200 with the plan only; nothing is stored."
    )

    def to_input(self) -> request_services.RequestInput:
        data = self.validated_data
        options = data.get("options") or {}
        return request_services.RequestInput(
            cluster=data["cluster"],
            kind=data["kind"],
            reason=data["reason"],
            node=data["node"],
            targets=tuple(PodTarget(t["namespace"], t["name"], t["selector"]) for t in data.get("targets") or []),
            options=DrainOptions(
                ignore_daemonsets=options.get("ignore_daemonsets", False),
                delete_emptydir_data=options.get("delete_emptydir_data", False),
                force=options.get("force", False),
                grace_period_seconds=data["grace_period_seconds"],
                pod_selector=options.get("pod_selector", ""),
            ),
            deadline_minutes=data["deadline_minutes"],
            not_before=data["not_before"],
            uncordon_when_done=data["uncordon_when_done"],
            schedule=data.get("schedule", ""),
        )


class HistoryFiltersSerializer(Strict):
    """The history filters of the requests and pod evictions lists, with cursor pagination."""

    STATUSES: list[tuple[str, str]] = []
    ORDERS: dict[str, Order] = REQUEST_ORDERS

    cluster = IdField(required=False)
    status = serializers.ChoiceField(choices=[], required=False)
    namespace = serializers.CharField(max_length=253, required=False)
    pod = serializers.CharField(max_length=253, required=False, help_text="Contained in the pod's name.")
    requester = serializers.CharField(max_length=150, required=False)
    approver = serializers.CharField(max_length=150, required=False, help_text="Username of someone who approved.")
    node = serializers.CharField(max_length=253, required=False)
    answer = serializers.IntegerField(required=False, min_value=100, max_value=599)
    since = serializers.DateField(required=False, help_text="Created on or after this day (YYYY-MM-DD).")
    until = serializers.DateField(required=False, help_text="Created on or before this day (YYYY-MM-DD).")
    sort = serializers.ChoiceField(choices=[], required=False)
    cursor = serializers.CharField(required=False, max_length=2000)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE)
    format = serializers.CharField(required=False)  # the framework's format switch

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = self.STATUSES  # type: ignore[attr-defined]
        self.fields["sort"].choices = list(self.ORDERS)  # type: ignore[attr-defined]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"until": ["Choose a day on or after 'since'."]})
        return attrs

    def to_filters(self) -> HistoryFilters:
        data = self.validated_data
        return HistoryFilters(
            cluster=data.get("cluster"),
            status=data.get("status", ""),
            namespace=data.get("namespace", ""),
            pod=data.get("pod", ""),
            requester=data.get("requester", ""),
            approver=data.get("approver", ""),
            node=data.get("node", ""),
            answer=data.get("answer"),
            since=data.get("since"),
            until=data.get("until"),
        )

    def order(self) -> Order:
        return self.ORDERS[self.validated_data.get("sort", "newest")]


class RequestFiltersSerializer(HistoryFiltersSerializer):
    STATUSES = RequestStatus.choices
    ORDERS = REQUEST_ORDERS
    # The older page-number style, kept for existing clients: slower on deep pages (it counts and skips rows).
    offset = serializers.IntegerField(required=False, min_value=0, max_value=OFFSET_MAX)


class PodFiltersSerializer(HistoryFiltersSerializer):
    STATUSES = PodStatus.choices
    ORDERS = POD_ORDERS


class ReasonSerializer(Strict):
    reason = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=4000)


class OptionalReasonSerializer(Strict):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


class CancelSerializer(ReasonSerializer):
    uncordon = serializers.BooleanField(required=False, default=False, help_text="Drains only: uncordon the node.")


class ExtendDeadlineSerializer(Strict):
    minutes = serializers.IntegerField()
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


class ForceDeleteSerializer(ReasonSerializer):
    confirm_name = serializers.CharField(allow_blank=True, max_length=253, help_text="The pod's name, typed again.")
    grace_period_seconds = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="Blank: the pod's own grace period."
    )


class ApproveSerializer(Strict):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


class RejectSerializer(Strict):
    comment = serializers.CharField(allow_blank=True, max_length=4000, help_text="Why; required.")


class PolicyInputSerializer(Strict):
    """A whole approval policy (PUT replaces it; absent fields take the built-in defaults)."""

    required_approvals = serializers.IntegerField(help_text="0 (automatic) to 10 approvals by other people.")
    approver_groups = serializers.ListField(
        child=serializers.CharField(max_length=150),
        required=False,
        default=list,
        max_length=100,
        help_text="Group names; with approver_users empty too, every approver may approve.",
    )
    approver_users = serializers.ListField(
        child=serializers.CharField(max_length=150),
        required=False,
        default=list,
        max_length=100,
        help_text="Usernames.",
    )
    delete_needs_approval = serializers.BooleanField(
        required=False, default=False, help_text="A direct delete waits for another person's approval."
    )
    approval_valid_minutes = serializers.IntegerField(
        required=False,
        default=DEFAULT_APPROVAL_VALID_MINUTES,
        help_text="An approval lapses if the request has not started by then.",
    )
    windows_only = serializers.BooleanField(
        required=False, default=False, help_text="Every request on the cluster must use schedule 'window'."
    )

    def to_input(self) -> approval_services.PolicyInput:
        data = self.validated_data
        return approval_services.PolicyInput(
            required_approvals=data["required_approvals"],
            approver_groups=tuple(data["approver_groups"]),
            approver_users=tuple(data["approver_users"]),
            delete_needs_approval=data["delete_needs_approval"],
            approval_valid_minutes=data["approval_valid_minutes"],
            windows_only=data["windows_only"],
        )


def _hh_mm(help_text: str) -> serializers.TimeField:
    return serializers.TimeField(
        required=False, allow_null=True, default=None, format="%H:%M", input_formats=["%H:%M"], help_text=help_text
    )


_WINDOW_FIELDS = ("kind", "label", "weekdays", "start_time", "end_time", "timezone", "starts_at", "ends_at")
_KIND_FIELDS: dict[str, tuple[str, ...]] = {
    WindowKind.RECURRING: ("weekdays", "start_time", "end_time", "timezone"),
    WindowKind.ONE_OFF: ("starts_at", "ends_at"),
}


# Named like the answer so that the request body and the answer share one WindowKind enum in the schema.
@extend_schema_serializer(component_name="MaintenanceWindow")
class WindowInputSerializer(Strict):
    """A maintenance window as written: POST and PUT give all of it, PATCH only what changes."""

    cluster = IdRelatedField(
        queryset=Cluster.objects.all(),
        required=False,
        error_messages={"does_not_exist": "No cluster with id {pk_value}.", "incorrect_type": "Give the cluster's id."},
        help_text="Required when creating; a window stays on its cluster.",
    )
    kind = serializers.ChoiceField(choices=WindowKind.choices)
    label = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")  # type: ignore[assignment]
    weekdays = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        default=list,
        max_length=7,
        help_text="Recurring: the days it opens, 0 = Monday … 6 = Sunday.",
    )
    start_time = _hh_mm("Recurring: HH:MM, local to `timezone`.")
    end_time = _hh_mm("Recurring: HH:MM; at or before start_time it closes the next day.")
    timezone = serializers.CharField(
        max_length=64, required=False, default="UTC", help_text="Recurring: an IANA name such as Europe/Berlin."
    )
    starts_at = AwareDateTimeField(required=False, allow_null=True, default=None, help_text="One-off: opens.")
    ends_at = AwareDateTimeField(required=False, allow_null=True, default=None, help_text="One-off: closes.")

    def to_input(self, stored: MaintenanceWindow | None = None) -> window_services.WindowInput:
        """The whole window: what was given, over what is stored (PATCH). Changing the kind drops the other kind's
        stored fields, so a recurring window becomes a one-off one by giving only the new kind and its moments."""
        given = {k: v for k, v in self.validated_data.items() if k in _WINDOW_FIELDS}
        values: dict[str, Any] = {}
        if stored is not None:
            values = {name: getattr(stored, name) for name in _WINDOW_FIELDS}
            kind = given.get("kind", stored.kind)
            if kind != stored.kind:
                for name in _KIND_FIELDS.get(stored.kind, ()):
                    values.pop(name, None)
        values.update(given)
        return window_services.WindowInput(
            kind=values.get("kind", ""),
            label=values.get("label") or "",
            weekdays=tuple(values.get("weekdays") or ()),
            start_time=values.get("start_time"),
            end_time=values.get("end_time"),
            timezone=values.get("timezone") or "UTC",
            starts_at=values.get("starts_at"),
            ends_at=values.get("ends_at"),
        )


class WindowFiltersSerializer(Strict):
    cluster = IdField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1)
    offset = serializers.IntegerField(required=False, min_value=0, max_value=OFFSET_MAX)
    format = serializers.CharField(required=False)


# ---- output -------------------------------------------------------------------------------------------------------

_VOTES = "request_votes"  # prefetched to_attr names
_DELETE_VOTES = "delete_votes"


def _votes() -> QuerySet[Approval]:
    return Approval.objects.select_related("approver").order_by("created_at", "id")


class EvictionAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = EvictionAttempt
        fields = [
            "id",
            "kind",
            "at",
            "duration_ms",
            "http_status",
            "reason",
            "message",
            "budget",
            "retry_after",
            "transport_error",
            "outcome",
            "actor",
        ]
        read_only_fields = fields


class ApprovalSerializer(serializers.ModelSerializer):
    """One person's vote."""

    approver = serializers.CharField(source="approver.username", read_only=True)

    class Meta:
        model = Approval
        fields = ["approver", "decision", "comment", "created_at"]
        read_only_fields = fields


class PodEvictionSerializer(serializers.ModelSerializer):
    attempt_count = serializers.IntegerField(source="attempts", read_only=True)
    budget_words = serializers.CharField(
        read_only=True,
        help_text="The blocking budget's numbers in words, e.g. \"ns/pdb allows 0 disruptions: it needs 3 healthy "
        'pods and has 3, so evicting one would leave 2 (as of 12:03:07 UTC)"; empty when no budget holds the pod.',
    )
    attempts = EvictionAttemptSerializer(source="attempt_log", many=True, read_only=True)
    delete_requested_by = serializers.CharField(
        source="delete_requested_by.username",
        read_only=True,
        allow_null=True,
        help_text="Who asked for a direct delete that waits for approval (kept after it is decided).",
    )
    delete_approvals = serializers.SerializerMethodField(
        help_text="Votes on the asked-for direct delete, oldest first."
    )

    class Meta:
        model = PodEviction
        fields = [
            "id",
            "request",
            "namespace",
            "name",
            "uid",
            "node",
            "status",
            "note",
            "attempt_count",
            "transient_failures",
            "last_status_code",
            *POD_BUDGET_FIELDS,
            "budget_words",
            "blocked_since",
            "next_attempt_at",
            "grace_period_seconds",
            "eviction_accepted_at",
            "finished_at",
            "seconds_to_evict",
            "delete_requested_by",
            "delete_requested_at",
            "delete_reason",
            "delete_approvals",
            "created_at",
            "updated_at",
            "attempts",
        ]
        read_only_fields = fields

    @extend_schema_field(ApprovalSerializer(many=True))
    def get_delete_approvals(self, obj: PodEviction) -> list[dict[str, Any]]:
        if obj.delete_requested_by_id is None:  # never asked: no votes
            return []
        votes = getattr(obj, _DELETE_VOTES, None)
        if votes is None:  # not prefetched by the view
            votes = list(_votes().filter(pod=obj))
        return list(ApprovalSerializer(votes, many=True).data)


class ProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Pods to evict (skipped ones not counted).")
    done = serializers.IntegerField(help_text="Evicted or deleted.")
    blocked = serializers.IntegerField()
    stuck = serializers.IntegerField(help_text="Needing a person.")
    percent = serializers.IntegerField()


class ExceptionsSerializer(serializers.Serializer):
    skipped = serializers.IntegerField(help_text="Pods a person skipped (not those the drain rules skip).")
    deleted = serializers.IntegerField(help_text="Pods deleted directly, bypassing their budget.")


class ProgressDetailSerializer(ProgressSerializer):
    terminating = serializers.IntegerField()
    skipped = serializers.IntegerField()


_REQUEST_FIELDS = [
    "id",
    "cluster",
    "cluster_name",
    "kind",
    "status",
    "status_reason",
    "requester",
    "reason",
    "node",
    "targets",
    "options",
    "grace_period_seconds",
    "deadline_minutes",
    "not_before",
    "schedule",
    "uncordon_when_done",
    "approved_at",
    "approvals",
    "window_ends_at",
    "created_at",
    "started_at",
    "deadline_at",
    "finished_at",
    "updated_at",
    "progress",
    "exceptions",
]


class EvictionRequestSerializer(serializers.ModelSerializer):
    """A request as lists show it; `progress` comes from the list's annotations."""

    cluster_name = serializers.CharField(source="cluster.name", read_only=True)
    requester = serializers.CharField(source="requester.username", read_only=True)  # type: ignore[assignment]
    progress = serializers.SerializerMethodField()
    exceptions = serializers.SerializerMethodField(
        help_text="Pods a person took out of the eviction: skipped by someone, or deleted directly. A request that "
        "finished with any ends `done_with_exceptions`."
    )
    approvals = serializers.SerializerMethodField()

    class Meta:
        model = EvictionRequest
        fields = _REQUEST_FIELDS
        read_only_fields = fields

    @extend_schema_field(ApprovalSerializer(many=True))
    def get_approvals(self, obj: EvictionRequest) -> list[dict[str, Any]]:
        votes = getattr(obj, _VOTES, None)
        if votes is None:  # not prefetched by the view
            votes = list(_votes().filter(request=obj, pod__isnull=True))
        return list(ApprovalSerializer(votes, many=True).data)

    @extend_schema_field(ExceptionsSerializer)
    def get_exceptions(self, obj: EvictionRequest) -> dict[str, int]:
        return request_exceptions(obj).as_json()

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, obj: EvictionRequest) -> dict[str, int]:
        total, done = getattr(obj, "pod_total", 0), getattr(obj, "pod_done", 0)
        return {
            "total": total,
            "done": done,
            "blocked": getattr(obj, "pod_blocked", 0),
            "stuck": getattr(obj, "pod_stuck", 0),
            "percent": int(100 * done / total) if total else (100 if obj.finished else 0),
        }


_BEFORE_START = {RequestStatus.AWAITING_APPROVAL, RequestStatus.SCHEDULED, RequestStatus.PAUSED}


class EvictionRequestDetailSerializer(EvictionRequestSerializer):
    """A request with its plan, and every pod eviction with every attempt (from `request_detail`)."""

    pods = PodEvictionSerializer(many=True, read_only=True)
    approval_state = serializers.SerializerMethodField(
        help_text="Before the request starts: the approvals that hold now, in words; null once it started or ended."
    )
    queue_position = serializers.SerializerMethodField(
        help_text="A scheduled drain waiting for its turn on the cluster: 1 is next; otherwise null."
    )

    class Meta:
        model = EvictionRequest
        fields = [*_REQUEST_FIELDS, "approval_state", "queue_position", "plan", "pods"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_approval_state(self, obj: EvictionRequest) -> str | None:
        # Once it started, the votes that let it start are history (`approvals`, `approved_at`); the current policy
        # would judge them again and could call an approval that did its job "expired".
        if obj.started_at is not None or obj.status not in _BEFORE_START:
            return None
        return approval_services.request_tally(obj).words()

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_queue_position(self, obj: EvictionRequest) -> int | None:
        return queue_position(obj)

    @extend_schema_field(ExceptionsSerializer)
    def get_exceptions(self, obj: EvictionRequest) -> dict[str, int]:
        return exceptions_in(list(obj.pods.all())).as_json()  # every pod is prefetched by request_detail

    @extend_schema_field(ProgressDetailSerializer)
    def get_progress(self, obj: EvictionRequest) -> dict[str, int]:
        progress = request_progress(obj, prefetched=True)  # every pod is prefetched by request_detail
        percent = progress.percent if progress.total or obj.pods_created_at else 0
        return {
            "total": progress.total,
            "done": progress.done,
            "blocked": progress.blocked,
            "stuck": progress.stuck,
            "percent": percent,
            "terminating": progress.terminating,
            "skipped": progress.skipped,
        }


class PlanSerializer(serializers.Serializer):
    """What the request would do now (`Plan.to_json()`); `errors` non-empty means it would be refused."""

    kind = serializers.CharField()
    node = serializers.CharField()
    ok = serializers.BooleanField()
    # DRF's metaclass moves declared fields into _declared_fields, so this does not shadow Serializer.errors.
    errors = serializers.ListField(child=serializers.CharField())  # type: ignore[assignment]
    warnings = serializers.ListField(child=serializers.CharField())
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Pods per disposition.")
    pods = serializers.ListField(
        child=serializers.DictField(), help_text="Each pod: disposition, reason, budgets, dry-run answer."
    )


POLICY_SOURCES = [("cluster", "The cluster's own"), ("default", "The default"), ("built-in", "Built in")]


class PolicySerializer(serializers.Serializer):
    """An approval policy as it applies: `source` says whether it is the cluster's own, the default, or built in."""

    scope = serializers.CharField(help_text="'default', or the cluster's id.")
    # DRF's metaclass moves declared fields into _declared_fields, so this does not shadow Field.source.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=POLICY_SOURCES,
        help_text="cluster: its own policy; default: the default policy; built-in: no policy is stored "
        "(no approval needed).",
    )
    cluster = serializers.IntegerField(allow_null=True, help_text="The cluster asked about; null for the default.")
    cluster_name = serializers.CharField(allow_null=True)
    required_approvals = serializers.IntegerField()
    approver_groups = serializers.ListField(child=serializers.CharField())
    approver_users = serializers.ListField(child=serializers.CharField())
    delete_needs_approval = serializers.BooleanField()
    approval_valid_minutes = serializers.IntegerField()
    windows_only = serializers.BooleanField()
    updated_at = serializers.DateTimeField(allow_null=True)


def _policy_answer(policy: ApprovalPolicy, cluster: Cluster | None) -> dict[str, Any]:
    stored = policy.pk is not None
    return {
        "scope": str(cluster.pk) if cluster else "default",
        "source": ("cluster" if policy.cluster_id else "default") if stored else "built-in",
        "cluster": cluster.pk if cluster else None,
        "cluster_name": cluster.name if cluster else None,
        "required_approvals": policy.required_approvals,
        "approver_groups": sorted(g.name for g in policy.approver_groups.all()) if stored else [],
        "approver_users": sorted(u.get_username() for u in policy.approver_users.all()) if stored else [],
        "delete_needs_approval": policy.delete_needs_approval,
        "approval_valid_minutes": policy.approval_valid_minutes,
        "windows_only": policy.windows_only,
        "updated_at": policy.updated_at if stored else None,
    }


class IntervalSerializer(serializers.Serializer):
    start = serializers.DateTimeField(default_timezone=UTC)
    end = serializers.DateTimeField(default_timezone=UTC)


class MaintenanceWindowSerializer(serializers.ModelSerializer):
    cluster_name = serializers.CharField(source="cluster.name", read_only=True)
    weekdays = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    start_time = serializers.TimeField(read_only=True, allow_null=True, format="%H:%M")
    end_time = serializers.TimeField(read_only=True, allow_null=True, format="%H:%M")
    description = serializers.SerializerMethodField(help_text="The window in words.")
    next_opening = serializers.SerializerMethodField(
        help_text="This window's opening that is open now or opens next (in UTC); null if none in the next 15 days."
    )
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)

    class Meta:
        model = MaintenanceWindow
        fields = [
            "id",
            "cluster",
            "cluster_name",
            "kind",
            "label",
            "description",
            "weekdays",
            "start_time",
            "end_time",
            "timezone",
            "starts_at",
            "ends_at",
            "next_opening",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_description(self, obj: MaintenanceWindow) -> str:
        return f"{obj.label}: {obj}" if obj.label else str(obj)

    @extend_schema_field(IntervalSerializer(allow_null=True))
    def get_next_opening(self, obj: MaintenanceWindow) -> dict[str, Any] | None:
        upcoming = next_opening([spec_of(obj)], timezone.now())
        return dict(IntervalSerializer(upcoming).data) if upcoming else None


class InboxSerializer(serializers.Serializer):
    requests = EvictionRequestSerializer(many=True, help_text="Requests awaiting your approval, oldest first.")
    pod_deletes = PodEvictionSerializer(many=True, help_text="Direct deletes awaiting your approval, oldest first.")


# ---- views --------------------------------------------------------------------------------------------------------


def _votes_prefetch() -> Prefetch:
    """Requests' own votes (not those on direct deletes of their pods), as `approvals` shows them."""
    return Prefetch("approvals", queryset=_votes().filter(pod__isnull=True), to_attr=_VOTES)


def _pod_extras(pods: list[PodEviction]) -> None:
    """Who asked for a direct delete and the votes on it, in two queries, only for pods where one was asked."""
    asked = [p for p in pods if p.delete_requested_by_id is not None]
    if asked:
        prefetch_related_objects(
            asked, "delete_requested_by", Prefetch("delete_approvals", queryset=_votes(), to_attr=_DELETE_VOTES)
        )


class CanViewEvictions(BasePermission):
    message = f"This needs the viewer role ({VIEW})."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.has_perm(VIEW))


def _with_nested_option_errors(error: DjangoValidationError) -> DjangoValidationError | serializers.ValidationError:
    """The service names `pod_selector` by itself; in the API body it lives under `options`."""
    if not hasattr(error, "error_dict") or "pod_selector" not in error.error_dict:
        return error
    detail: dict[str, Any] = dict(error.message_dict)
    detail["options"] = {"pod_selector": detail.pop("pod_selector")}
    return serializers.ValidationError(detail)


_SCOPE = OpenApiParameter(
    "scope",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="'default', or a cluster's id.",
    pattern=r"^(default|\d+)$",
)

_HISTORY_FILTERS = [
    OpenApiParameter("cluster", OpenApiTypes.INT, description="Cluster id."),
    OpenApiParameter("namespace", OpenApiTypes.STR, description="A pod's namespace."),
    OpenApiParameter("pod", OpenApiTypes.STR, description="Contained in a pod's name."),
    OpenApiParameter("node", OpenApiTypes.STR, description="A pod's node (for requests: or the drained node)."),
    OpenApiParameter("requester", OpenApiTypes.STR, description="Username."),
    OpenApiParameter("approver", OpenApiTypes.STR, description="Username of someone who approved."),
    OpenApiParameter("answer", OpenApiTypes.INT, description="An HTTP status some eviction attempt received."),
    OpenApiParameter("since", OpenApiTypes.DATE, description="Created on or after this day."),
    OpenApiParameter("until", OpenApiTypes.DATE, description="Created on or before this day."),
    OpenApiParameter("cursor", OpenApiTypes.STR, description="From `next` or `previous` of the page before."),
    OpenApiParameter("limit", OpenApiTypes.INT, description=f"Rows a page, 1 to {MAX_PAGE_SIZE} (default 100)."),
]
_REQUEST_FILTERS = [
    *_HISTORY_FILTERS,
    OpenApiParameter("status", OpenApiTypes.STR, enum=RequestStatus.values),
    OpenApiParameter("sort", OpenApiTypes.STR, enum=list(REQUEST_ORDERS)),
    OpenApiParameter(
        "offset", OpenApiTypes.INT, description="Page-number style instead of a cursor (answers with `count`)."
    ),
]
_POD_FILTERS = [
    *_HISTORY_FILTERS,
    OpenApiParameter("status", OpenApiTypes.STR, enum=PodStatus.values),
    OpenApiParameter(
        "sort",
        OpenApiTypes.STR,
        enum=list(POD_ORDERS),
        description="slowest/fastest: by seconds_to_evict; pods without one are left out.",
    ),
]


def _cursor_page(rows: QuerySet[Any], incoming: HistoryFiltersSerializer) -> KeysetPage[Any]:
    data = incoming.validated_data
    return cursor_page(rows, incoming.order(), data.get("cursor", ""), data.get("limit", DEFAULT_LIMIT))


# many=False: the page is the whole answer; the schema must not wrap it in the default pagination envelope.
@extend_schema_serializer(many=False)
class RequestPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(required=False, help_text="Only with `offset`: how many requests match.")
    next = serializers.URLField(allow_null=True, help_text="The next page; null on the last one.")
    previous = serializers.URLField(allow_null=True, help_text="The page before; null on the first one.")
    results = EvictionRequestSerializer(many=True)


class PodEvictionRowSerializer(serializers.ModelSerializer):
    """A pod eviction as the history list shows it (its attempts are at /evictions/{id}/)."""

    cluster = serializers.IntegerField(source="request.cluster_id", read_only=True)
    cluster_name = serializers.CharField(source="request.cluster.name", read_only=True)
    requester = serializers.CharField(source="request.requester.username", read_only=True)
    attempt_count = serializers.IntegerField(source="attempts", read_only=True)

    class Meta:
        model = PodEviction
        fields = [
            "id",
            "request",
            "cluster",
            "cluster_name",
            "requester",
            "namespace",
            "name",
            "uid",
            "node",
            "status",
            "note",
            "attempt_count",
            "last_status_code",
            "blocking_pdb",
            "blocked_since",
            "eviction_accepted_at",
            "finished_at",
            "seconds_to_evict",
            "created_at",
        ]
        read_only_fields = fields


@extend_schema_serializer(many=False)
class PodEvictionPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next page; null on the last one.")
    previous = serializers.URLField(allow_null=True, help_text="The page before; null on the first one.")
    results = PodEvictionRowSerializer(many=True)


class EvictionRequestViewSet(viewsets.GenericViewSet):
    """Eviction requests: list with filters, create (or preview with `dry_run`), one with its pods, interventions."""

    serializer_class = EvictionRequestSerializer
    permission_classes = [IsAuthenticated, CanViewEvictions]
    lookup_value_regex = ID_PATH_REGEX
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[EvictionRequest]:
        return request_history()

    def _detail(self, pk: Any) -> EvictionRequest:
        try:
            request = request_detail(int(pk), pod_limit=None)  # the API answers every pod
        except (EvictionRequest.DoesNotExist, ValueError, TypeError):
            raise NotFound("No such request.") from None
        prefetch_related_objects([request], _votes_prefetch())
        _pod_extras(list(request.pods.all()))
        return request

    def _exists(self, pk: Any) -> int:
        if not EvictionRequest.objects.filter(pk=pk).exists():
            raise NotFound("No such request.")
        return int(pk)

    def _answer(self, pk: int) -> Response:
        return Response(EvictionRequestDetailSerializer(self._detail(pk)).data)

    @extend_schema(
        parameters=_REQUEST_FILTERS,
        responses={200: RequestPageSerializer},
        description="Requests matching the filters, newest first unless `sort` says otherwise, a page at a time: "
        "follow `next` and `previous` (a signed cursor; an edited one is a 400 on `cursor`). With `offset` the "
        "older page-number style answers instead, with `count`.",
    )
    def list(self, request: Request) -> Response:
        incoming = RequestFiltersSerializer(data=request.query_params.dict())
        incoming.is_valid(raise_exception=True)
        rows = request_history(incoming.to_filters())
        if "offset" in incoming.validated_data:
            order = incoming.order()
            sign = "-" if order.descending else ""
            offset_page = self.paginate_queryset(rows.order_by(f"{sign}{order.field}", f"{sign}id"))
            assert offset_page is not None  # LimitOffsetPagination pages whenever an offset is given
            attach_pod_counts(offset_page)
            prefetch_related_objects(offset_page, _votes_prefetch())
            return self.get_paginated_response(EvictionRequestSerializer(offset_page, many=True).data)
        page = _cursor_page(rows, incoming)
        attach_pod_counts(page.rows)
        prefetch_related_objects(page.rows, _votes_prefetch())
        return Response(keyset_answer(request, page, EvictionRequestSerializer(page.rows, many=True).data))

    @extend_schema(
        request=EvictionRequestCreateSerializer,
        responses={
            201: EvictionRequestDetailSerializer,
            200: PlanSerializer,
        },
        description="Create a request (201). With `dry_run: true`, answer 200 with the plan only; nothing is stored. "
        "A drain that `kubectl drain` would refuse is a 400 whose `plan` lists the reasons.",
    )
    def create(self, request: Request) -> Response:
        require_perm(request.user, CREATE)
        incoming = EvictionRequestCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.to_input()
        try:
            if incoming.validated_data["dry_run"]:
                plan = request_services.request_preview(actor=request.user, data=data)
                return Response(plan.to_json(), status=status.HTTP_200_OK)
            created = request_services.request_create(actor=request.user, data=data)
        except DjangoValidationError as error:
            raise _with_nested_option_errors(error) from None
        return Response(EvictionRequestDetailSerializer(self._detail(created.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: EvictionRequestDetailSerializer})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(EvictionRequestDetailSerializer(self._detail(pk)).data)

    @extend_schema(
        request=ApproveSerializer,
        responses={200: EvictionRequestDetailSerializer},
        description="Approve another person's request (approvers and admins allowed by the cluster's policy). With "
        "enough approvals it is scheduled. Your own request: 403; a second vote: 400.",
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        return _act(
            self,
            request,
            pk,
            perm=APPROVE,
            body=ApproveSerializer,
            service=approval_services.request_approve,
            id_field="request_id",
        )

    @extend_schema(
        request=RejectSerializer,
        responses={200: EvictionRequestDetailSerializer},
        description="Reject another person's request: it ends as `rejected`. The comment is required.",
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        return _act(
            self,
            request,
            pk,
            perm=APPROVE,
            body=RejectSerializer,
            service=approval_services.request_reject,
            id_field="request_id",
        )

    @extend_schema(request=ReasonSerializer, responses={200: EvictionRequestDetailSerializer})
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        return _act(
            self,
            request,
            pk,
            perm=INTERVENE,
            body=ReasonSerializer,
            service=request_services.request_pause,
            id_field="request_id",
        )

    @extend_schema(request=OptionalReasonSerializer, responses={200: EvictionRequestDetailSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        return _act(
            self,
            request,
            pk,
            perm=INTERVENE,
            body=OptionalReasonSerializer,
            service=request_services.request_resume,
            id_field="request_id",
        )

    @extend_schema(request=CancelSerializer, responses={200: EvictionRequestDetailSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return _act(
            self,
            request,
            pk,
            perm=INTERVENE,
            body=CancelSerializer,
            service=request_services.request_cancel,
            id_field="request_id",
        )

    @extend_schema(request=OptionalReasonSerializer, responses={200: EvictionRequestDetailSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        return _act(
            self,
            request,
            pk,
            perm=INTERVENE,
            body=OptionalReasonSerializer,
            service=pod_services.request_retry_now,
            id_field="request_id",
        )

    @extend_schema(request=ExtendDeadlineSerializer, responses={200: EvictionRequestDetailSerializer})
    @action(detail=True, methods=["post"])
    def extend(self, request: Request, pk: str | None = None) -> Response:
        return _act(
            self,
            request,
            pk,
            perm=INTERVENE,
            body=ExtendDeadlineSerializer,
            service=request_services.request_extend_deadline,
            id_field="request_id",
        )


class PodEvictionViewSet(viewsets.GenericViewSet):
    """One pod of a request, with its attempts, and the interventions on it."""

    serializer_class = PodEvictionSerializer
    permission_classes = [IsAuthenticated, CanViewEvictions]
    pagination_class = None  # its list pages by cursor (core.keyset) only: no offset in its schema
    lookup_value_regex = ID_PATH_REGEX
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[PodEviction]:
        attempts = Prefetch("attempt_log", queryset=EvictionAttempt.objects.order_by("at", "id"))
        votes = Prefetch("delete_approvals", queryset=_votes(), to_attr=_DELETE_VOTES)
        return PodEviction.objects.select_related("delete_requested_by").prefetch_related(attempts, votes)

    def _exists(self, pk: Any) -> int:
        if not PodEviction.objects.filter(pk=pk).exists():
            raise NotFound("No such pod eviction.")
        return int(pk)

    @extend_schema(
        parameters=_POD_FILTERS,
        responses={200: PodEvictionPageSerializer},
        description="Pod evictions across requests matching the filters, newest first unless `sort` says "
        "otherwise, a page at a time: follow `next` and `previous`.",
    )
    def list(self, request: Request) -> Response:
        incoming = PodFiltersSerializer(data=request.query_params.dict())
        incoming.is_valid(raise_exception=True)
        page = _cursor_page(pod_history(incoming.to_filters()), incoming)
        return Response(keyset_answer(request, page, PodEvictionRowSerializer(page.rows, many=True).data))

    def _answer(self, pk: Any) -> Response:
        pod = self.get_queryset().filter(pk=pk).first()
        if pod is None:
            raise NotFound("No such pod eviction.")
        return Response(PodEvictionSerializer(pod).data)

    @extend_schema(responses={200: PodEvictionSerializer})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self._answer(pk)

    @extend_schema(request=OptionalReasonSerializer, responses={200: PodEvictionSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        return _act(
            self,
            request,
            pk,
            perm=INTERVENE,
            body=OptionalReasonSerializer,
            service=pod_services.pod_retry_now,
            id_field="pod_id",
        )

    @extend_schema(request=ReasonSerializer, responses={200: PodEvictionSerializer})
    @action(detail=True, methods=["post"])
    def skip(self, request: Request, pk: str | None = None) -> Response:
        return _act(
            self, request, pk, perm=INTERVENE, body=ReasonSerializer, service=pod_services.pod_skip, id_field="pod_id"
        )

    @extend_schema(
        request=ForceDeleteSerializer,
        responses={200: PodEvictionSerializer, 202: PodEvictionSerializer},
        description="Delete the pod directly, bypassing its disruption budget (only the pod with the recorded UID). "
        "`confirm_name` must repeat the pod's name. 200: deleted. 202: the cluster's policy wants direct deletes "
        "approved, so the ask is recorded (`delete_requested_by`, `delete_requested_at`) and the pod is deleted "
        "when another person approves it (`approve-delete`).",
    )
    @action(detail=True, methods=["post"], url_path="force-delete", url_name="force-delete")
    def force_delete(self, request: Request, pk: str | None = None) -> Response:
        return _act(
            self,
            request,
            pk,
            perm=FORCE_DELETE,
            body=ForceDeleteSerializer,
            service=pod_services.pod_force_delete,
            id_field="pod_id",
            accepted=lambda pod: pod.delete_requested_at is not None,
        )

    @extend_schema(
        request=ApproveSerializer,
        responses={200: PodEvictionSerializer},
        description="Approve a direct delete another person asked for. With enough approvals (the policy's "
        "required_approvals, at least 1) the pod is deleted now; a refusal by the cluster is a 400 in `status`.",
    )
    @action(detail=True, methods=["post"], url_path="approve-delete", url_name="approve-delete")
    def approve_delete(self, request: Request, pk: str | None = None) -> Response:
        return _act(
            self,
            request,
            pk,
            perm=APPROVE,
            body=ApproveSerializer,
            service=pod_services.pod_delete_approve,
            id_field="pod_id",
        )

    @extend_schema(
        request=RejectSerializer,
        responses={200: PodEvictionSerializer},
        description="Refuse a direct delete another person asked for; the pod keeps waiting for its budget.",
    )
    @action(detail=True, methods=["post"], url_path="reject-delete", url_name="reject-delete")
    def reject_delete(self, request: Request, pk: str | None = None) -> Response:
        return _act(
            self,
            request,
            pk,
            perm=APPROVE,
            body=RejectSerializer,
            service=pod_services.pod_delete_reject,
            id_field="pod_id",
        )


class ApprovalViewSet(viewsets.GenericViewSet):
    """What the caller may approve now."""

    serializer_class = InboxSerializer
    permission_classes = [IsAuthenticated, CanViewEvictions]

    @extend_schema(
        responses={200: InboxSerializer},
        description="Requests and direct deletes awaiting your approval: asked by someone else, and the cluster's "
        "policy lets you approve. Empty for people without the approver role. At most 200 of each.",
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def inbox(self, request: Request) -> Response:
        requests = approval_services.requests_awaiting_me(request.user)
        prefetch_related_objects(requests, _votes_prefetch())
        attach_pod_counts(requests)  # progress and exceptions in one query, not one per request
        pods = approval_services.pod_deletes_awaiting_me(request.user)
        attempts = Prefetch("attempt_log", queryset=EvictionAttempt.objects.order_by("at", "id"))
        prefetch_related_objects(pods, attempts)
        _pod_extras(pods)
        return Response(InboxSerializer({"requests": requests, "pod_deletes": pods}).data)


class PolicyViewSet(viewsets.GenericViewSet):
    """Approval policies: `default` (clusters without their own) or a cluster's id. Reading shows the policy that
    applies; writing needs the admin role."""

    serializer_class = PolicySerializer
    permission_classes = [IsAuthenticated, CanViewEvictions]
    lookup_url_kwarg = "scope"
    pagination_class = None
    lookup_value_regex = f"default|{ID_PATH_REGEX}"
    http_method_names = ["get", "put", "delete", "head", "options"]

    def _cluster(self, scope: Any) -> Cluster | None:
        if scope == "default":
            return None
        cluster = Cluster.objects.filter(pk=int(scope)).first() if str(scope).isdigit() else None
        if cluster is None:
            raise NotFound("No such cluster.")
        return cluster

    def _answer(self, cluster: Cluster | None) -> Response:
        policy = approval_services.policy_for(cluster.pk if cluster else None)
        return Response(PolicySerializer(_policy_answer(policy, cluster)).data)

    @extend_schema(
        responses={200: PolicySerializer(many=True)},
        description="The default policy (or the built-in one when none is stored) and every cluster's own.",
    )
    def list(self, request: Request) -> Response:
        default = approval_services.policy_for(None)
        own = ApprovalPolicy.objects.filter(cluster__isnull=False).select_related("cluster").order_by("cluster__name")
        own = own.prefetch_related("approver_groups", "approver_users")
        rows = [_policy_answer(default, None), *(_policy_answer(p, p.cluster) for p in own)]
        return Response(PolicySerializer(rows, many=True).data)

    @extend_schema(
        parameters=[_SCOPE],
        responses={200: PolicySerializer},
        description="The policy that applies to the cluster (its own, else the default, else built in), or the "
        "default.",
    )
    def retrieve(self, request: Request, scope: str | None = None) -> Response:
        return self._answer(self._cluster(scope))

    @extend_schema(
        parameters=[_SCOPE],
        request=PolicyInputSerializer,
        responses={200: PolicySerializer},
        description="Replace the cluster's own policy (creating it), or the default one. Groups and users by name.",
    )
    def update(self, request: Request, scope: str | None = None) -> Response:
        cluster = self._cluster(scope)
        require_perm(request.user, CHANGE_POLICY)
        incoming = PolicyInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        approval_services.policy_set(
            actor=request.user, cluster_id=cluster.pk if cluster else None, data=incoming.to_input()
        )
        return self._answer(cluster)

    @extend_schema(
        parameters=[_SCOPE],
        request=None,
        responses={200: PolicySerializer, 405: ErrorSerializer},
        description="Drop the cluster's own policy: the default applies again (the answer shows it). "
        "The default policy itself is not deleted (405): PUT it with required_approvals 0.",
    )
    def destroy(self, request: Request, scope: str | None = None) -> Response:
        cluster = self._cluster(scope)
        if cluster is None:
            raise MethodNotAllowed("DELETE", detail="The default policy stays; PUT it with required_approvals 0.")
        require_perm(request.user, CHANGE_POLICY)
        approval_services.policy_reset(actor=request.user, cluster_id=cluster.pk)
        return self._answer(cluster)


class MaintenanceWindowViewSet(viewsets.GenericViewSet):
    """Maintenance windows per cluster. Everyone reads; admins write. Every change is audited, and requests waiting
    for a window look again at once."""

    serializer_class = MaintenanceWindowSerializer
    permission_classes = [IsAuthenticated, CanViewEvictions]
    lookup_value_regex = ID_PATH_REGEX
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[MaintenanceWindow]:
        return MaintenanceWindow.objects.select_related("cluster", "created_by").order_by("cluster__name", "id")

    def _window(self, pk: Any) -> MaintenanceWindow:
        window = self.get_queryset().filter(pk=pk).first()
        if window is None:
            raise NotFound("No such window.")
        return window

    @extend_schema(
        parameters=[OpenApiParameter("cluster", OpenApiTypes.INT, description="Cluster id.")],
        responses={200: MaintenanceWindowSerializer(many=True)},
    )
    def list(self, request: Request) -> Response:
        incoming = WindowFiltersSerializer(data=request.query_params.dict())
        incoming.is_valid(raise_exception=True)
        rows = self.get_queryset()
        if incoming.validated_data.get("cluster"):
            rows = rows.filter(cluster_id=incoming.validated_data["cluster"])
        page = self.paginate_queryset(rows)
        if page is not None:
            return self.get_paginated_response(MaintenanceWindowSerializer(page, many=True).data)
        return Response(MaintenanceWindowSerializer(rows, many=True).data)

    @extend_schema(
        request=WindowInputSerializer,
        responses={201: MaintenanceWindowSerializer},
        description="Recurring: `weekdays`, `start_time`, `end_time` (HH:MM) and `timezone`. One-off: `starts_at` and "
        "`ends_at` with their zone, at most 14 days apart.",
    )
    def create(self, request: Request) -> Response:
        require_perm(request.user, ADD_WINDOW)
        incoming = WindowInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        cluster = incoming.validated_data.get("cluster")
        if cluster is None:
            raise serializers.ValidationError({"cluster": ["This field is required."]})
        window = window_services.window_create(actor=request.user, cluster_id=cluster.pk, data=incoming.to_input())
        return Response(MaintenanceWindowSerializer(self._window(window.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: MaintenanceWindowSerializer})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(MaintenanceWindowSerializer(self._window(pk)).data)

    def _change(self, request: Request, pk: Any, *, partial: bool) -> Response:
        stored = self._window(pk)
        require_perm(request.user, CHANGE_WINDOW)
        incoming = WindowInputSerializer(data=request.data, partial=partial)
        incoming.is_valid(raise_exception=True)
        cluster = incoming.validated_data.get("cluster")
        if cluster is not None and cluster.pk != stored.cluster_id:
            raise serializers.ValidationError(
                {"cluster": ["A window stays on its cluster: delete it and create one on the other cluster."]}
            )
        data = incoming.to_input(stored if partial else None)
        window_services.window_update(actor=request.user, window_id=stored.pk, data=data)
        return Response(MaintenanceWindowSerializer(self._window(stored.pk)).data)

    @extend_schema(
        request=WindowInputSerializer,
        responses={200: MaintenanceWindowSerializer},
        description="Replace the window (its cluster stays).",
    )
    def update(self, request: Request, pk: str | None = None) -> Response:
        return self._change(request, pk, partial=False)

    @extend_schema(
        request=WindowInputSerializer,
        responses={200: MaintenanceWindowSerializer},
        description="Change only the fields given; the rest keep their stored values. Changing `kind` drops the "
        "other kind's fields.",
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self._change(request, pk, partial=True)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        stored = self._window(pk)
        require_perm(request.user, DELETE_WINDOW)
        window_services.window_delete(actor=request.user, window_id=stored.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _act(
    view: Any,
    request: Request,
    pk: Any,
    *,
    perm: str,
    body: type[serializers.Serializer],
    service: Any,
    id_field: str,
    accepted: Callable[[Any], bool] | None = None,
) -> Response:
    """An intervention: the object must exist, the role must allow it (before the body is read), the body must be
    valid, then one service call; the answer is the object as it is now (202 when `accepted` says the service only
    recorded the ask)."""
    object_id = view._exists(pk)
    require_perm(request.user, perm)
    incoming = body(data=request.data)
    incoming.is_valid(raise_exception=True)
    result = service(actor=request.user, **{id_field: object_id}, **incoming.validated_data)
    answer = view._answer(object_id)
    if accepted is not None and accepted(result):
        answer.status_code = status.HTTP_202_ACCEPTED
    return answer


def register(router: DefaultRouter) -> None:
    """Add this app's viewsets to the /api/v1/ router."""
    router.register("requests", EvictionRequestViewSet, basename="request")
    router.register("evictions", PodEvictionViewSet, basename="podeviction")
    router.register("approvals", ApprovalViewSet, basename="approval")
    router.register("policies", PolicyViewSet, basename="policy")
    router.register("windows", MaintenanceWindowViewSet, basename="window")
