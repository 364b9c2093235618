from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "CRM integrations"

    def ready(self) -> None:
        # Load and check every connector now: a bad CRM_CONNECTORS entry stops start-up.
        from integrations import outbound, registry

        registry.connectors()
        # Likewise a malformed CRM_ALLOWED_PRIVATE_TARGETS entry, rather than every CRM call failing.
        outbound.private_entries()
