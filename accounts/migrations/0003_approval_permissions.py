"""Give approvers the approve permission, and admins approval policies and maintenance windows."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from accounts.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_eviction_permissions"), ("evictions", "0003_approval_requester_trigger")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
