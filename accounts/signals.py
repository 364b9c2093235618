"""Receivers that keep the API-key cache (accounts/authentication.py) true to the database."""


def api_key_changed(sender, instance, **kwargs) -> None:
    from accounts.authentication import api_key_cache_forget

    api_key_cache_forget(instance.prefix)


def organization_changed(sender, instance, **kwargs) -> None:
    """The cached keys hold their organization: a renamed or deleted one drops them all."""
    from accounts.authentication import api_key_cache_forget
    from accounts.models import OrganizationAPIKey

    if kwargs.get("created"):
        return
    prefixes = OrganizationAPIKey.objects.filter(organization_id=instance.pk).values_list("prefix", flat=True)
    api_key_cache_forget(*prefixes)
