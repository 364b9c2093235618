from django.apps import AppConfig


class PropertiesConfig(AppConfig):
    name = "properties"
    verbose_name = "Property definitions"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from properties.models import PropertyDefinition

        for when, signal in (("save", post_save), ("delete", post_delete)):
            signal.connect(
                _definition_changed, sender=PropertyDefinition, dispatch_uid=f"properties.flag_{when}"
            )


def _definition_changed(sender, instance, **kwargs) -> None:
    """A definition saved or deleted: its organization's cached "has definitions" goes (bulk
    writers in properties/services.py forget it themselves)."""
    from core.org_flags import org_flag_forget
    from properties.validation import CONTACT_DEFINITIONS_FLAG

    org_flag_forget(CONTACT_DEFINITIONS_FLAG, instance.organization_id)
