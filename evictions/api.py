"""REST API for eviction requests and pod evictions: parse, check the role, call one service or selector, render."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from accounts.permissions import require_perm
from clusters.models import Cluster
from evictions.models import (
    EvictionAttempt,
    EvictionRequest,
    PodEviction,
    RequestKind,
    RequestStatus,
)
from evictions.planning import DrainOptions, PodTarget
from evictions.selectors import RequestFilters, request_detail, request_list, request_progress
from evictions.services import pods as pod_services
from evictions.services import requests as request_services

VIEW = "evictions.view_evictionrequest"
CREATE = "evictions.add_evictionrequest"
INTERVENE = "evictions.intervene_evictionrequest"
FORCE_DELETE = "evictions.force_delete_podeviction"


# ---- input --------------------------------------------------------------------------------------------------------


class Strict(serializers.Serializer):
    """Refuses fields it does not know, at the top level and when nested, alongside every other field error."""

    def to_internal_value(self, data: Any) -> Any:
        unknown = sorted(str(k) for k in set(data) - set(self.fields)) if isinstance(data, Mapping) else []
        errors: dict[str, Any] = {name: ["Unknown field."] for name in unknown}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if not errors or not isinstance(error.detail, dict):
                raise
            raise serializers.ValidationError({**error.detail, **errors}) from None
        if errors:
            raise serializers.ValidationError(errors)
        return value


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
    cluster = serializers.PrimaryKeyRelatedField(
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
        )


class RequestFiltersSerializer(Strict):
    cluster = serializers.IntegerField(required=False, min_value=1)
    status = serializers.ChoiceField(choices=RequestStatus.choices, required=False)
    requester = serializers.CharField(max_length=150, required=False)
    node = serializers.CharField(max_length=253, required=False)
    since = serializers.DateField(required=False, help_text="Created on or after this day (YYYY-MM-DD).")
    until = serializers.DateField(required=False, help_text="Created on or before this day (YYYY-MM-DD).")
    # Pagination and the format switch are the framework's own parameters.
    limit = serializers.IntegerField(required=False, min_value=1)
    offset = serializers.IntegerField(required=False, min_value=0)
    format = serializers.CharField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"until": ["Choose a day on or after 'since'."]})
        return attrs

    def to_filters(self) -> RequestFilters:
        data = self.validated_data
        return RequestFilters(
            cluster=data.get("cluster"),
            status=data.get("status", ""),
            requester=data.get("requester", ""),
            node=data.get("node", ""),
            since=data.get("since"),
            until=data.get("until"),
        )


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


# ---- output -------------------------------------------------------------------------------------------------------


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


class PodEvictionSerializer(serializers.ModelSerializer):
    attempt_count = serializers.IntegerField(source="attempts", read_only=True)
    attempts = EvictionAttemptSerializer(source="attempt_log", many=True, read_only=True)

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
            "blocking_pdb",
            "budget_needs",
            "budget_has",
            "blocked_since",
            "next_attempt_at",
            "grace_period_seconds",
            "eviction_accepted_at",
            "finished_at",
            "seconds_to_evict",
            "created_at",
            "updated_at",
            "attempts",
        ]
        read_only_fields = fields


class ProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Pods to evict (skipped ones not counted).")
    done = serializers.IntegerField(help_text="Evicted or deleted.")
    blocked = serializers.IntegerField()
    stuck = serializers.IntegerField(help_text="Needing a person.")
    percent = serializers.IntegerField()


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
    "uncordon_when_done",
    "created_at",
    "started_at",
    "deadline_at",
    "finished_at",
    "updated_at",
    "progress",
]


class EvictionRequestSerializer(serializers.ModelSerializer):
    """A request as lists show it; `progress` comes from the list's annotations."""

    cluster_name = serializers.CharField(source="cluster.name", read_only=True)
    requester = serializers.CharField(source="requester.username", read_only=True)  # type: ignore[assignment]
    progress = serializers.SerializerMethodField()

    class Meta:
        model = EvictionRequest
        fields = _REQUEST_FIELDS
        read_only_fields = fields

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


