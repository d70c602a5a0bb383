"""The audit chain: recorded with each change, append-only, verifiable, and tamper-evident."""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from audit.models import AppendOnlyError, AuditEvent
from audit.selectors import audit_chain_verify
from audit.services import System, audit_record


def _record(n: int, **details) -> list[AuditEvent]:
    events = []
    for i in range(n):
        with transaction.atomic():
            events.append(audit_record(actor=System("test"), action="test.event", details={"i": i, **details}))
    return events


def _tamper(sql: str, params: list) -> None:
    """Change a row behind the model's back, as someone with database access would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")  # bypasses the append-only trigger
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = DEFAULT")


@pytest.mark.django_db
def test_audit_verify_passes_on_a_fresh_database():
    call_command("audit_verify")  # raises CommandError on failure


@pytest.mark.django_db
def test_events_link_each_to_the_previous_hash():
    first, second, third = _record(3)
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert [first.sequence + 1, first.sequence + 2] == [second.sequence, third.sequence]
    assert audit_chain_verify().ok


@pytest.mark.django_db
def test_audit_verify_names_the_altered_event_and_exits_1(capsys):
    events = _record(4)
    target = events[2]
    _tamper("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["forged.action", target.pk])
    with pytest.raises(CommandError) as raised:
        call_command("audit_verify")
    assert raised.value.returncode == 1
    assert f"#{target.sequence}" in str(raised.value)
    assert "content" in str(raised.value)


@pytest.mark.django_db
def test_deleting_an_event_behind_the_models_back_breaks_the_chain_at_the_next_one():
    events = _record(4)
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    result = audit_chain_verify()
    assert not result.ok
    assert result.broken_sequence == events[2].sequence


@pytest.mark.django_db
def test_changing_details_behind_the_models_back_is_detected():
    events = _record(2, who="alice")
    _tamper("UPDATE audit_auditevent SET details = %s WHERE id = %s", ['{"i": 0, "who": "mallory"}', events[0].pk])
    assert audit_chain_verify().broken_sequence == events[0].sequence


@pytest.mark.django_db
def test_model_layer_refuses_updates_and_deletes():
    (event,) = _record(1)
    event.action = "changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="changed")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()


@pytest.mark.django_db
def test_postgresql_trigger_refuses_raw_update_and_delete():
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL only (CI runs this with DATABASE_URL)")
    from django.db import DatabaseError

    (event,) = _record(1)
    for sql in ("UPDATE audit_auditevent SET action = 'x' WHERE id = %s", "DELETE FROM audit_auditevent WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])


@pytest.mark.django_db(transaction=True)
def test_audit_record_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_record(actor=System("test"), action="x")
    assert not AuditEvent.objects.filter(action="x").exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_the_chain_linear():
    def write(n: int) -> None:
        try:
            for i in range(n):
                with transaction.atomic():
                    audit_record(actor=System("writer"), action="test.concurrent", details={"i": i})
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(15,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = audit_chain_verify()
    assert result.ok, result
    assert AuditEvent.objects.filter(action="test.concurrent").count() == 60
    sequences = list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
