from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Outbound webhooks"

    def ready(self) -> None:
        from contacts.signals import contacts_changed
        from crm_sync.outcome_signals import conflicts_opened, contacts_pushed
        from webhooks import signals

        contacts_changed.connect(signals.on_contacts_changed, dispatch_uid="webhooks.contacts_changed")
        contacts_pushed.connect(signals.on_contacts_pushed, dispatch_uid="webhooks.contacts_pushed")
        conflicts_opened.connect(signals.on_conflicts_opened, dispatch_uid="webhooks.conflicts_opened")
