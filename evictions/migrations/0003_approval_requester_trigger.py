"""The database refuses a vote whose recorded requester is not the requester of what is voted on.

With the check constraint approver <> requester, this makes self-approval impossible even for code that bypasses
the services: the requester column cannot be filled with anyone but the real requester.
"""

from django.db import migrations

PG_SQL = """
CREATE OR REPLACE FUNCTION evictions_approval_requester_matches() RETURNS trigger AS $$
DECLARE
    expected integer;
BEGIN
    IF NEW.pod_id IS NULL THEN
        SELECT requester_id INTO expected FROM evictions_evictionrequest WHERE id = NEW.request_id;
    ELSE
        SELECT delete_requested_by_id INTO expected FROM evictions_podeviction WHERE id = NEW.pod_id;
    END IF;
    IF expected IS NULL OR NEW.requester_id <> expected THEN
        RAISE EXCEPTION 'an approval must name the real requester (%), not %', expected, NEW.requester_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER evictions_approval_requester_matches
    BEFORE INSERT OR UPDATE ON evictions_approval
    FOR EACH ROW EXECUTE FUNCTION evictions_approval_requester_matches();
"""
PG_DROP = """
DROP TRIGGER IF EXISTS evictions_approval_requester_matches ON evictions_approval;
DROP FUNCTION IF EXISTS evictions_approval_requester_matches();
"""
SQLITE_CONDITION = """
    (NEW.pod_id IS NULL AND NEW.requester_id IS NOT
        (SELECT requester_id FROM evictions_evictionrequest WHERE id = NEW.request_id))
    OR (NEW.pod_id IS NOT NULL AND NEW.requester_id IS NOT
        (SELECT delete_requested_by_id FROM evictions_podeviction WHERE id = NEW.pod_id))
"""
SQLITE_SQL = [
    f"""CREATE TRIGGER evictions_approval_requester_{op.lower()} BEFORE {op} ON evictions_approval
    WHEN {SQLITE_CONDITION}
    BEGIN SELECT RAISE(ABORT, 'an approval must name the real requester'); END;"""
    for op in ("INSERT", "UPDATE")
]


def add_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_SQL, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_SQL:
            schema_editor.execute(statement, params=None)


def drop_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_DROP, params=None)
    elif vendor == "sqlite":
        for op in ("insert", "update"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS evictions_approval_requester_{op}", params=None)


class Migration(migrations.Migration):
    dependencies = [("evictions", "0002_approvals_windows")]

    operations = [migrations.RunPython(add_trigger, drop_trigger)]
