"""REST API of the audit log: search with cursor pages, and the same search exported as a streamed file."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import require_perm
from audit import export
from audit.forms import AuditSearchForm
from audit.models import AuditEvent
from audit.selectors import AUDIT_ORDER, AuditFilters, audit_search
from audit.views import VIEW, streamed_export
from core.pagination import KeysetPagination

# The framework's own query parameters, accepted beside the filters.
FRAMEWORK_PARAMS = {"cursor", "limit", "format"}


class CanViewAudit(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        require_perm(request.user, VIEW)  # raises with the role needed
        return True


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = list(export.COLUMNS)
        read_only_fields = fields


class AuditCursorPagination(KeysetPagination):
    """Signed keyset pages by sequence, newest first (core.keyset): the `next` link carries a cursor, never an
    offset; an edited cursor is a 400 naming `cursor`."""

    order = AUDIT_ORDER
    page_size = 100
    max_page_size = 1000


def parse_filters(request: Request) -> AuditFilters:
    params = request.query_params
    form = AuditSearchForm(params)
    unknown = sorted(set(params) - set(form.fields) - FRAMEWORK_PARAMS)
    errors: dict[str, list[str]] = {name: ["Unknown field."] for name in unknown}
    if not form.is_valid():
        errors.update({name: [str(m) for m in messages] for name, messages in form.errors.items()})
    if errors:
        raise ValidationError(errors)
    return form.filters()


FILTER_PARAMETERS = [
    OpenApiParameter("actor", str, description="The actor's name exactly (a username, or system:<component>)."),
    OpenApiParameter("action", str, description="Actions starting with this, e.g. `pod.` or `request.approve`."),
    OpenApiParameter("cluster", str, description="A cluster's id, or its name at the time of the event."),
    OpenApiParameter(
        "object_type",
        str,
        description="`request`, `pod`, `cluster`, or an app label such as `evictions.evictionrequest`.",
    ),
    OpenApiParameter("object_id", str, description="The object's id; needs object_type."),
    OpenApiParameter("request", int, description="An eviction request's id: its events and its pods' events."),
    OpenApiParameter("since", str, description="From this time (ISO 8601; UTC unless zoned; a date is its start)."),
    OpenApiParameter("until", str, description="Before this time (a date means the end of that day)."),
    OpenApiParameter("q", str, description="Free text (3+ characters) in action, actor, object, cluster and details."),
]


class AuditEventList(generics.GenericAPIView):
    permission_classes = [CanViewAudit]
    serializer_class = AuditEventSerializer
    pagination_class = AuditCursorPagination
    queryset = AuditEvent.objects.all()

    @extend_schema(parameters=FILTER_PARAMETERS, responses={200: AuditEventSerializer(many=True)})
    def get(self, request: Request) -> Response:
        """Audit events matching the filters, newest first, in cursor pages (`next` / `previous` links)."""
        events = audit_search(parse_filters(request))
        page = self.paginate_queryset(events)
        return self.get_paginated_response(AuditEventSerializer(page, many=True).data)


class AuditExport(APIView):
    permission_classes = [CanViewAudit]

    @extend_schema(
        parameters=FILTER_PARAMETERS,
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/json"): {"type": "array", "items": {"type": "object", "additionalProperties": {}}},
        },
        description="The whole search as a file, streamed: CSV with a header row, or one JSON array. Columns as in "
        "the list, details as JSON; hashes included so that the rows can be verified offline with the key.",
    )
    def get(self, request: Request, fmt: str) -> HttpResponseBase:
        if fmt not in export.FORMATS:
            raise NotFound("Export as export.csv or export.json.")
        return streamed_export(parse_filters(request), fmt)
