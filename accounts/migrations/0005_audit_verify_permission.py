"""Give admins the audit page's "Verify now"."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from accounts.roles import sync_role_groups

    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_notification_permissions"), ("audit", "0004_retention_trigger_and_text_search")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
