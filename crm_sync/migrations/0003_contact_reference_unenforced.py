"""Drop the database constraint behind ContactSyncState.contact (the reference itself stays).

Checking it for every inserted row at COMMIT was half the time of a million-contact
queue-all (docs/benchmarks.md, "bench/queue_all.py"). Django keeps cascading contact
deletes to their states; orphans left by other paths are dropped by the push and by the
hourly crm_sync.sweep_orphan_states. Reversible: going back first deletes any orphan state,
which the restored constraint would refuse.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Exists, OuterRef


def orphans_delete(apps, schema_editor):
    ContactSyncState = apps.get_model("crm_sync", "ContactSyncState")
    Contact = apps.get_model("contacts", "Contact")
    ContactSyncState.objects.filter(~Exists(Contact.objects.filter(pk=OuterRef("contact_id")))).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0002_idempotency_purge_schedule"),
        ("crm_sync", "0002_default_schedules"),
    ]

    operations = [
        migrations.AlterField(
            model_name="contactsyncstate",
            name="contact",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="sync_states",
                to="contacts.contact",
            ),
        ),
        # Runs first when migrating backwards, so the constraint can be added again.
        migrations.RunPython(migrations.RunPython.noop, orphans_delete),
    ]
