"""PodEviction.budget: the one budget that covers a pod, from its plan.

On SQLite, adding a NOT NULL column rebuilds the table, which the approval triggers of 0003 refer to: they are
dropped for the rebuild and created again after it (PostgreSQL adds the column in place)."""

import importlib

from django.db import migrations, models

triggers = importlib.import_module("evictions.migrations.0003_approval_requester_trigger")


def drop_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        triggers.drop_trigger(apps, schema_editor)


def add_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        triggers.add_trigger(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("evictions", "0007_budget_watcher_per_cluster"),
    ]

    operations = [
        migrations.RunPython(drop_sqlite_triggers, add_sqlite_triggers),
        migrations.AddField(
            model_name="podeviction",
            name="budget",
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.RunPython(add_sqlite_triggers, drop_sqlite_triggers),
    ]
