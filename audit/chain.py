"""The hash chain: canonical form of an event, its HMAC, and verification of a run of events."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64


def new_digest() -> Any:
    """A running SHA-256 over the stored (sequence, prev_hash, hash) of each event, in chain order.

    The checkpoint keeps it for the verified run, so a later check re-reads three short columns instead of recomputing
    every HMAC to notice that a stored hash or link below the checkpoint changed, or that a row went missing.
    """
    return hashlib.sha256()


def digest_line(sequence: int, prev_hash: str, hash_: str) -> bytes:
    return f"{sequence}:{prev_hash}:{hash_}\n".encode()


# The fields an event's HMAC covers, in the order hashed_fields() takes them.
HASHED_FIELDS = (
    "sequence",
    "created_at",
    "actor_type",
    "actor_id",
    "actor_name",
    "action",
    "object_type",
    "object_id",
    "cluster_id",
    "cluster_name",
    "request_id",
    "details",
)
# Every stored column of an event: what a chain walk reads and an export writes (with the key, an exported run of
# events verifies offline).
EVENT_COLUMNS = ("id", *HASHED_FIELDS, "prev_hash", "hash")


def canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def hashed_fields(
    *,
    sequence: int,
    created_at: datetime,
    actor_type: str,
    actor_id: int | None,
    actor_name: str,
    action: str,
    object_type: str,
    object_id: str,
    cluster_id: int | None,
    cluster_name: str,
    request_id: str,
    details: Any,
) -> dict[str, Any]:
    return {
        "sequence": sequence,
        "created_at": created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_type": actor_type,
        "actor_id": actor_id,
        "actor_name": actor_name,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "cluster_id": cluster_id,
        "cluster_name": cluster_name,
        "request_id": request_id,
        "details": details,
    }


def event_hash(key: str, fields: dict[str, Any], prev_hash: str) -> str:
    message = canonical({"event": fields, "prev_hash": prev_hash})
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    last_sequence: int | None
    broken_sequence: int | None = None
    problem: str = ""
    broken_id: int | None = None  # the database id of the first event that does not verify
    last_hash: str = ""  # the hash of the last event verified, for a checkpoint to continue from


def event_fields(event: Any) -> dict[str, Any]:
    return hashed_fields(**{name: getattr(event, name) for name in HASHED_FIELDS})


def verify(
    key: str,
    events: Iterable[Any],
    *,
    start_hash: str | None = None,
    start_sequence: int | None = None,
    digest: Any = None,
) -> Verification:
    """Walk events in sequence order from start_sequence, the first continuing from start_hash.

    start_hash is the genesis hash for a chain that starts at #1, the anchor after retention, or a checkpoint's hash.
    digest (from new_digest) is fed each event that verifies, so it ends covering exactly the verified run.
    """
    expected_prev = start_hash
    expected_sequence = start_sequence
    checked = 0
    last: int | None = None
    last_hash = ""
    for event in events:
        pk = getattr(event, "id", None)
        if expected_sequence is not None and event.sequence != expected_sequence:
            missing = f"#{expected_sequence}" + (
                f" to #{event.sequence - 1}" if event.sequence > expected_sequence + 1 else ""
            )
            problem = f"sequence gap: expected #{expected_sequence}, events {missing} are missing"
            if event.sequence < expected_sequence:
                problem = f"sequence out of order: expected #{expected_sequence}"
            return Verification(False, checked, last, event.sequence, problem, pk, last_hash)
        if expected_prev is not None and event.prev_hash != expected_prev:
            problem = "prev_hash does not match the previous event"
            return Verification(False, checked, last, event.sequence, problem, pk, last_hash)
        if not hmac.compare_digest(event_hash(key, event_fields(event), event.prev_hash), event.hash):
            problem = "hash does not match the event's content"
            return Verification(False, checked, last, event.sequence, problem, pk, last_hash)
        if digest is not None:
            digest.update(digest_line(event.sequence, event.prev_hash, event.hash))
        expected_prev = event.hash
        expected_sequence = event.sequence + 1
        checked += 1
        last = event.sequence
        last_hash = event.hash
    return Verification(True, checked, last, last_hash=last_hash)
