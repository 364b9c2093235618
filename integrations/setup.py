"""What a connection of each CRM kind is set up with, as named fields (the admin's setup form).

A connection's `settings` is a JSON object each connector reads its own keys from; the setup
form must never show it as a JSON text box. This module names, per kind, the scalar settings an
operator sets (a dotted path for the REST presets' nested ones), with their type, choices and
default, and moves values between a settings object and those fields. Keys it does not name
(the REST presets' field maps, extra headers, rate limits...) are kept as they are: the API
edits them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from integrations.registry import get_connector_class


@dataclass(frozen=True)
class SettingSpec:
    """One setting of a kind: `path` in settings ("auth.type" is settings["auth"]["type"])."""

    path: str
    label: str
    type: str = "text"  # text | int | float | bool | choice | int_list
    choices: tuple[str, ...] = ()
    default: Any = None
    help: str = ""
    min_value: float | None = None
    max_value: float | None = None

    @property
    def field_name(self) -> str:
        return "setting__" + self.path.replace(".", "__")


# Every kind: the shared HTTP client's timeouts (integrations/http.py).
COMMON_SETTINGS = (
    SettingSpec(
        "connect_timeout",
        "Connect timeout (seconds)",
        "float",
        min_value=0.1,
        max_value=120,
        help="Blank: the server's CRM_HTTP_CONNECT_TIMEOUT.",
    ),
    SettingSpec(
        "read_timeout",
        "Read timeout (seconds)",
        "float",
        min_value=0.1,
        max_value=600,
        help="Blank: the server's CRM_HTTP_READ_TIMEOUT.",
    ),
)


def _rest_family() -> tuple[SettingSpec, ...]:
    from integrations.connectors.rest.config import AUTH_TYPES, ENTITIES, TIMESTAMP_STYLES
    from integrations.connectors.rest.paging import STYLES

    return (
        SettingSpec("api_version", "API version", help='Replaces "{api_version}" in the base path.'),
        SettingSpec("base_path", "Base path", help="Path prefix of every endpoint, e.g. /{api_version}."),
        SettingSpec("auth.type", "Authentication", "choice", AUTH_TYPES),
        SettingSpec("auth.header", "API key header"),
        SettingSpec("auth.format", "API key format", help="Where the key goes, e.g. Bearer {key}."),
        SettingSpec("auth.credential_field", "Credential holding the API key"),
        SettingSpec("auth.login_path", "JWT login path"),
        SettingSpec("auth.refresh_path", "JWT refresh path"),
        SettingSpec("auth.token_url", "OAuth token URL", help="Absolute, or a path under the base URL."),
        SettingSpec("auth.grant_type", "OAuth grant", "choice", ("client_credentials", "refresh_token")),
        SettingSpec("auth.scope", "OAuth scope"),
        SettingSpec("auth.client_auth", "OAuth client authentication", "choice", ("body", "basic")),
        SettingSpec("paging.style", "Paging style", "choice", STYLES),
        SettingSpec("paging.page_size", "Page size", "int", min_value=1, max_value=1000),
        SettingSpec("paging.items_path", "Items path", help="Where a page's records are, e.g. data."),
        SettingSpec("paging.next_cursor_path", "Next cursor path"),
        SettingSpec("paging.total_path", "Total path"),
        *(
            SettingSpec(f"endpoints.{entity}", f"{entity.capitalize()} endpoint", help="e.g. /" + entity)
            for entity in ENTITIES
        ),
        SettingSpec("updated_since_param", "Updated-since parameter"),
        SettingSpec("updated_since_format", "Updated-since format", "choice", TIMESTAMP_STYLES),
        SettingSpec("id_path", "Record id path"),
        SettingSpec("updated_at_path", "Updated-at path"),
        SettingSpec("contacts.update_method", "Contact update method", "choice", ("PATCH", "PUT")),
        SettingSpec("contacts.lookup_param", "Contact lookup parameter", help="Filters contacts by email."),
        SettingSpec("test_entity", "Entity read by the credential test", "choice", ("", *ENTITIES)),
    )


def _hubspot() -> tuple[SettingSpec, ...]:
    from integrations.connectors.hubspot.connector import DEFAULT_OVERLAP_SECONDS, RATE_TIERS

    return (
        SettingSpec(
            "rate_tier",
            "HubSpot subscription tier",
            "choice",
            tuple(RATE_TIERS),
            default="free",
            help="Sets the burst limit and the daily quota.",
        ),
        SettingSpec(
            "push_unmapped",
            "Push custom properties without a mapping",
            "bool",
            default=False,
        ),
        SettingSpec("pull_archived", "Pull archived records", "bool", default=True),
        SettingSpec(
            "pull_overlap_seconds",
            "Pull overlap (seconds)",
            "int",
            default=DEFAULT_OVERLAP_SECONDS,
            min_value=0,
            max_value=86400,
            help="Search is eventually consistent: each pull re-reads this much.",
        ),
    )


def _brevo() -> tuple[SettingSpec, ...]:
    from integrations.connectors.brevo.bulk import IMPORT_THRESHOLD
    from integrations.connectors.brevo.connector import PAGE_SIZE_MAX, TIER_RATES

    return (
        SettingSpec("tier", "Brevo rate-limit tier", "choice", tuple(TIER_RATES), default="general"),
        SettingSpec("default_country_code", "Default country code", help="For phone numbers, e.g. 33."),
        SettingSpec(
            "page_size", "Pull page size", "int", default=PAGE_SIZE_MAX, min_value=1, max_value=PAGE_SIZE_MAX
        ),
        SettingSpec(
            "import_threshold",
            "Bulk import above (contacts)",
            "int",
            default=IMPORT_THRESHOLD,
            min_value=1,
        ),
        SettingSpec("import_list_ids", "Bulk import list ids", "int_list", help="Comma-separated."),
    )


def _mautic() -> tuple[SettingSpec, ...]:
    from integrations.connectors.mautic.connector import PAGE_SIZE_MAX

    return (
        SettingSpec("timezone", "Instance time zone", help="e.g. Europe/Paris. Blank: UTC."),
        SettingSpec(
            "page_size", "Pull page size", "int", default=PAGE_SIZE_MAX, min_value=1, max_value=PAGE_SIZE_MAX
        ),
    )


def _n8n() -> tuple[SettingSpec, ...]:
    from integrations.connectors.n8n.mapping import SIGNATURE_HEADER

    return (
        SettingSpec("webhook_path", "Webhook path", help="Appended to the base URL when set."),
        SettingSpec("signature_header", "Signature header", default=SIGNATURE_HEADER),
    )


_KIND_SETTINGS = {
    "hubspot": _hubspot,
    "brevo": _brevo,
    "mautic": _mautic,
    "n8n": _n8n,
    "rest": _rest_family,
    "brivity": _rest_family,
    "topproducer": _rest_family,
}

# What each credential field is, for its label (every credential field is write-only).
CREDENTIAL_LABELS = {
    "access_token": "Access token (private app)",
    "api_key": "API key",
    "api_token": "API token",
    "auth_header": 'Auth header ("Name: value")',
    "header_name": "Header name",
    "header_value": "Header value",
    "signing_secret": "Signing secret (HMAC)",
    "refresh_token": "Refresh token",
}


def setting_specs(kind: str) -> tuple[SettingSpec, ...]:
    """The settings of `kind` the setup form shows, kind-specific first."""
    build = _KIND_SETTINGS.get(kind)
    specs = build() if build else ()
    named = {spec.path for spec in specs}
    return (*specs, *(spec for spec in COMMON_SETTINGS if spec.path not in named))


def _preset(kind: str) -> dict:
    serializer = getattr(get_connector_class(kind), "config_serializer", None)
    return dict(getattr(serializer, "preset", None) or {})


def _get(data: dict, path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def setting_default(kind: str, spec: SettingSpec) -> Any:
    """The value a connection gets when it leaves the setting blank (its preset's, else the spec's)."""
    preset_value = _get(_preset(kind), spec.path)
    return spec.default if preset_value is None else preset_value


def settings_initial(*, kind: str, settings: dict) -> dict[str, Any]:
    """Form initial values (by field name) of the named settings a connection sets."""
    initial = {}
    for spec in setting_specs(kind):
        value = _get(settings or {}, spec.path)
        if value is None:
            if spec.type == "bool":
                initial[spec.field_name] = bool(setting_default(kind, spec))
            continue
        if spec.type == "int_list" and isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        initial[spec.field_name] = value
    return initial


def settings_apply(*, kind: str, settings: dict, values: dict[str, Any]) -> dict:
    """`settings` with the named settings set from `values` (by field name); keys not named are kept.

    A blank value removes the key (the connector's default applies); a boolean equal to its
    default is not written, so saving an untouched form changes nothing.
    """
    result = copy.deepcopy(settings or {})
    for spec in setting_specs(kind):
        if spec.field_name not in values:
            continue
        value = values[spec.field_name]
        parts = spec.path.split(".")
        parent = result
        for part in parts[:-1]:
            child = parent.get(part)
            if not isinstance(child, dict):
                child = {}
                parent[part] = child
            parent = child
        leaf = parts[-1]
        had = leaf in parent
        if spec.type == "bool" and not had and value == bool(setting_default(kind, spec)):
            continue
        if value in (None, "", []) and spec.type != "bool":
            parent.pop(leaf, None)
        else:
            parent[leaf] = value
        for depth in range(len(parts) - 1, 0, -1):  # drop nested objects emptied here
            holder = _get(result, ".".join(parts[: depth - 1])) if depth > 1 else result
            key = parts[depth - 1]
            if isinstance(holder, dict) and holder.get(key) == {}:
                del holder[key]
    return result
