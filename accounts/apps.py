from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from accounts import schema  # noqa: F401 - registers the OpenAPI auth extension
        from accounts.models import Organization, OrganizationAPIKey
        from accounts.signals import api_key_changed, organization_changed

        # Any write to a key or its organization (admin, shell, services) drops the cached row.
        for when, signal in (("save", post_save), ("delete", post_delete)):
            signal.connect(api_key_changed, sender=OrganizationAPIKey, dispatch_uid=f"api_key_cache_{when}")
            signal.connect(
                organization_changed, sender=Organization, dispatch_uid=f"api_key_cache_org_{when}"
            )
