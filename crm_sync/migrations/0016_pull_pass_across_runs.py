"""A pull pass tracked across the runs that carry it (crm_sync/services/pull_unseen.py).

PullCursor.pass_backfill, pass_fetched, pass_issues: whether the pass in progress was begun by a
backfill, and how many records its pages read and left out, so a backfill the pull task splits
at its time budget still marks what the CRM did not return once its last run ends the pass.
Added with defaults (a pass in progress when this runs is not a backfill pass: it marks nothing,
as before). Reversible: the columns are dropped.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('crm_sync', '0015_queue_all_runs'),
    ]

    operations = [
        migrations.AddField(
            model_name='pullcursor',
            name='pass_backfill',
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name='pullcursor',
            name='pass_fetched',
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name='pullcursor',
            name='pass_issues',
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
    ]
