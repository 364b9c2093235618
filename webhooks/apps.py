from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Outbound webhooks"

    def ready(self) -> None:
        from contacts.signals import contacts_changed
        from crm_sync.outcome_signals import conflicts_opened, contacts_pushed
        from webhooks import signals

        contacts_changed.connect(signals.on_contacts_changed, dispatch_uid="webhooks.contacts_changed")
        from django.db.models.signals import post_delete, post_save

        from webhooks.models import WebhookSubscription

        for when, signal in (("save", post_save), ("delete", post_delete)):
            signal.connect(
                signals.on_subscription_changed,
                sender=WebhookSubscription,
                dispatch_uid=f"webhooks.flag_{when}",
            )
        contacts_pushed.connect(signals.on_contacts_pushed, dispatch_uid="webhooks.contacts_pushed")
        conflicts_opened.connect(signals.on_conflicts_opened, dispatch_uid="webhooks.conflicts_opened")
