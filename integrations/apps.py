from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "CRM integrations"

    def ready(self) -> None:
        # Load and check every connector now: a bad CRM_CONNECTORS entry stops start-up.
        from integrations import registry

        registry.connectors()
