from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CrmSyncConfig(AppConfig):
    name = "crm_sync"
    verbose_name = "CRM sync"

    def ready(self) -> None:
        from contacts.signals import contacts_changed
        from crm_sync.signals import on_contacts_changed

        contacts_changed.connect(on_contacts_changed, dispatch_uid="crm_sync.requeue_changed_contacts")
        from django.db.models.signals import post_delete, post_save

        from integrations.models import CrmConnection

        for when, signal in (("save", post_save), ("delete", post_delete)):
            signal.connect(
                _connection_changed, sender=CrmConnection, dispatch_uid=f"crm_sync.auto_flag_{when}"
            )
        from crm_sync import alerts_admin, conflicts_admin, data_admin  # noqa: F401  register their admin pages

        post_migrate.connect(_search_index_install, sender=self, dispatch_uid="crm_sync.search_index")


def _connection_changed(sender, instance, **kwargs) -> None:
    """A connection saved or deleted may turn auto-sync on or off for its organization."""
    from core.org_flags import org_flag_forget
    from crm_sync.services.queueing import AUTO_SYNC_ANY_FLAG, AUTO_SYNC_FLAG

    org_flag_forget(AUTO_SYNC_FLAG, instance.organization_id)
    org_flag_forget(AUTO_SYNC_ANY_FLAG, instance.organization_id)


def _search_index_install(sender, using="default", **kwargs) -> None:
    """SQLite drops a table's triggers when a migration rebuilds it: put the search index back."""
    from crm_sync.search_index import search_index_install

    search_index_install(using=using)
