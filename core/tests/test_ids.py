"""Row ids as clients send them: what is an id, and what is refused before it reaches the database."""

from __future__ import annotations

import pytest

from core.ids import ID_MAX, IdConverter, parse_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1),
        ("1", 1),
        ("42", 42),
        (ID_MAX, ID_MAX),
        (str(ID_MAX), ID_MAX),
        (ID_MAX + 1, None),
        (str(ID_MAX + 1), None),
        ("99999999999999999999999", None),
        (0, None),
        ("0", None),
        (-1, None),
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1.5", None),
        (1.5, None),
        (1.0, None),
        (True, None),
        (False, None),
        ("²", None),  # str.isdigit() says yes, int() says no
        ("١٢", None),  # Arabic-Indic digits: int() takes them, an id in a URL does not
        ("", None),
        (None, None),
        ([1], None),
    ],
)
def test_parse_id(value, expected):
    assert parse_id(value) == expected


def test_the_path_converter_refuses_what_is_not_an_id_so_the_route_does_not_match():
    converter = IdConverter()
    assert converter.to_python("7") == 7
    with pytest.raises(ValueError):
        converter.to_python("0")
    assert converter.to_url(7) == "7"