class EvictionRequestDetailSerializer(EvictionRequestSerializer):
    """A request with its plan, and every pod eviction with every attempt (from `request_detail`)."""

    pods = PodEvictionSerializer(many=True, read_only=True)

    class Meta:
        model = EvictionRequest
        fields = [*_REQUEST_FIELDS, "plan", "pods"]
        read_only_fields = fields

    @extend_schema_field(ProgressDetailSerializer)
    def get_progress(self, obj: EvictionRequest) -> dict[str, int]:
        progress = request_progress(obj)
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


# ---- views --------------------------------------------------------------------------------------------------------


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


_REQUEST_FILTERS = [
    OpenApiParameter("cluster", OpenApiTypes.INT, description="Cluster id."),
    OpenApiParameter("status", OpenApiTypes.STR, enum=RequestStatus.values),
    OpenApiParameter("requester", OpenApiTypes.STR, description="Username."),
    OpenApiParameter("node", OpenApiTypes.STR, description="Drained node."),
    OpenApiParameter("since", OpenApiTypes.DATE, description="Created on or after this day."),
    OpenApiParameter("until", OpenApiTypes.DATE, description="Created on or before this day."),
]


class EvictionRequestViewSet(viewsets.GenericViewSet):
    """Eviction requests: list with filters, create (or preview with `dry_run`), one with its pods, interventions."""

    serializer_class = EvictionRequestSerializer
    permission_classes = [IsAuthenticated, CanViewEvictions]
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[EvictionRequest]:
        return request_list()

    def _detail(self, pk: Any) -> EvictionRequest:
        try:
            return request_detail(int(pk))
        except (EvictionRequest.DoesNotExist, ValueError, TypeError):
            raise NotFound("No such request.") from None

    def _exists(self, pk: Any) -> int:
        if not EvictionRequest.objects.filter(pk=pk).exists():
            raise NotFound("No such request.")
        return int(pk)

    def _answer(self, pk: int) -> Response:
        return Response(EvictionRequestDetailSerializer(self._detail(pk)).data)

    @extend_schema(parameters=_REQUEST_FILTERS, responses={200: EvictionRequestSerializer(many=True)})
    def list(self, request: Request) -> Response:
        incoming = RequestFiltersSerializer(data=request.query_params.dict())
        incoming.is_valid(raise_exception=True)
        rows = request_list(incoming.to_filters())
        page = self.paginate_queryset(rows)
        if page is not None:
            return self.get_paginated_response(EvictionRequestSerializer(page, many=True).data)
        return Response(EvictionRequestSerializer(rows, many=True).data)

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
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[PodEviction]:
        attempts = Prefetch("attempt_log", queryset=EvictionAttempt.objects.order_by("at", "id"))
        return PodEviction.objects.prefetch_related(attempts)

    def _exists(self, pk: Any) -> int:
        if not PodEviction.objects.filter(pk=pk).exists():
            raise NotFound("No such pod eviction.")
        return int(pk)

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
        responses={200: PodEvictionSerializer},
        description="Delete the pod directly, bypassing its disruption budget (only the pod with the recorded UID). "
        "`confirm_name` must repeat the pod's name.",
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
        )


def _act(
    view: Any, request: Request, pk: Any, *, perm: str, body: type[serializers.Serializer], service: Any, id_field: str
) -> Response:
    """An intervention: the object must exist, the role must allow it (before the body is read), the body must be
    valid, then one service call; the answer is the object as it is now."""
    object_id = view._exists(pk)
    require_perm(request.user, perm)
    incoming = body(data=request.data)
    incoming.is_valid(raise_exception=True)
    service(actor=request.user, **{id_field: object_id}, **incoming.validated_data)
    return view._answer(object_id)


def register(router: DefaultRouter) -> None:
    """Add this app's viewsets to the /api/v1/ router."""
    router.register("requests", EvictionRequestViewSet, basename="request")
    router.register("evictions", PodEvictionViewSet, basename="podeviction")
