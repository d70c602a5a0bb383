"""Keyset (cursor) pages over any queryset: each page starts from an index position instead of counting rows (no
OFFSET), so a page costs the same however deep one pages. A cursor is signed and names its list (the model's label)
and its sort order, so an edited cursor, or one from another list or order, is refused."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from django.core import signing
from django.db.models import Model, Q, QuerySet
from django.utils.dateparse import parse_datetime

M = TypeVar("M", bound=Model)

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# Unchanged since the cursors were the request history's own, so that links clients kept still work.
_SALT = "drainboard.history.cursor"


class InvalidCursor(ValueError):
    """A cursor that was not made by this server for this sort order (edited, truncated or from another list)."""

    message = (
        "This page link is not valid (it was changed or belongs to another sort order); start from the first page."
    )


@dataclass(frozen=True)
class Order:
    """A sort order: one field, then the id as the tie-breaker, both in the same direction."""

    name: str
    label: str
    field: str
    descending: bool
    kind: str = "datetime"  # how the field's value is written in a cursor: datetime, float or int

    def value(self, row: Model) -> Any:
        return getattr(row, self.field)


@dataclass(frozen=True)
class KeysetPage(Generic[M]):
    rows: list[M]
    next_cursor: str  # "" when this is the last page
    prev_cursor: str  # "" when this is the first page


def encode_cursor(order: Order, row: Model, direction: str) -> str:
    value = order.value(row)
    written = value.isoformat() if isinstance(value, datetime) else value
    # "l" names the list (its model), so a cursor from the requests list is refused by the pod evictions list.
    payload = json.dumps(
        {"l": row._meta.label_lower, "o": order.name, "d": direction, "v": written, "id": row.pk}, separators=(",", ":")
    )
    signed = signing.Signer(salt=_SALT).sign(payload)
    return base64.urlsafe_b64encode(signed.encode()).decode().rstrip("=")


def _number(raw: Any, kind: str) -> float | int | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    if kind == "int":
        return raw if isinstance(raw, int) else None
    return float(raw)


def decode_cursor(order: Order, cursor: str, listing: str) -> tuple[str, Any, int]:
    """The direction ("next" or "prev"), the sort value and the id written in a cursor this server signed for this
    order of this listing (a model's label, e.g. evictions.podeviction)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        signed = base64.urlsafe_b64decode(padded.encode()).decode()
        data = json.loads(signing.Signer(salt=_SALT).unsign(signed))
        direction, raw, row_id = data["d"], data["v"], data["id"]
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, signing.BadSignature):
        raise InvalidCursor(InvalidCursor.message) from None
    if (
        data.get("l") != listing
        or data.get("o") != order.name
        or direction not in ("next", "prev")
        or not isinstance(row_id, int)
    ):
        raise InvalidCursor(InvalidCursor.message)
    value: datetime | float | int | None
    if order.kind == "datetime":
        try:
            value = parse_datetime(raw) if isinstance(raw, str) else None
        except ValueError:
            value = None
    else:
        value = _number(raw, order.kind)
    if value is None:
        raise InvalidCursor(InvalidCursor.message)
    return direction, value, row_id


def _after(order: Order, value: Any, row_id: int, forward: bool) -> Q:
    """Rows strictly after (value, id) in the direction of travel. The bound on the field alone comes first so that
    the database starts its index scan there instead of filtering every row before it."""
    later = order.descending == forward  # walking towards smaller values
    op = "lt" if later else "gt"
    bound = "lte" if later else "gte"
    return Q(**{f"{order.field}__{bound}": value}) & (
        Q(**{f"{order.field}__{op}": value}) | Q(**{order.field: value, f"id__{op}": row_id})
    )


def keyset_page(
    queryset: QuerySet[M], order: Order, cursor: str = "", size: int = PAGE_SIZE, max_size: int = MAX_PAGE_SIZE
) -> KeysetPage[M]:
    """One page of rows in `order`, after (or before) the row a cursor names; cursors for the pages either side.

    Raises InvalidCursor for a cursor this server did not sign for this order of this list."""
    size = max(1, min(size, max_size))
    if order.kind == "float":  # rows without a value have no place in this order
        queryset = queryset.filter(**{f"{order.field}__isnull": False})
    direction, forward = "next", True
    if cursor:
        direction, value, row_id = decode_cursor(order, cursor, queryset.model._meta.label_lower)
        forward = direction == "next"
        queryset = queryset.filter(_after(order, value, row_id, forward))
    descending = order.descending == forward
    sign = "-" if descending else ""
    fetched = list(queryset.order_by(f"{sign}{order.field}", f"{sign}id")[: size + 1])
    more = len(fetched) > size
    rows = fetched[:size]
    if not forward:
        rows.reverse()
    if not rows:
        return KeysetPage(rows, "", "")
    if forward:
        has_next, has_prev = more, bool(cursor)
    else:
        has_next, has_prev = True, more
    return KeysetPage(
        rows,
        encode_cursor(order, rows[-1], "next") if has_next else "",
        encode_cursor(order, rows[0], "prev") if has_prev else "",
    )
