"""Keyset pages over any model (users here, an app-free table): forward and back, equal sort values, and the cursors
they hand out, which belong to one list and one sort order and are refused when edited or not signed here."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.keyset import InvalidCursor, Order, decode_cursor, encode_cursor, keyset_page

T0 = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
ORDERS = {
    "newest": Order("newest", "Newest first", "date_joined", True),
    "oldest": Order("oldest", "Oldest first", "date_joined", False),
}
BY_ID = Order("by_id", "Newest id first", "id", True, "int")


def users():
    return get_user_model().objects.all()


@pytest.fixture
def many(db):
    """25 users, joined in groups of five at the same instant: the id must break the ties."""
    model = get_user_model()
    return [model.objects.create(username=f"u{n}", date_joined=T0 + timedelta(minutes=n // 5)) for n in range(25)]


def _walk(order, size):
    pages, cursor = [], ""
    while True:
        page = keyset_page(users(), order, cursor, size)
        pages.append(page)
        if not page.next_cursor:
            return pages
        cursor = page.next_cursor


@pytest.mark.parametrize("size", [1, 4, 5, 7, 25, 30])
@pytest.mark.parametrize("order", ["newest", "oldest"])
def test_keyset_pages_forward_visit_every_row_once_in_order_despite_equal_timestamps(many, order, size):
    pages = _walk(ORDERS[order], size)
    seen = [r.pk for page in pages for r in page.rows]
    expected = sorted(
        many, key=lambda r: (r.date_joined, r.pk), reverse=ORDERS[order].descending
    )  # same tie-break as the order
    assert seen == [r.pk for r in expected]
    assert pages[0].prev_cursor == "" and all(p.prev_cursor for p in pages[1:])
    assert all(len(p.rows) == size for p in pages[:-1])


@pytest.mark.parametrize("order", ["newest", "oldest"])
def test_keyset_pages_back_give_the_same_pages(many, order):
    pages = _walk(ORDERS[order], 4)
    for earlier, later in itertools.pairwise(pages):
        back = keyset_page(users(), ORDERS[order], later.prev_cursor, 4)
        assert [r.pk for r in back.rows] == [r.pk for r in earlier.rows]
        assert back.next_cursor
        assert bool(back.prev_cursor) == (earlier is not pages[0])


def test_a_page_cursor_belongs_to_its_sort_order(many):
    page = keyset_page(users(), ORDERS["newest"], "", 5)
    with pytest.raises(InvalidCursor):
        keyset_page(users(), ORDERS["oldest"], page.next_cursor, 5)


def test_a_page_cursor_belongs_to_its_list(many):
    cursor = keyset_page(users(), ORDERS["newest"], "", 5).next_cursor
    # The same order by name: only the list (the model's label) differs.
    with pytest.raises(InvalidCursor):
        keyset_page(Group.objects.all(), ORDERS["newest"], cursor, 5)
    with pytest.raises(InvalidCursor):
        decode_cursor(ORDERS["newest"], cursor, "auth.group")
    assert decode_cursor(ORDERS["newest"], cursor, "auth.user")[0] == "next"


@pytest.mark.parametrize(
    "cursor",
    ["junk", "eyJvIjoibmV3ZXN0In0", "a" * 300, "%%%", "eyJ"],
)
def test_a_cursor_not_signed_here_is_refused(many, cursor):
    with pytest.raises(InvalidCursor):
        keyset_page(users(), ORDERS["newest"], cursor, 5)


def test_an_edited_cursor_is_refused(many):
    cursor = keyset_page(users(), ORDERS["newest"], "", 5).next_cursor
    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    with pytest.raises(InvalidCursor):
        keyset_page(users(), ORDERS["newest"], flipped, 5)


def test_a_signed_cursor_round_trips(many):
    row = many[3]
    cursor = encode_cursor(ORDERS["oldest"], row, "next")
    page = keyset_page(users(), ORDERS["oldest"], cursor, 100)
    assert row.pk not in [r.pk for r in page.rows]
    assert len(page.rows) == 21


def test_an_integer_order_pages_both_ways(many):
    first = keyset_page(users(), BY_ID, "", 10)
    second = keyset_page(users(), BY_ID, first.next_cursor, 10)
    assert [r.pk for r in first.rows + second.rows] == sorted((r.pk for r in many), reverse=True)[:20]
    assert [r.pk for r in keyset_page(users(), BY_ID, second.prev_cursor, 10).rows] == [r.pk for r in first.rows]


def test_the_page_size_is_bounded(many):
    assert len(keyset_page(users(), BY_ID, "", 0).rows) == 1
    assert len(keyset_page(users(), BY_ID, "", 100, max_size=7).rows) == 7
