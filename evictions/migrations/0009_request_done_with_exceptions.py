"""A request whose pods a person skipped or deleted directly ends `done_with_exceptions`, not `succeeded`.

PodEviction.skipped_by tells a pod a person skipped from one the drain rules skip at plan time (DaemonSet and mirror
pods). It is filled for earlier skips from the audit log's `pod.skip` events. Requests that finished before keep their
status (`succeeded`), as their audit events say; their `exceptions` count what happened.

Adding a nullable column and changing choices do not rebuild the table on SQLite (the approval triggers of 0003 are
untouched)."""

from django.db import migrations, models


def fill_skipped_by(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    PodEviction = apps.get_model("evictions", "PodEviction")
    skips = AuditEvent.objects.filter(action="pod.skip", object_type="evictions.podeviction")
    for object_id, actor_name in skips.values_list("object_id", "actor_name").iterator():
        if object_id.isdigit():
            PodEviction.objects.filter(pk=int(object_id), status="skipped").update(skipped_by=actor_name)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_retention_trigger_and_text_search"),
        ("evictions", "0008_pod_budget"),
    ]

    operations = [
        migrations.AddField(
            model_name="podeviction",
            name="skipped_by",
            field=models.CharField(blank=True, max_length=150, null=True),
        ),
        migrations.AlterField(
            model_name="evictionrequest",
            name="status",
            field=models.CharField(
                choices=[
                    ("awaiting_approval", "Awaiting approval"),
                    ("scheduled", "Scheduled"),
                    ("running", "Running"),
                    ("paused", "Paused"),
                    ("succeeded", "Succeeded"),
                    ("done_with_exceptions", "Done with exceptions"),
                    ("failed", "Failed"),
                    ("needs_intervention", "Needs intervention"),
                    ("cancelled", "Cancelled"),
                    ("rejected", "Rejected"),
                ],
                default="scheduled",
                max_length=24,
            ),
        ),
        migrations.RunPython(fill_skipped_by, migrations.RunPython.noop),
    ]
