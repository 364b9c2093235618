from django.apps import AppConfig


class CrmSyncConfig(AppConfig):
    name = "crm_sync"
    verbose_name = "CRM sync"

    def ready(self) -> None:
        from contacts.signals import contacts_changed
        from crm_sync.signals import on_contacts_changed

        contacts_changed.connect(on_contacts_changed, dispatch_uid="crm_sync.requeue_changed_contacts")
        from crm_sync import alerts_admin, conflicts_admin  # noqa: F401  registers their admin pages
