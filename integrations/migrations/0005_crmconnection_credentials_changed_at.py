from django.db import migrations, models


def backfill_changed_at(apps, schema_editor):
    """Existing credentials were last changed no later than the row's last save: use that."""
    CrmConnection = apps.get_model("integrations", "CrmConnection")
    for connection in CrmConnection.objects.only("id", "credentials", "updated_at").iterator():
        if connection.credentials:
            CrmConnection.objects.filter(pk=connection.pk).update(credentials_changed_at=connection.updated_at)


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0004_merge_pull_and_trust"),
    ]

    operations = [
        migrations.AddField(
            model_name="crmconnection",
            name="credentials_changed_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(backfill_changed_at, migrations.RunPython.noop),
    ]
