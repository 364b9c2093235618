from django.db import migrations


def install(apps, schema_editor):
    from crm_sync.search_index import search_order_indexes_install

    search_order_indexes_install(using=schema_editor.connection.alias)


def uninstall(apps, schema_editor):
    from crm_sync.search_index import search_order_indexes_uninstall

    search_order_indexes_uninstall(using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    """Unified search reads rows in rank order on PostgreSQL (btrees on scope, search_text "C", id).

    A no-op on SQLite, which ranks every FTS5 match.
    """

    dependencies = [
        ("contacts", "0003_contact_search_text"),
        ("crm_sync", "0012_merge_dashboard"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
