"""Row ids as clients send them (a path, a query parameter, a JSON body): a whole number the database can hold,
or a clear error. Without this a number past SQLite's or PostgreSQL's 64-bit range reached the query and was a 500."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.db.models import Model
from rest_framework import serializers

ID_MAX = 2**63 - 1  # BigAutoField, on SQLite and PostgreSQL alike
# In a path: at most 18 digits, which always fit; no row will ever have a larger id.
ID_PATH_REGEX = "[0-9]{1,18}"
# Offset pagination skips rows in SQL: LIMIT and OFFSET must add up within 64 bits.
OFFSET_MAX = 10**12
_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII only: str.isdigit() also takes '²', which int() refuses


def parse_id(value: Any) -> int | None:
    """The id meant, or None for anything that is not one: 0, signs, floats, booleans, other digits, overflow."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        return None
    return number if 1 <= number <= ID_MAX else None


class IdConverter:
    """The `<id:pk>` path converter: a row id, or no match (so a 404), never an integer the database refuses."""

    regex = ID_PATH_REGEX

    def to_python(self, value: str) -> int:
        number = parse_id(value)
        if number is None:
            raise ValueError(value)
        return number

    def to_url(self, value: Any) -> str:
        return str(value)


class IdField(serializers.IntegerField):
    """A row id in a query or body: 1 to 2**63-1, else a 400 naming the field."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(**kwargs)


class IdRelatedField(serializers.PrimaryKeyRelatedField):
    """PrimaryKeyRelatedField that takes only a whole number in range: DRF's own passed 1.5 on as 1 and
    99999999999999999999 on to the database."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if parse_id(data) is None:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


class IdFormField(forms.IntegerField):
    """A row id in a page's filter form: 1 to 2**63-1, else a form error."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(**kwargs)


class IdModelChoiceField(forms.ModelChoiceField):
    """ModelChoiceField whose lookup never sees an id the database cannot hold (Django lets OverflowError out)."""

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values or isinstance(value, Model):
            return super().to_python(value)
        if parse_id(value if isinstance(value, int) else str(value)) is None:
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)
