"""The settings of a REST connection (CrmConnection.settings), validated, with preset defaults.

A connection stores only what it changes; the connector merges it over its class's
`default_settings` (a preset such as Brivity's) and validates the result with
`RestSettingsSerializer`. The same serializer, exposed as the connector's
`config_serializer`, validates settings when a connection is created or edited.
"""

import copy
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from rest_framework import serializers

from integrations.connectors.rest.paging import STYLES, PagingConfig

# Entities a connection can configure; RemoteRecord.object_type is the entity's name.
ENTITIES = ("projects", "tasks", "users", "clients", "comments", "contacts", "deals")
AUTH_TYPES = ("api_key", "jwt", "oauth")
TIMESTAMP_STYLES = ("iso", "epoch", "epoch_ms")
_PATH = re.compile(r"^(/[A-Za-z0-9._~{}\-]*)+$")
_PARAM = re.compile(r"^[A-Za-z0-9_.\[\]\-]+$")
_FIELD = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")


def deep_merge(base: dict, override: dict) -> dict:
    """`override` over `base`, recursing into nested dicts (lists and scalars replace).

    A null in `override` for a key `base` has removes it, so a connection can drop a
    preset's endpoint or field (`{"endpoints": {"deals": null}}`) or return a key to its default.
    """
    merged = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if value is None and key in merged:
            del merged[key]
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _path(value: str) -> str:
    if value and not _PATH.match(value):
        raise serializers.ValidationError("Give a path that starts with '/', e.g. /contacts.")
    return value


def _param(value: str) -> str:
    if value and not _PARAM.match(value):
        raise serializers.ValidationError("Use letters, digits, '_', '-', '.', '[' or ']' only.")
    return value


def _json_path(value: str) -> str:
    if value and not _FIELD.match(value):
        raise serializers.ValidationError("Give a field name or a dotted path such as meta.next_cursor.")
    return value


def _url_or_path(value: str) -> str:
    if value.startswith(("https://", "http://")) or not value:
        return value
    return _path(value)


class ParamField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 100)
        super().__init__(validators=[_param], **kwargs)


class JsonPathField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 200)
        kwargs.setdefault("allow_blank", True)
        super().__init__(validators=[_json_path], **kwargs)


class AuthSettingsSerializer(serializers.Serializer):
    """How to authenticate. The secrets themselves live in the connection's credentials."""

    type = serializers.ChoiceField(choices=AUTH_TYPES, default="api_key")
    # api_key: one header; `format` places the secret, e.g. "Bearer {key}" or "Token token={key}".
    header = serializers.CharField(max_length=100, default="Authorization", validators=[_param])
    format = serializers.CharField(max_length=200, default="Bearer {key}")
    credential_field = serializers.CharField(max_length=50, default="api_key", validators=[_param])
    # jwt: a login with username/password that returns an access token (and a refresh token).
    login_path = serializers.CharField(max_length=200, default="/auth/login", validators=[_url_or_path])
    refresh_path = serializers.CharField(
        max_length=200, default="/auth/refresh", allow_blank=True, validators=[_url_or_path]
    )
    username_field = ParamField(default="username")
    password_field = ParamField(default="password")
    refresh_field = ParamField(default="refresh_token")
    # oauth: the token endpoint (absolute, or a path under the base URL) and the grant.
    token_url = serializers.CharField(max_length=500, default="/oauth/token", validators=[_url_or_path])
    grant_type = serializers.ChoiceField(
        choices=("client_credentials", "refresh_token"), default="client_credentials"
    )
    scope = serializers.CharField(max_length=500, default="", allow_blank=True)
    # Where the client id/secret go in the token request: the form body or a Basic header.
    client_auth = serializers.ChoiceField(choices=("body", "basic"), default="body")

    def validate_format(self, value: str) -> str:
        if "{key}" not in value:
            raise serializers.ValidationError("The format must contain {key}, where the secret goes.")
        return value


class PagingSettingsSerializer(serializers.Serializer):
    style = serializers.ChoiceField(choices=STYLES, default="page")
    page_size = serializers.IntegerField(min_value=1, max_value=1000, default=100)
    page_param = ParamField(default="page")
    per_page_param = ParamField(default="per_page")
    first_page = serializers.IntegerField(min_value=0, max_value=1, default=1)
    offset_param = ParamField(default="offset")
    limit_param = ParamField(default="limit", allow_blank=True)
    cursor_param = ParamField(default="cursor")
    next_cursor_path = JsonPathField(default="next_cursor")
    items_path = JsonPathField(default="data")
    total_path = JsonPathField(default="")
    has_more_path = JsonPathField(default="")


class ContactWriteSettingsSerializer(serializers.Serializer):
    """How contacts are written: the update verb, the email lookup, body and response wrappers."""

    update_method = serializers.ChoiceField(choices=("PATCH", "PUT"), default="PATCH")
    # Query parameter that filters the contacts list by email; blank: the API has no lookup.
    lookup_param = ParamField(default="email", allow_blank=True)
    # Wrap the body in one key ({"contact": {...}}), and read the written record from a path.
    body_key = ParamField(default="", allow_blank=True)
    response_path = JsonPathField(default="")
    # Header that carries the payload's idempotency key, when the API supports one.
    idempotency_header = ParamField(default="", allow_blank=True)


