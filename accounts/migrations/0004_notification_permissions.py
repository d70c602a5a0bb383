"""Give admins the notification endpoints and the delivery log."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from accounts.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_approval_permissions"), ("notifications", "0001_initial")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
