"""Reads of CRM connections, and the effective values a connector works with."""

from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from integrations.connectors.base import Capability
from integrations.models import CrmConnection
from integrations.outbound import url_host
from integrations.registry import get_connector_class


def connection_list(*, organization, kind: str | None = None, enabled: bool | None = None) -> QuerySet:
    queryset = (
        CrmConnection.objects.filter(organization=organization)
        .select_related("organization")
        .prefetch_related("contact_rule_events")
    )
    if kind:
        queryset = queryset.filter(kind=kind)
    if enabled is not None:
        queryset = queryset.filter(enabled=enabled)
    return queryset.order_by("kind", "name", "pk")


def connection_get(*, organization, connection_id) -> CrmConnection | None:
    try:
        return connection_list(organization=organization).get(pk=connection_id)
    except (CrmConnection.DoesNotExist, ValueError, TypeError):
        return None


def _is_default_organization(connection) -> bool:
    organization = connection.organization
    return organization is not None and organization.slug == settings.DEFAULT_ORGANIZATION_SLUG


def connection_uses_env_credentials(*, connection) -> bool:
    """True when the default organization's connection has no stored credentials and the env has some."""
    if connection.credentials or not _is_default_organization(connection):
        return False
    return bool(_env_credentials(connection.kind))


def _env_credentials(kind: str) -> dict[str, Any]:
    values = getattr(settings, "CRM_ENV_CREDENTIALS", {}).get(kind, {})
    return {key: value for key, value in values.items() if value}


def connection_credentials(*, connection) -> dict[str, Any]:
    """The credentials to use: stored ones, else (default organization only) the environment's."""
    if connection.credentials:
        return dict(connection.credentials)
    if _is_default_organization(connection):
        return _env_credentials(connection.kind)
    return {}


def connection_base_url(*, connection) -> str:
    """connection.base_url, else the environment's (default organization), else the CRM's real URL."""
    if connection.base_url:
        return connection.base_url.rstrip("/")
    if _is_default_organization(connection):
        env_url = getattr(settings, "CRM_ENV_BASE_URLS", {}).get(connection.kind)
        if env_url:
            return env_url.rstrip("/")
    return get_connector_class(connection.kind).default_base_url.rstrip("/")


def settings_urls(value) -> list[str]:
    """The absolute http(s) URLs anywhere in a connection's settings."""
    if isinstance(value, str):
        return [value] if value.lower().startswith(("http://", "https://")) else []
    if isinstance(value, dict):
        return [url for item in value.values() for url in settings_urls(item)]
    if isinstance(value, list | tuple):
        return [url for item in value for url in settings_urls(item)]
    return []


def connection_target_hosts(*, connection) -> list[str]:
    """Every host the connection's configuration sends requests to: its base URL's, and those of
    the absolute URLs in its settings (a token endpoint on an identity provider, say)."""
    urls = [connection_base_url(connection=connection), *settings_urls(connection.settings or {})]
    return sorted({host for host in map(url_host, urls) if host})


def connection_credentials_hosts(*, connection) -> list[str] | None:
    """The hosts the credentials in use may be sent to; None when they are bound to none.

    Stored credentials: the hosts recorded when they were given. The environment's credentials
    (default organization): only the environment's base URL, else the CRM's real host.
    """
    if connection.credentials:
        return list(connection.credentials_hosts or []) or None
    if connection_uses_env_credentials(connection=connection):
        env_url = getattr(settings, "CRM_ENV_BASE_URLS", {}).get(connection.kind)
        host = url_host(env_url or get_connector_class(connection.kind).default_base_url)
        return [host] if host else None
    return None


def connection_field_mapping(*, connection) -> dict[str, str]:
    """The connector's default mapping, then the organization's custom contact properties, then
    the connection's overrides on top.

    Custom properties are mapped for CRMs whose definitions property sync keeps in step, once a
    sync has created (or found) them there under `remote_property_name`. An override mapping a field to "" (or
    null) removes that field from the mapping.
    """
    connector_class = get_connector_class(connection.kind)
    mapping = dict(connector_class.default_field_mapping)
    if Capability.SYNC_PROPERTIES in connector_class.capabilities and connection.organization_id:
        from properties.selectors import property_names_in_crm

        for name in sorted(
            property_names_in_crm(organization=connection.organization_id, crm=connection.kind)
        ):
            mapping.setdefault(name, connector_class.remote_property_name(name))
    for local, remote in (connection.field_mapping or {}).items():
        if remote:
            mapping[local] = remote
        else:
            mapping.pop(local, None)
    return mapping


def connection_secret_values(*, connection) -> tuple[str, ...]:
    """Every secret string of a connection (credentials and tokens), for redaction."""
    values: list[str] = []

    from integrations.http import IDENTITY_CREDENTIAL_KEYS

    def walk(value):
        if isinstance(value, str) and len(value) >= 4:
            values.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                if not (isinstance(key, str) and key.lower() in IDENTITY_CREDENTIAL_KEYS):
                    walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(connection_credentials(connection=connection))
    walk(connection.token_state or {})
    return tuple(values)


CREDENTIAL_SET = "set"


def credentials_masked(credentials: dict[str, Any]) -> dict[str, str]:
    """Each stored credential field as "set": no character of a secret ever leaves the server.

    Even a last-four suffix narrows a guess and confirms a leaked value, so none is shown;
    `credentials_changed_at` on the connection says when they last changed.
    """
    return {key: CREDENTIAL_SET for key in sorted(credentials or {})}
