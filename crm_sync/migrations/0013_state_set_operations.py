"""Million-row set operations on ContactSyncState (docs/benchmarks.md "bench/queue_all.py").

1. The stats index loses its INCLUDE columns (PostgreSQL then deduplicates its few distinct
   keys: ≈ 850 pages instead of ≈ 7,000 for a million states, so counts by status read an eighth
   of the pages), and sync-stats' last-24-hours count of synced rows gets its own partial index
   of Complete rows (which queueing, writing Queued rows, never adds to).

2. Check ContactSyncState.connection once per statement instead of once per row (PostgreSQL).

The foreign key's per-row check (a trigger and an SPI query for each inserted row, run at
COMMIT) was ≈ 2.4 s of a million-contact queue-all's 8.3 s (docs/benchmarks.md
"bench/queue_all.py"). The reference stays enforced by the database, by three triggers:

- after each INSERT statement, the distinct connection ids of the inserted rows (a transition
  table) are locked FOR KEY SHARE, as the foreign key's check locks them, and the statement
  fails with foreign_key_violation if one does not exist;
- an UPDATE that changes a row's connection is checked the same way, row by row (no code
  does that; it stays refused as before);
- deleting a connection that still has states fails with foreign_key_violation (Django's
  cascade deletes them first, as it did with the constraint). The lock taken by an inserting
  transaction makes a concurrent delete wait, then see the new states and fail.

SQLite (development and the test suite) keeps no database check, as before for the contact.
Reversible: going back drops the triggers and restores the constraint.
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = """
CREATE FUNCTION crm_sync_state_connection_check_added() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wanted bigint[];
    found integer;
BEGIN
    SELECT array_agg(DISTINCT connection_id) INTO wanted FROM crm_sync_state_added;
    IF wanted IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT count(*) INTO found FROM (
        SELECT 1 FROM integrations_crmconnection WHERE id = ANY (wanted) FOR KEY SHARE
    ) AS locked;
    IF found < cardinality(wanted) THEN
        RAISE EXCEPTION 'insert or update on table "crm_sync_contactsyncstate" violates its reference to integrations_crmconnection'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'crm_sync_contactsyncstate';
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION crm_sync_state_connection_check_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM integrations_crmconnection WHERE id = NEW.connection_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'insert or update on table "crm_sync_contactsyncstate" violates its reference to integrations_crmconnection'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'crm_sync_contactsyncstate';
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION crm_sync_connection_delete_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM crm_sync_contactsyncstate WHERE connection_id = OLD.id) THEN
        RAISE EXCEPTION 'update or delete on table "integrations_crmconnection" violates the reference from crm_sync_contactsyncstate'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'integrations_crmconnection';
    END IF;
    RETURN OLD;
END
$$;

CREATE TRIGGER crm_sync_state_connection_insert AFTER INSERT ON crm_sync_contactsyncstate
    REFERENCING NEW TABLE AS crm_sync_state_added
    FOR EACH STATEMENT EXECUTE FUNCTION crm_sync_state_connection_check_added();

CREATE TRIGGER crm_sync_state_connection_update BEFORE UPDATE OF connection_id ON crm_sync_contactsyncstate
    FOR EACH ROW WHEN (OLD.connection_id IS DISTINCT FROM NEW.connection_id)
    EXECUTE FUNCTION crm_sync_state_connection_check_row();

CREATE TRIGGER crm_sync_connection_states_delete BEFORE DELETE ON integrations_crmconnection
    FOR EACH ROW EXECUTE FUNCTION crm_sync_connection_delete_check();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS crm_sync_connection_states_delete ON integrations_crmconnection;
DROP TRIGGER IF EXISTS crm_sync_state_connection_update ON crm_sync_contactsyncstate;
DROP TRIGGER IF EXISTS crm_sync_state_connection_insert ON crm_sync_contactsyncstate;
DROP FUNCTION IF EXISTS crm_sync_connection_delete_check();
DROP FUNCTION IF EXISTS crm_sync_state_connection_check_row();
DROP FUNCTION IF EXISTS crm_sync_state_connection_check_added();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("crm_sync", "0012_merge_dashboard"),
        ("integrations", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="contactsyncstate", name="crm_sync_state_stats"),
        migrations.AddIndex(
            model_name="contactsyncstate",
            index=models.Index(fields=["connection", "sync_status"], name="crm_sync_state_stats"),
        ),
        migrations.AddIndex(
            model_name="contactsyncstate",
            index=models.Index(
                condition=models.Q(("sync_status", "Complete")),
                fields=["connection", "last_synced_at"],
                name="crm_sync_state_synced",
            ),
        ),
        migrations.AlterField(
            model_name="contactsyncstate",
            name="connection",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="contact_sync_states",
                to="integrations.crmconnection",
            ),
        ),
        # Runs after the constraint is gone going forwards, and first going backwards (so the
        # restored constraint is the only check again).
        migrations.RunPython(forward, backward),
    ]
