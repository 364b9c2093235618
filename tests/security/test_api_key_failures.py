"""Failed API-key authentications are throttled per client address."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

URL = "/api/v1/contacts/"


@pytest.fixture(autouse=True)
def _small_limit(settings):
    settings.API_KEY_FAILURE_LIMIT = 3
    settings.API_KEY_FAILURE_WINDOW_SECONDS = 120


def call(header: str, *, address: str = "203.0.113.7"):
    client = APIClient(REMOTE_ADDR=address)
    return client.get(URL, HTTP_AUTHORIZATION=header)


def test_an_address_that_keeps_failing_gets_429_with_the_error_body_and_retry_after(org):
    assert [call("Api-Key nope.wrong").status_code for _ in range(3)] == [401] * 3
    response = call("Api-Key nope.wrong")
    assert response.status_code == 429
    body = response.json()
    assert set(body) == {"error", "code", "details"} and body["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 120
    assert body["details"]["retry_after"] == int(response["Retry-After"])


def test_a_valid_key_from_a_throttled_address_is_refused_too(org, make_api_client):
    raw = make_api_client(org).raw_key
    for _ in range(3):
        call("Bearer nope.wrong")
    # otherwise a guesser could tell a hit from the throttle
    assert call(f"Api-Key {raw}").status_code == 429
    assert call(f"Api-Key {raw}", address="198.51.100.9").status_code == 200


def test_malformed_and_revoked_keys_count_as_failures(org, make_api_client):
    from accounts.services import api_key_revoke

    revoked = make_api_client(org)
    api_key_revoke(api_key=revoked.api_key)
    assert call("Basic dXNlcjpwYXNz").status_code == 401
    assert call("Api-Key").status_code == 401
    assert call(f"Api-Key {revoked.raw_key}").status_code == 401
    assert call("Api-Key nope.wrong").status_code == 429


def test_successes_neither_count_nor_reset_the_failures(org, make_api_client):
    raw = make_api_client(org).raw_key
    for _ in range(2):
        call("Api-Key nope.wrong")
    assert [call(f"Api-Key {raw}").status_code for _ in range(5)] == [200] * 5
    assert call("Api-Key nope.wrong").status_code == 401
    assert call("Api-Key nope.wrong").status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(org, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(3):
        APIClient(REMOTE_ADDR="10.0.0.2").get(
            URL, HTTP_AUTHORIZATION="Api-Key nope.wrong", HTTP_X_FORWARDED_FOR="spoofed, 203.0.113.7"
        )
    other_client = APIClient(REMOTE_ADDR="10.0.0.2").get(
        URL, HTTP_AUTHORIZATION="Api-Key nope.wrong", HTTP_X_FORWARDED_FOR="198.51.100.9"
    )
    assert other_client.status_code == 401  # same proxy, another client: not throttled
    same_client = APIClient(REMOTE_ADDR="10.0.0.2").get(
        URL, HTTP_AUTHORIZATION="Api-Key nope.wrong", HTTP_X_FORWARDED_FOR="other-spoof, 203.0.113.7"
    )
    assert same_client.status_code == 429  # the client cannot escape by writing its own prefix
