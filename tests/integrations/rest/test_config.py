"""Settings validation of REST connections, and preset merging."""

import pytest

from integrations.connectors.brivity.presets import BRIVITY_SETTINGS
from integrations.connectors.rest.config import (
    RestConfig,
    RestSettingsSerializer,
    deep_merge,
    preset_serializer,
)


def validate(data, serializer_class=RestSettingsSerializer):
    serializer = serializer_class(data=data)
    valid = serializer.is_valid()
    return valid, (serializer.validated_data if valid else serializer.errors)


def test_empty_settings_take_every_default():
    valid, data = validate({})
    assert valid, data
    config = RestConfig.from_validated(data)
    assert config.auth["type"] == "api_key"
    assert config.paging.style == "page"
    assert config.paging.page_size == 100
    assert config.updated_since_param == "updated_since"
    assert config.endpoints == {}


def test_full_settings_are_kept():
    valid, data = validate(
        {
            "api_version": "v2",
            "base_path": "/api/{api_version}",
            "auth": {"type": "jwt", "login_path": "/auth/login", "username_field": "email"},
            "paging": {"style": "cursor", "cursor_param": "after", "next_cursor_path": "meta.next"},
            "endpoints": {"contacts": "/contacts", "projects": "/projects"},
            "field_maps": {"contacts": {"first_name": "name.first"}},
            "rate_limits": {"default": {"limit": 10, "window": 1}},
            "test_entity": "projects",
        }
    )
    assert valid, data
    config = RestConfig.from_validated(data)
    assert config.endpoint_path("contacts") == "/api/v2/contacts"
    assert config.endpoint_path("deals") is None
    assert config.auth["username_field"] == "email"
    assert config.paging.cursor_param == "after"
    assert config.field_maps == {"contacts": {"first_name": "name.first"}}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"auth": {"type": "kerberos"}}, "auth"),
        ({"auth": {"format": "Bearer token"}}, "auth"),
        ({"paging": {"style": "link"}}, "paging"),
        ({"paging": {"page_size": 0}}, "paging"),
        ({"paging": {"page_size": 5000}}, "paging"),
        ({"endpoints": {"invoices": "/invoices"}}, "endpoints"),
        ({"endpoints": {"contacts": "contacts"}}, "endpoints"),
        ({"endpoints": {"contacts": "/contacts?x=1"}}, "endpoints"),
        ({"field_maps": {"widgets": {}}}, "field_maps"),
        ({"field_maps": {"contacts": {"first_name": "bad path!"}}}, "field_maps"),
        ({"updated_since_param": "a b"}, "updated_since_param"),
        ({"updated_since_format": "rfc822"}, "updated_since_format"),
        ({"test_entity": "deals"}, "test_entity"),
        ({"rate_limits": {"default": {"limit": 0}}}, "rate_limits"),
        ({"rate_limits": {"default": "fast"}}, "rate_limits"),
        ({"auth": {"token_url": "ftp://x/token"}}, "auth"),
    ],
)
def test_bad_settings_name_the_field(data, field):
    valid, errors = validate(data)
    assert not valid
    assert field in errors


def test_settings_must_be_an_object():
    valid, errors = validate(["not", "a", "dict"])
    assert not valid
    assert "non_field_errors" in errors


def test_unlimited_rate_limit_is_valid():
    valid, data = validate({"rate_limits": {"default": None}})
    assert valid, data


def test_preset_serializer_merges_overrides_over_the_preset():
    serializer_class = preset_serializer("BrivityTestSerializer", BRIVITY_SETTINGS)
    valid, data = validate(
        {"endpoints": {"deals": "/transactions"}, "field_maps": {"contacts": {"phone": "mobile_phone"}}},
        serializer_class,
    )
    assert valid, data
    assert data["auth"]["format"] == "Token token={key}"
    assert data["endpoints"] == {"contacts": "/contacts", "deals": "/transactions"}
    assert data["field_maps"]["contacts"]["phone"] == "mobile_phone"
    assert data["field_maps"]["contacts"]["first_name"] == "first_name"
    # The preset dict itself is untouched.
    assert BRIVITY_SETTINGS["endpoints"]["deals"] == "/deals"


def test_deep_merge_replaces_scalars_and_lists():
    assert deep_merge({"a": {"b": 1, "c": [1]}, "d": 1}, {"a": {"c": [2]}, "d": 2}) == {
        "a": {"b": 1, "c": [2]},
        "d": 2,
    }


def test_null_removes_a_preset_key():
    merged = deep_merge({"endpoints": {"contacts": "/c", "deals": "/d"}}, {"endpoints": {"deals": None}})
    assert merged == {"endpoints": {"contacts": "/c"}}
    # A null for a key the base lacks is kept (rate_limits: {"default": null} means unlimited).
    assert deep_merge({}, {"rate_limits": {"default": None}}) == {"rate_limits": {"default": None}}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"read_timeout": "soon"}, "read_timeout"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"headers": {"bad header": "x"}}, "headers"),
        ({"headers": {"X-Ok": ["list"]}}, "headers"),
    ],
)
def test_http_client_settings_are_validated(data, field):
    valid, errors = validate(data)
    assert not valid
    assert field in errors


def test_http_client_settings_are_kept():
    valid, data = validate({"headers": {"X-Tenant": "t1"}, "read_timeout": 3})
    assert valid, data
    assert data["headers"] == {"X-Tenant": "t1"}
