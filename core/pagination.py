"""The API's two page styles: signed keyset cursors (core.keyset) for history lists, and the page-number style
(limit/offset) for short lists, with bounds the database can take."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination, LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from core.ids import OFFSET_MAX
from core.keyset import InvalidCursor, KeysetPage, Order, keyset_page

MAX_LIMIT = 500
CURSOR_PARAM = "cursor"


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """`limit` at most 500 (a larger one gives 500, as the framework's max_limit does) and `offset` at most 10**12:
    the framework's own has no bound on either, and LIMIT + OFFSET past 64 bits was a database error, a 500."""

    max_limit = MAX_LIMIT

    def get_offset(self, request: Any) -> int:
        offset = super().get_offset(request)
        if offset > OFFSET_MAX:
            raise ValidationError({"offset": [f"Ensure this value is less than or equal to {OFFSET_MAX}."]})
        return offset


def keyset_answer(request: Request, page: KeysetPage[Any], results: Any) -> dict[str, Any]:
    """A history list's answer: `next` and `previous` are this URL with the page's cursors (null at either end)."""
    url = request.build_absolute_uri()

    def link(cursor: str) -> str | None:
        return replace_query_param(url, CURSOR_PARAM, cursor) if cursor else None

    return {"next": link(page.next_cursor), "previous": link(page.prev_cursor), "results": results}


def cursor_page(
    queryset: QuerySet[Any], order: Order, cursor: str, size: int, max_size: int = MAX_LIMIT
) -> KeysetPage[Any]:
    """keyset_page for the API: a cursor this server did not sign for this list and order is a 400 naming `cursor`."""
    try:
        return keyset_page(queryset, order, cursor, size, max_size)
    except InvalidCursor as error:
        raise ValidationError({CURSOR_PARAM: [str(error)]}) from None


class KeysetPagination(BasePagination):
    """Signed keyset cursor pages in `order`, answering {"next", "previous", "results"}. `limit` asks for a page size
    up to max_page_size (larger gives the most; one that is not a positive whole number gives page_size)."""

    order: Order
    page_size = 100
    max_page_size = MAX_LIMIT
    limit_query_param = "limit"

    def get_limit(self, request: Request) -> int:
        raw = request.query_params.get(self.limit_query_param, "")
        if raw.isascii() and raw.isdigit() and len(raw) < 19 and int(raw) > 0:
            return int(raw)
        return self.page_size

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        self.request = request
        cursor = request.query_params.get(CURSOR_PARAM, "")
        self.page = cursor_page(queryset, self.order, cursor, self.get_limit(request), self.max_page_size)
        return self.page.rows

    def get_paginated_response(self, data: Any) -> Response:
        return Response(keyset_answer(self.request, self.page, data))

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        def link(what: str) -> dict[str, Any]:
            return {"type": "string", "nullable": True, "format": "uri", "description": what}

        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": link("The next page; null on the last one."),
                "previous": link("The page before; null on the first one."),
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": CURSOR_PARAM,
                "required": False,
                "in": "query",
                "description": "From `next` or `previous` of the page before (signed; an edited one is a 400).",
                "schema": {"type": "string"},
            },
            {
                "name": self.limit_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows a page, 1 to {self.max_page_size} (default {self.page_size}).",
                "schema": {"type": "integer"},
            },
        ]