class RestSettingsSerializer(serializers.Serializer):
    """CrmConnection.settings of a REST connection; every key has a default."""

    api_version = serializers.CharField(max_length=20, default="v1", allow_blank=True, validators=[_param])
    # Path prefix under the base URL for every endpoint; "{api_version}" is replaced.
    base_path = serializers.CharField(max_length=200, default="", allow_blank=True, validators=[_path])
    auth = AuthSettingsSerializer(required=False)
    paging = PagingSettingsSerializer(required=False)
    endpoints = serializers.DictField(
        child=serializers.CharField(max_length=200, validators=[_path]), default=dict
    )
    updated_since_param = ParamField(default="updated_since", allow_blank=True)
    updated_since_format = serializers.ChoiceField(choices=TIMESTAMP_STYLES, default="iso")
    # Fixed query parameters for list calls, e.g. {"sort": "updated_at"} for a stable order.
    list_params = serializers.DictField(child=serializers.CharField(max_length=200), default=dict)
    id_path = JsonPathField(default="id", allow_blank=False)
    updated_at_path = JsonPathField(default="updated_at")
    field_maps = serializers.DictField(
        child=serializers.DictField(child=JsonPathField(allow_blank=False)), default=dict
    )
    contacts = ContactWriteSettingsSerializer(required=False)
    # Entity whose list is fetched (one record) to test credentials; blank: the first configured.
    test_entity = serializers.ChoiceField(choices=("", *ENTITIES), default="", allow_blank=True)
    # Requests per window for the shared limiter (integrations/ratelimit.py reads it):
    # {"default": {"limit": 10, "window": 1}}; {"default": null} or absent: unlimited.
    rate_limits = serializers.DictField(child=serializers.JSONField(allow_null=True), required=False)

    # Read by the shared HTTP client (integrations/http.py): extra static headers (never
    # secrets: settings are not encrypted) and per-connection timeouts in seconds.
    headers = serializers.DictField(child=serializers.CharField(max_length=500), required=False)
    connect_timeout = serializers.FloatField(min_value=0.1, max_value=120, required=False)
    read_timeout = serializers.FloatField(min_value=0.1, max_value=600, required=False)

    # Defaults of a preset, merged under what the connection sets (see preset_serializer).
    preset: ClassVar[dict] = {}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Settings must be a JSON object."]})
        merged = deep_merge(self.preset, data)
        for nested in ("auth", "paging", "contacts"):
            # An absent nested object is validated as {} so that its own defaults apply.
            merged.setdefault(nested, {})
        return super().to_internal_value(merged)

    def validate_endpoints(self, value: dict) -> dict:
        unknown = sorted(set(value) - set(ENTITIES))
        if unknown:
            raise serializers.ValidationError(f"Unknown entities {unknown}; use {list(ENTITIES)}.")
        return value

    def validate_field_maps(self, value: dict) -> dict:
        unknown = sorted(set(value) - set(ENTITIES))
        if unknown:
            raise serializers.ValidationError(f"Unknown entities {unknown}; use {list(ENTITIES)}.")
        return value

    def validate_rate_limits(self, value: dict) -> dict:
        for name, limit in value.items():
            if limit is None:
                continue
            if (
                not isinstance(limit, dict)
                or not isinstance(limit.get("limit"), int)
                or isinstance(limit.get("limit"), bool)
                or limit["limit"] < 1
                or not isinstance(limit.get("window", 1), int | float)
                or limit.get("window", 1) <= 0
            ):
                raise serializers.ValidationError(
                    f'{name}: give {{"limit": N, "window": seconds}} with N >= 1, or null for unlimited.'
                )
        return value

    def validate_headers(self, value: dict) -> dict:
        for name in value:
            _param(name)
        return value

    def validate(self, attrs):
        test_entity = attrs.get("test_entity")
        if test_entity and test_entity not in attrs["endpoints"]:
            raise serializers.ValidationError(
                {"test_entity": [f"No endpoint is configured for {test_entity}."]}
            )
        return attrs


def preset_serializer(name: str, preset: dict) -> type[RestSettingsSerializer]:
    """A settings serializer whose defaults are a preset's (a connection overrides any key)."""
    return type(name, (RestSettingsSerializer,), {"preset": preset, "__module__": __name__})


@dataclass(frozen=True)
class RestConfig:
    """Validated settings, read by the connector (built once per connector instance)."""

    api_version: str
    base_path: str
    auth: dict[str, Any]
    paging: PagingConfig
    endpoints: dict[str, str]
    updated_since_param: str
    updated_since_format: str
    list_params: dict[str, str]
    id_path: str
    updated_at_path: str
    field_maps: dict[str, dict[str, str]]
    contacts: dict[str, Any]
    test_entity: str

    @classmethod
    def from_validated(cls, data: dict[str, Any]) -> "RestConfig":
        return cls(
            api_version=data["api_version"],
            base_path=data["base_path"],
            auth=dict(data["auth"]),
            paging=PagingConfig(**data["paging"]),
            endpoints=dict(data["endpoints"]),
            updated_since_param=data["updated_since_param"],
            updated_since_format=data["updated_since_format"],
            list_params=dict(data["list_params"]),
            id_path=data["id_path"],
            updated_at_path=data["updated_at_path"],
            field_maps={k: dict(v) for k, v in data["field_maps"].items()},
            contacts=dict(data["contacts"]),
            test_entity=data["test_entity"],
        )

    def endpoint_path(self, entity: str) -> str | None:
        path = self.endpoints.get(entity)
        if path is None:
            return None
        prefix = self.base_path.replace("{api_version}", self.api_version)
        return prefix.rstrip("/") + path.replace("{api_version}", self.api_version)
