from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Outbound webhooks"

    def ready(self) -> None:
        from contacts.signals import contacts_changed
        from webhooks.signals import on_contacts_changed

        contacts_changed.connect(on_contacts_changed, dispatch_uid="webhooks.contacts_changed")
