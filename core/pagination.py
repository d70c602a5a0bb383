"""The API's page-number style pagination, with bounds the database can take."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

from core.ids import OFFSET_MAX

MAX_LIMIT = 500


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """`limit` at most 500 (a larger one gives 500, as the framework's max_limit does) and `offset` at most 10**12:
    the framework's own has no bound on either, and LIMIT + OFFSET past 64 bits was a database error, a 500."""

    max_limit = MAX_LIMIT

    def get_offset(self, request: Any) -> int:
        offset = super().get_offset(request)
        if offset > OFFSET_MAX:
            raise ValidationError({"offset": [f"Ensure this value is less than or equal to {OFFSET_MAX}."]})
        return offset
