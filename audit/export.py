"""Audit exports as CSV or a JSON array, produced row by row so a million events never sit in memory at once."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from audit.chain import EVENT_COLUMNS
from audit.models import AuditEvent

FORMATS = ("csv", "json")
# Every column, hashes included (audit.chain.EVENT_COLUMNS): with the HMAC key, exported events verify offline.
COLUMNS = EVENT_COLUMNS
FETCH_CHUNK = 2000  # rows per round trip (PostgreSQL: per FETCH from the server-side cursor)
ROWS_PER_CHUNK = 500  # rows per piece of the response body
_CREATED = COLUMNS.index("created_at")


def export_rows(events: QuerySet[AuditEvent]) -> Iterator[tuple[Any, ...]]:
    """The events' columns as tuples, streamed from the database (a server-side cursor on PostgreSQL).

    details comes as the database's JSON text: parsing it only to write it out again would halve the export rate.
    """
    columns = [name if name != "details" else "details_json" for name in COLUMNS]
    events = events.annotate(details_json=Cast("details", TextField()))
    return events.values_list(*columns).iterator(chunk_size=FETCH_CHUNK)


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def csv_chunks(rows: Iterable[tuple[Any, ...]], *, rows_per_chunk: int = ROWS_PER_CHUNK) -> Iterator[str]:
    """A header, then the rows in pieces of rows_per_chunk; details as compact JSON in one cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    pending = 1
    for row in rows:
        values = list(row)
        values[_CREATED] = _timestamp(values[_CREATED])
        writer.writerow(values)
        pending += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if buffer.tell():
        yield buffer.getvalue()


def json_chunks(rows: Iterable[tuple[Any, ...]], *, rows_per_chunk: int = ROWS_PER_CHUNK) -> Iterator[str]:
    """One JSON array, one object a line, written as the rows arrive: `[`, the objects separated by commas, `]`."""
    parts: list[str] = ["[\n"]
    first = True
    for row in rows:
        item = dict(zip(COLUMNS, row, strict=True))
        item["created_at"] = _timestamp(item["created_at"])
        details = item.pop("details") or "{}"  # already JSON text: spliced in as it is
        text = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        parts.append(("" if first else ",\n") + text[:-1] + ',"details":' + details + "}")
        first = False
        if len(parts) >= rows_per_chunk:
            yield "".join(parts)
            parts = []
    parts.append("\n]\n")
    yield "".join(parts)


def chunks(fmt: str, rows: Iterable[tuple[Any, ...]]) -> Iterator[str]:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use csv or json")
    return csv_chunks(rows) if fmt == "csv" else json_chunks(rows)


def content_type(fmt: str) -> str:
    return "text/csv; charset=utf-8" if fmt == "csv" else "application/json"


def file_name(fmt: str, now: datetime) -> str:
    return f"audit-{now.astimezone(UTC):%Y%m%d-%H%M%S}.{fmt}"


class _Counted:
    """Counts the rows that pass through, for the retention command's check and report."""

    def __init__(self, rows: Iterable[tuple[Any, ...]]) -> None:
        self.rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for row in self.rows:
            self.count += 1
            yield row


def write_export(path: Path, events: QuerySet[AuditEvent], fmt: str) -> tuple[int, str]:
    """Stream events into path (written beside it first, then renamed, so a half file never has the name).

    Returns the number of rows and the file's SHA-256.
    """
    counted = _Counted(export_rows(events))
    digest = hashlib.sha256()
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8", newline="") as out:
        for piece in chunks(fmt, counted):
            out.write(piece)
            digest.update(piece.encode("utf-8"))
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)
    return counted.count, digest.hexdigest()
