"""PostgreSQL: let the retention command (and only it) delete old audit rows; index the free-text search.

The append-only trigger now allows a DELETE when the transaction has set `drainboard.audit_retention` to 'on'
(SET LOCAL, so it ends with the transaction). UPDATE is refused always. A trigram index over the searched text
keeps free-text search fast at a million events.
"""

from django.db import migrations

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('drainboard.audit_retention', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only (% refused on audit_auditevent)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""
OLD_TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused on audit_auditevent)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""
# The same expression as audit.selectors.SEARCH_TEXT_SQL, so the planner matches the index.
SEARCH_INDEX_SQL = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS audit_event_search_trgm ON audit_auditevent USING gin (
    (action || ' ' || actor_name || ' ' || object_type || ' ' || object_id || ' ' || cluster_name || ' '
     || details::text) gin_trgm_ops
);
"""
DROP_SEARCH_INDEX_SQL = "DROP INDEX IF EXISTS audit_event_search_trgm;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL, params=None)
        schema_editor.execute(SEARCH_INDEX_SQL, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SEARCH_INDEX_SQL, params=None)
        schema_editor.execute(OLD_TRIGGER_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_verification_checkpoint")]

    operations = [migrations.RunPython(forwards, backwards)]
