"""Give the roles the eviction permissions (requesting, intervening, deleting directly)."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from accounts.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_roles"), ("evictions", "0001_initial")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
