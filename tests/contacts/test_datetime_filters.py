"""Date-time filters take any valid ISO offset (PostgreSQL accepts only ±15:59) and refuse what
cannot be a UTC moment with a 400, never a 500 (found by schemathesis on PostgreSQL)."""

import pytest

from tests.contacts.factories import ContactFactory, EventFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url,name", [("/api/v1/contacts/", "created_after"), ("/api/v1/events/", "starts_after")]
)
def test_an_offset_beyond_postgresql_s_range_is_read_as_utc(api_client, org, url, name):
    ContactFactory(organization=org)
    EventFactory(organization=org)
    response = api_client.get(url, {name: "2000-06-24T10:31:31-16:26"})
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 1
    later = api_client.get(url, {name: "5214-06-24T10:31:31-16:26"})
    assert later.status_code == 200 and later.json()["count"] == 0


@pytest.mark.parametrize("value", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+05:00"])
def test_a_moment_outside_the_utc_calendar_is_a_400(api_client, value):
    response = api_client.get("/api/v1/contacts/", {"updated_before": value})
    assert response.status_code == 400
    assert response.json()["code"] and "updated_before" in str(response.json()["details"])
