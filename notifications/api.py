"""REST API for notification endpoints (admins) and the delivery log: the webhook URL is write-only."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from accounts.permissions import require_perm
from clusters.models import Cluster
from core.ids import ID_PATH_REGEX, OFFSET_MAX, IdField, IdRelatedField, parse_id
from core.pagination import MAX_LIMIT, cursor_page, keyset_answer
from core.serializers import Strict
from core.urlguard import MAX_URL_LENGTH
from notifications import services
from notifications.events import Event
from notifications.models import DeliveryStatus, EndpointKind, NotificationDelivery, NotificationEndpoint
from notifications.selectors import DELIVERY_ORDER, DeliveryFilters, delivery_list, endpoint_list
from notifications.validation import MAX_BLOCKED_AFTER_MINUTES

VIEW_ENDPOINTS = "notifications.view_notificationendpoint"
VIEW_DELIVERIES = "notifications.view_notificationdelivery"

_CLUSTER_ERRORS: dict[str, Any] = {
    "does_not_exist": "No cluster with id {pk_value}.",
    "incorrect_type": "Give the cluster's id.",
}


# ---- input --------------------------------------------------------------------------------------------------------


class NotificationEndpointCreateSerializer(Strict):
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=EndpointKind.choices)
    cluster = IdRelatedField(
        queryset=Cluster.objects.all(),
        allow_null=True,
        required=False,
        default=None,
        error_messages=_CLUSTER_ERRORS,
        help_text="The cluster whose requests are notified; null for every cluster.",
    )
    url = serializers.CharField(
        max_length=MAX_URL_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        write_only=True,
        help_text="Webhook URL (http or https). Write-only: answers only say `has_url`.",
    )
    emails = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="", help_text="E-mail endpoints: comma-separated."
    )
    events = serializers.ListField(child=serializers.ChoiceField(choices=Event.choices), allow_empty=False)
    blocked_after_minutes = serializers.IntegerField(
        required=False, default=10, min_value=1, max_value=MAX_BLOCKED_AFTER_MINUTES
    )
    enabled = serializers.BooleanField(required=False, default=True)


class NotificationEndpointUpdateSerializer(Strict):
    name = serializers.CharField(max_length=100, required=False)
    kind = serializers.ChoiceField(choices=EndpointKind.choices, required=False)
    cluster = IdRelatedField(
        queryset=Cluster.objects.all(), allow_null=True, required=False, error_messages=_CLUSTER_ERRORS
    )
    url = serializers.CharField(
        max_length=MAX_URL_LENGTH,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="A new webhook URL; blank or absent keeps the stored one.",
    )
    emails = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=Event.choices), allow_empty=False, required=False
    )
    blocked_after_minutes = serializers.IntegerField(required=False, min_value=1, max_value=MAX_BLOCKED_AFTER_MINUTES)
    enabled = serializers.BooleanField(required=False)


class DeliveryFiltersSerializer(Strict):
    endpoint = IdField(required=False)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, required=False)
    request = IdField(required=False)
    event = serializers.ChoiceField(choices=Event.choices, required=False)
    cursor = serializers.CharField(required=False, max_length=2000)
    limit = serializers.IntegerField(required=False, min_value=1)  # a larger one than MAX_LIMIT gives MAX_LIMIT
    # The page-number style the log answered before its cursor pages, kept for the clients that page with it.
    offset = serializers.IntegerField(required=False, min_value=0, max_value=OFFSET_MAX)
    format = serializers.CharField(required=False)  # the framework's format switch

    def to_filters(self) -> DeliveryFilters:
        data = self.validated_data
        return DeliveryFilters(
            endpoint=data.get("endpoint"),
            status=data.get("status", ""),
            request=data.get("request"),
            event=data.get("event", ""),
        )


# ---- output -------------------------------------------------------------------------------------------------------


class NotificationEndpointSerializer(serializers.ModelSerializer):
    """An endpoint as an admin sees it: never its URL, only whether it has one."""

    cluster_name = serializers.SerializerMethodField()
    has_url = serializers.SerializerMethodField()
    created_by = serializers.SerializerMethodField()
    last_delivery_status = serializers.SerializerMethodField()
    last_delivery_at = serializers.SerializerMethodField()

    class Meta:
        model = NotificationEndpoint
        fields = [
            "id",
            "name",
            "kind",
            "cluster",
            "cluster_name",
            "has_url",
            "emails",
            "events",
            "blocked_after_minutes",
            "enabled",
            "last_delivery_status",
            "last_delivery_at",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_cluster_name(self, obj: NotificationEndpoint) -> str | None:
        return obj.cluster.name if obj.cluster_id and obj.cluster else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_created_by(self, obj: NotificationEndpoint) -> str | None:
        return obj.created_by.get_username() if obj.created_by_id and obj.created_by else None

    @extend_schema_field(serializers.BooleanField())
    def get_has_url(self, obj: NotificationEndpoint) -> bool:
        return bool(obj.url_is_set) if hasattr(obj, "url_is_set") else bool(obj.url_secret)

    @extend_schema_field(serializers.ChoiceField(choices=DeliveryStatus.choices, allow_null=True))
    def get_last_delivery_status(self, obj: NotificationEndpoint) -> str | None:
        return getattr(obj, "last_delivery_status", None)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_last_delivery_at(self, obj: NotificationEndpoint) -> Any:
        value = getattr(obj, "last_delivery_at", None)
        return serializers.DateTimeField().to_representation(value) if value else None


class NotificationDeliverySerializer(serializers.ModelSerializer):
    endpoint_name = serializers.CharField(source="endpoint.name", read_only=True)

    class Meta:
        model = NotificationDelivery
        fields = [
            "id",
            "endpoint",
            "endpoint_name",
            "event",
            "request",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "next_attempt_at",
            "created_at",
            "sent_at",
            "payload",
        ]
        read_only_fields = fields


# ---- views --------------------------------------------------------------------------------------------------------


class _HasPerm(BasePermission):
    perm = ""

    @property
    def message(self) -> str:  # type: ignore[override]
        return f"This needs the admin role ({self.perm})."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.has_perm(self.perm))


class CanViewEndpoints(_HasPerm):
    perm = VIEW_ENDPOINTS


class CanViewDeliveries(_HasPerm):
    perm = VIEW_DELIVERIES


class NotificationEndpointViewSet(viewsets.GenericViewSet):
    """Webhook (Slack-compatible JSON) and e-mail endpoints; admins only. The URL is write-only."""

    serializer_class = NotificationEndpointSerializer
    permission_classes = [IsAuthenticated, CanViewEndpoints]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = ID_PATH_REGEX

    def get_queryset(self) -> QuerySet[NotificationEndpoint]:
        return endpoint_list()

    def _one(self, pk: Any) -> NotificationEndpoint:
        endpoint = self.get_queryset().filter(pk=pk).first() if parse_id(pk) else None
        if endpoint is None:
            raise NotFound("No such notification endpoint.")
        return endpoint

    @extend_schema(responses={200: NotificationEndpointSerializer(many=True)})
    def list(self, request: Request) -> Response:
        rows = self.get_queryset()
        page = self.paginate_queryset(rows)
        if page is not None:
            return self.get_paginated_response(NotificationEndpointSerializer(page, many=True).data)
        return Response(NotificationEndpointSerializer(rows, many=True).data)

    @extend_schema(request=NotificationEndpointCreateSerializer, responses={201: NotificationEndpointSerializer})
    def create(self, request: Request) -> Response:
        require_perm(request.user, services.ADD)
        incoming = NotificationEndpointCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(actor=request.user, **incoming.validated_data)
        return Response(NotificationEndpointSerializer(self._one(endpoint.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: NotificationEndpointSerializer})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(NotificationEndpointSerializer(self._one(pk)).data)

    @extend_schema(request=NotificationEndpointUpdateSerializer, responses={200: NotificationEndpointSerializer})
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        endpoint = self._one(pk)
        require_perm(request.user, services.CHANGE)
        incoming = NotificationEndpointUpdateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        changes = dict(incoming.validated_data)
        if "cluster" not in changes:
            changes["cluster"] = services.UNCHANGED
        services.endpoint_update(actor=request.user, endpoint=endpoint, **changes)
        return Response(NotificationEndpointSerializer(self._one(endpoint.pk)).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        endpoint = self._one(pk)
        services.endpoint_delete(actor=request.user, endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)


_DELIVERY_FILTERS = [
    OpenApiParameter("endpoint", OpenApiTypes.INT, description="Only this endpoint's deliveries."),
    OpenApiParameter("status", OpenApiTypes.STR, enum=DeliveryStatus.values, description="pending, sent or failed."),
    OpenApiParameter("request", OpenApiTypes.INT, description="Only deliveries about this eviction request."),
    OpenApiParameter("event", OpenApiTypes.STR, enum=Event.values, description="Only this event."),
    OpenApiParameter("cursor", OpenApiTypes.STR, description="From `next` or `previous` of the page before."),
    OpenApiParameter("limit", OpenApiTypes.INT, description=f"Rows a page (default 100; at most {MAX_LIMIT})."),
    OpenApiParameter(
        "offset", OpenApiTypes.INT, description="Page-number style instead of a cursor (answers with `count`)."
    ),
]
DEFAULT_LIMIT = 100


# many=False: the page is the whole answer; the schema must not wrap it in the default pagination envelope.
@extend_schema_serializer(many=False)
class DeliveryPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(required=False, help_text="Only with `offset`: how many deliveries match.")
    next = serializers.URLField(allow_null=True, help_text="The next page; null on the last one.")
    previous = serializers.URLField(allow_null=True, help_text="The page before; null on the first one.")
    results = NotificationDeliverySerializer(many=True)


class NotificationDeliveryViewSet(viewsets.GenericViewSet):
    """The delivery log, newest first: every notification, its attempts and the last error in words."""

    serializer_class = NotificationDeliverySerializer
    permission_classes = [IsAuthenticated, CanViewDeliveries]
    http_method_names = ["get", "head", "options"]

    def get_queryset(self) -> QuerySet[NotificationDelivery]:
        return delivery_list(DeliveryFilters())

    @extend_schema(
        parameters=_DELIVERY_FILTERS,
        responses={200: DeliveryPageSerializer},
        description="The delivery log, newest first, a page at a time: follow `next` and `previous` (a signed "
        "cursor; an edited one is a 400 on `cursor`). With `offset` the older page-number style answers instead, "
        "with `count`.",
    )
    def list(self, request: Request) -> Response:
        incoming = DeliveryFiltersSerializer(data=request.query_params.dict())
        incoming.is_valid(raise_exception=True)
        rows = delivery_list(incoming.to_filters())
        data = incoming.validated_data
        if "offset" in data:
            offset_page = self.paginate_queryset(rows)
            assert offset_page is not None  # LimitOffsetPagination pages whenever an offset is given
            return self.get_paginated_response(NotificationDeliverySerializer(offset_page, many=True).data)
        page = cursor_page(rows, DELIVERY_ORDER, data.get("cursor", ""), data.get("limit", DEFAULT_LIMIT))
        return Response(keyset_answer(request, page, NotificationDeliverySerializer(page.rows, many=True).data))


def register(router: DefaultRouter) -> None:
    """Add this app's viewsets to the /api/v1/ router."""
    router.register("notification-endpoints", NotificationEndpointViewSet, basename="notification-endpoint")
    router.register("notification-deliveries", NotificationDeliveryViewSet, basename="notification-delivery")
