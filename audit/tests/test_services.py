"""The verification checkpoint and retention: incremental, naming a tampered row by id, anchored after removal."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.models import AppendOnlyError, AuditEvent, AuditVerification
from audit.selectors import audit_chain_verify
from audit.services import (
    RetentionRefused,
    System,
    audit_record,
    audit_retain,
    audit_verification_advance,
)
from audit.tests.test_chain import _record, _tamper


def _record_at(when, n: int, action: str) -> list[AuditEvent]:
    """Events recorded as if at `when`: the recording clock is patched, so the chain stays valid."""
    with mock.patch("audit.services.timezone.now", return_value=when):
        events = []
        for i in range(n):
            with transaction.atomic():
                events.append(audit_record(actor=System("test"), action=action, details={"i": i}))
        return events


@pytest.mark.django_db
def test_checkpoint_advances_in_bounded_steps_and_continues_where_it_stopped():
    _record(5)
    state = audit_verification_advance(limit=2)
    assert (state.verified_sequence, state.verified_count, state.broken) == (2, 2, False)
    state = audit_verification_advance(limit=2)
    assert (state.verified_sequence, state.verified_count) == (4, 4)
    state = audit_verification_advance()
    assert (state.verified_sequence, state.verified_count) == (5, 5)
    _record(1)
    assert audit_verification_advance().verified_sequence == 6
    assert AuditVerification.objects.get().checked_at is not None


@pytest.mark.django_db
def test_audit_verify_exits_1_naming_the_tampered_row_by_id_and_the_page_shows_it(admin_client):
    events = _record(4)
    target = events[2]
    _tamper("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["forged.action", target.pk])
    with pytest.raises(CommandError) as raised:
        call_command("audit_verify")
    assert raised.value.returncode == 1
    assert f"event id {target.pk} (sequence #{target.sequence})" in str(raised.value)
    state = AuditVerification.objects.get()
    assert (state.broken_event_id, state.verified_sequence) == (target.pk, events[1].sequence)

    html = admin_client.get("/audit/").content.decode()
    assert f"event id {target.pk}" in html
    assert f"sequence #{target.sequence}" in html
    assert "does not match the event" in html


@pytest.mark.django_db
def test_a_full_run_finds_tampering_behind_the_checkpoint(capsys):
    events = _record(3)
    call_command("audit_verify")
    assert "3 events, up to #3" in capsys.readouterr().out
    _tamper("UPDATE audit_auditevent SET actor_name = %s WHERE id = %s", ["mallory", events[0].pk])
    with pytest.raises(CommandError, match=f"event id {events[0].pk} "):
        call_command("audit_verify")


@pytest.mark.django_db
def test_removed_tail_is_reported_against_the_chain_head():
    events = _record(3)
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[2].pk])
    result = audit_chain_verify()
    assert not result.ok
    assert result.broken_sequence == 3
    assert "missing" in result.problem


@pytest.mark.django_db
def test_removed_first_events_without_an_anchor_are_a_break():
    events = _record(3)
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[0].pk])
    state = audit_verification_advance()
    assert state.broken_event_id == events[1].pk
    assert "#1 are missing" in state.problem


@pytest.mark.django_db
def test_a_break_clears_once_the_row_is_restored():
    events = _record(3)
    _tamper("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["x", events[1].pk])
    assert audit_verification_advance().broken
    _tamper("UPDATE audit_auditevent SET action = %s WHERE id = %s", [events[1].action, events[1].pk])
    state = audit_verification_advance()
    assert not state.broken
    assert state.verified_sequence == 3


# ---- retention ------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_retention_exports_then_removes_old_events_and_the_chain_still_verifies(tmp_path):
    old = _record_at(timezone.now() - timedelta(days=100), 4, action="test.old")
    new = _record_at(timezone.now() - timedelta(days=1), 2, action="test.new")
    path = tmp_path / "old.csv"

    result = audit_retain(
        actor=System("retention"), older_than=timezone.now() - timedelta(days=30), export_to=path, fmt="csv"
    )

    assert result.removed == 4
    assert result.first_kept_sequence == new[0].sequence
    assert result.continues_from == old[-1].hash == new[0].prev_hash
    with path.open() as file:
        rows = list(csv.DictReader(file))
    assert [int(r["id"]) for r in rows] == [e.pk for e in old]
    assert [r["action"] for r in rows] == ["test.old"] * 4
    assert json.loads(rows[0]["details"]) == {"i": 0}
    assert not AuditEvent.objects.filter(action="test.old").exists()
    retention = AuditEvent.objects.get(action="audit.retention")
    assert retention.details["first_kept_sequence"] == new[0].sequence
    assert retention.details["export_sha256"] == result.export_sha256
    assert audit_chain_verify().ok
    state = audit_verification_advance(full=True)
    assert not state.broken
    assert (state.anchor_sequence, state.anchor_hash) == (new[0].sequence, old[-1].hash)
    call_command("audit_verify")
    assert not (tmp_path / "old.csv.partial").exists()


@pytest.mark.django_db
def test_retention_command_writes_json_and_reports(tmp_path, capsys):
    _record_at(timezone.now() - timedelta(days=10), 3, action="test.old")
    _record(1)
    path = tmp_path / "old.json"
    call_command("audit_retain", "--older-than", "5", "--export", str(path))
    exported = json.loads(path.read_text())
    assert [e["action"] for e in exported] == ["test.old"] * 3
    assert exported[0]["sequence"] == 1
    assert "removed 3 events" in capsys.readouterr().out
    call_command("audit_verify")


@pytest.mark.django_db
def test_retention_twice_moves_the_anchor(tmp_path):
    _record_at(timezone.now() - timedelta(days=50), 2, action="test.older")
    _record_at(timezone.now() - timedelta(days=20), 2, action="test.old")
    _record(1)
    audit_retain(
        actor=System("t"), older_than=timezone.now() - timedelta(days=40), export_to=tmp_path / "a.csv", fmt="csv"
    )
    audit_retain(
        actor=System("t"), older_than=timezone.now() - timedelta(days=10), export_to=tmp_path / "b.csv", fmt="csv"
    )
    assert audit_chain_verify().ok
    assert not audit_verification_advance(full=True).broken
    # The first retention event was itself old enough to go in the second run... or not: the chain holds either way.
    assert AuditEvent.objects.filter(action="audit.retention").exists()


@pytest.mark.django_db
def test_retention_refuses_when_the_chain_does_not_verify(tmp_path):
    old = _record_at(timezone.now() - timedelta(days=100), 3, action="test.old")
    _tamper("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["forged", old[1].pk])
    with pytest.raises(RetentionRefused, match=f"event id {old[1].pk}"):
        audit_retain(actor=System("t"), older_than=timezone.now(), export_to=tmp_path / "x.csv", fmt="csv")
    assert AuditEvent.objects.count() == 3


@pytest.mark.django_db
def test_a_forged_anchor_without_its_retention_event_is_a_break():
    events = _record(3)
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[0].pk])
    AuditVerification.objects.update_or_create(pk=1, defaults={"anchor_sequence": 2, "anchor_hash": events[0].hash})
    state = audit_verification_advance(full=True)
    assert state.broken
    assert "not recorded" in state.problem


@pytest.mark.django_db
def test_ordinary_deletes_are_still_refused_after_retention(tmp_path):
    _record_at(timezone.now() - timedelta(days=100), 2, action="test.old")
    (kept,) = _record(1)
    audit_retain(
        actor=System("t"), older_than=timezone.now() - timedelta(days=1), export_to=tmp_path / "x.csv", fmt="csv"
    )
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=kept.pk).delete()
    if connection.vendor != "postgresql":
        pytest.skip("the database trigger exists on PostgreSQL only")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [kept.pk])
    # The retention setting is transaction-local: a later transaction does not inherit it.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('drainboard.audit_retention', true)")
        assert cursor.fetchone()[0] in (None, "", "off")


@pytest.mark.django_db
def test_the_periodic_task_advances_the_checkpoint_and_is_scheduled(settings):
    from audit.tasks import verify_chain

    _record(3)
    verify_chain()
    assert AuditVerification.objects.get().verified_sequence == 3
    assert settings.CELERY_BEAT_SCHEDULE["audit-verify"]["task"] == "audit.tasks.verify_chain"


# ---- below the checkpoint: the digest of stored hashes, the daily whole-chain check ------------------------------


def _verified(n: int) -> list[AuditEvent]:
    """n events and a checkpoint at the last of them."""
    events = _record(n)
    state = audit_verification_advance()
    assert (state.verified_sequence, state.broken) == (events[-1].sequence, False)
    return events


@pytest.mark.django_db
def test_the_daily_task_recomputes_every_event_and_names_one_altered_below_the_checkpoint():
    from audit.tasks import verify_chain_full

    events = _verified(6)
    target = events[1]
    _tamper("UPDATE audit_auditevent SET details = %s WHERE id = %s", ['{"i": 99}', target.pk])
    _record(1)
    verify_chain_full()
    state = AuditVerification.objects.get()
    assert state.broken
    assert (state.broken_event_id, state.broken_sequence) == (target.pk, target.sequence)
    assert "content" in state.problem
    assert state.verified_sequence == events[0].sequence  # the last good event before it


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        "UPDATE audit_auditevent SET action = 'forged', hash = %s WHERE id = %s",  # content and its hash
        "UPDATE audit_auditevent SET hash = %s WHERE id = %s",  # the stored hash alone
    ],
    ids=["content-and-hash", "hash-only"],
)
def test_the_incremental_check_finds_a_changed_hash_below_the_checkpoint_by_its_digest(change):
    from audit.tasks import verify_chain

    events = _verified(6)
    target = events[2]
    _tamper(change, ["f" * 64, target.pk])
    _record(1)
    verify_chain()  # the periodic, incremental check
    state = AuditVerification.objects.get()
    assert state.broken
    assert (state.broken_event_id, state.broken_sequence) == (target.pk, target.sequence)
    assert state.scope == "fallback"  # the digest differed, so the whole chain was recomputed to name the row


@pytest.mark.django_db
def test_the_incremental_check_finds_a_row_removed_below_the_checkpoint():
    events = _verified(5)
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    state = audit_verification_advance()
    assert state.broken
    assert state.broken_event_id == events[2].pk
    assert "missing" in state.problem


@pytest.mark.django_db
def test_the_incremental_check_trusts_unchanged_stored_hashes_and_the_daily_check_does_not():
    """What each check catches (docs/RELIABILITY.md): content altered with its stored hash left as it was leaves the
    digest of stored hashes unchanged, so only recomputing the HMAC finds it — the daily whole-chain check."""
    events = _verified(5)
    _tamper("UPDATE audit_auditevent SET actor_name = %s WHERE id = %s", ["mallory", events[1].pk])
    incremental = audit_verification_advance()
    assert not incremental.broken
    assert incremental.scope == "new"
    full = audit_verification_advance(full=True)
    assert full.broken_event_id == events[1].pk
    assert full.scope == "full"


@pytest.mark.django_db
def test_the_checkpoint_keeps_a_digest_and_records_the_last_whole_chain_check():
    _record(3)
    state = audit_verification_advance(full=True)
    assert len(state.verified_digest) == 64
    assert (state.scope, state.full_verified_sequence, state.full_verified_count) == ("full", 3, 3)
    full_at = state.full_verified_at
    assert full_at is not None
    _record(2)
    state = audit_verification_advance()
    assert (state.scope, state.verified_sequence, state.verified_count) == ("new", 5, 5)
    assert (state.full_verified_at, state.full_verified_sequence) == (full_at, 3)  # not a whole-chain check


@pytest.mark.django_db
def test_retention_keeps_the_checkpoint_digest_valid_for_the_events_kept(tmp_path):
    _record_at(timezone.now() - timedelta(days=100), 3, action="test.old")
    _record(2)
    audit_retain(
        actor=System("t"), older_than=timezone.now() - timedelta(days=30), export_to=tmp_path / "x.csv", fmt="csv"
    )
    state = audit_verification_advance()
    assert not state.broken
    assert state.scope == "new"  # the digest over the kept events still matched: no whole-chain fallback


@pytest.mark.django_db
def test_the_beat_schedule_verifies_the_whole_chain_daily(settings):
    from celery.schedules import crontab

    entry = settings.CELERY_BEAT_SCHEDULE["audit-verify-full"]
    assert entry["task"] == "audit.tasks.verify_chain_full"
    schedule = entry["schedule"]
    assert isinstance(schedule, crontab)
    assert len(schedule.hour) == 1 and len(schedule.minute) == 1
    assert schedule.day_of_week == set(range(7)) and schedule.day_of_month == set(range(1, 32))
