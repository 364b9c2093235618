"""Every API error kind answers with the project's error body."""

import json
import logging

import pytest
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.error_urls")]


def assert_error_body(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error", "code", "details"}
    assert body["error"]
    if code:
        assert body["code"] == code
    return body


def test_validation_error_lists_field_errors(api_client):
    body = assert_error_body(
        api_client.post("/api/v1/_test/echo/", {"name": "too long"}), 400, "validation_error"
    )
    assert "name" in body["details"]


def test_malformed_json_is_400(api_client):
    response = api_client.generic("POST", "/api/v1/_test/echo/", "{not json", content_type="application/json")
    assert_error_body(response, 400, "parse_error")


def test_missing_key_is_401_with_challenge(anon_client):
    response = anon_client.get("/api/v1/_test/echo/")
    assert_error_body(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Api-Key")


def test_wrong_scope_is_403(org, make_api_client):
    client = make_api_client(org, scopes=["read"])
    assert_error_body(client.post("/api/v1/_test/echo/", {"name": "a"}), 403, "insufficient_scope")


def test_unknown_api_url_is_404_json(api_client):
    assert_error_body(api_client.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_wrong_method_is_405(api_client):
    assert_error_body(api_client.delete("/api/v1/_test/echo/"), 405, "method_not_allowed")


def test_wrong_content_type_is_415(api_client):
    response = api_client.generic("POST", "/api/v1/_test/echo/", "name=a", content_type="text/plain")
    assert_error_body(response, 415, "unsupported_media_type")


def test_body_over_limit_is_413(api_client, settings):
    payload = json.dumps({"name": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    response = api_client.generic("POST", "/api/v1/_test/echo/", payload, content_type="application/json")
    body = assert_error_body(response, 413, "request_too_large")
    assert body["details"]["max_bytes"] == settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def test_unhandled_error_is_500_with_request_id_and_nothing_internal(api_client, caplog):
    caplog.set_level(logging.ERROR)
    response = api_client.get("/api/v1/_test/broken/", HTTP_X_REQUEST_ID="req-123")
    body = assert_error_body(response, 500, "server_error")
    assert body["details"] == {"request_id": "req-123"}
    assert "hunter2" not in response.content.decode()
    assert "RuntimeError" not in response.content.decode()
    assert any("Unhandled error" in r.getMessage() for r in caplog.records)


def test_django_level_500_outside_drf_is_json(db, settings):
    """A crash before DRF (here: in URL resolution of a non-DRF path) still gets the error body."""
    from django.test import RequestFactory

    from core.views import error_500

    request = RequestFactory().get("/api/v1/anything/")
    request.request_id = "abc"
    response = error_500(request)
    assert response.status_code == 500
    assert json.loads(response.content) == {
        "error": "Internal server error.",
        "code": "server_error",
        "details": {"request_id": "abc"},
    }


def test_throttled_is_429_with_retry_after(org, make_api_client):
    client = make_api_client(org, rate_limit="2/min")
    assert client.get("/api/v1/_test/echo/").status_code == 200
    assert client.get("/api/v1/_test/echo/").status_code == 200
    response = client.get("/api/v1/_test/echo/")
    body = assert_error_body(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert body["details"]["retry_after"] == int(response["Retry-After"])


def test_throttle_is_per_key(org, make_api_client):
    first = make_api_client(org, rate_limit="1/min")
    second = make_api_client(org, rate_limit="1/min")
    assert first.get("/api/v1/_test/echo/").status_code == 200
    assert first.get("/api/v1/_test/echo/").status_code == 429
    assert second.get("/api/v1/_test/echo/").status_code == 200


def test_request_id_is_echoed(api_client):
    response = api_client.get("/api/v1/_test/echo/", HTTP_X_REQUEST_ID="trace-1")
    assert response["X-Request-ID"] == "trace-1"
    generated = api_client.get("/api/v1/_test/echo/")["X-Request-ID"]
    assert len(generated) == 32


def test_non_api_404_stays_html(db):
    response = Client().get("/not-an-api-page/")
    assert response.status_code == 404
    assert "json" not in response["Content-Type"]
