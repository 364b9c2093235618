"""What one request of the contacts API costs, and that the cheaper paths answer as the full ones.

The query counts are the production path's: commits and their after-commit hooks (auto-sync
queueing, webhook events) run, with the organization's flags cached as they are after its
first request. Guards, not timings.
"""

import pytest
from django.db import connection
from django.http import QueryDict
from rest_framework import serializers

from contacts.api.serializers import ContactOutputSerializer
from contacts.filters import ContactFilter
from contacts.models import Contact, Registration
from contacts.selectors import contact_list
from tests.contacts.factories import ContactFactory, EventFactory, RegistrationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/contacts/"
BODY = {
    "email": "someone@example.com",
    "first_name": "Some",
    "last_name": "One",
    "company": "Acme",
    "tags": ["bench", "vip"],
    "custom_properties": {"score": 3},
}


@pytest.fixture
def warm_client(api_client, org, django_capture_on_commit_callbacks):
    """A client whose key row and organization flags are cached, as after any first request."""
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            api_client.post(URL, {"email": "first@example.com", "custom_properties": {"a": 1}}).status_code
            == 201
        )
        assert api_client.post(
            f"{URL}from-event/", {"contact": {"email": "f@example.com"}, "event": {"name": "W"}}
        )
    return api_client


def test_create_costs_its_two_inserts_in_one_transaction(
    warm_client, django_assert_num_queries, django_capture_on_commit_callbacks
):
    # usage, SAVEPOINT (the test's transaction stands for BEGIN), INSERT contact, INSERT audit
    # (on PostgreSQL one statement with the contact's), RELEASE (COMMIT); after the commit
    # nothing: no auto-sync connection, no subscription. Without the test's transaction
    # PostgreSQL's is usage and the one statement (tests/contacts/test_create_one_statement.py).
    expected = 4 if connection.vendor == "postgresql" else 5
    with django_assert_num_queries(expected), django_capture_on_commit_callbacks(execute=True):
        response = warm_client.post(URL, BODY)
    assert response.status_code == 201


def test_list_page_costs_a_count_and_the_page(warm_client, org, django_assert_num_queries):
    ContactFactory.create_batch(30, organization=org)
    with django_assert_num_queries(3):  # usage, COUNT, page
        response = warm_client.get(URL, {"limit": 100, "ordering": "created_at", "offset": 0})
    assert response.status_code == 200
    assert response.json()["count"] == 32


@pytest.mark.parametrize(
    ("case", "expected", "status"),
    [
        # usage, BEGIN, event, contact, SAVEPOINT, INSERT contact, its audit (on PostgreSQL in
        # the contact's statement), RELEASE, INSERT registration (a new contact needs no look
        # for one), its audit, COMMIT
        ("new contact", 11, 201),
        # usage, BEGIN, event, contact, registration?, SAVEPOINT, INSERT, RELEASE, audit, COMMIT
        ("known contact", 10, 200),
        # usage, BEGIN, event, contact, registration found, COMMIT
        ("registered again", 6, 200),
    ],
)
def test_from_event_query_count(
    warm_client, org, case, expected, status, django_assert_num_queries, django_capture_on_commit_callbacks
):
    event = EventFactory(organization=org, external_id="ev-1", name="Event")
    body = {"contact": {"email": "reg@example.com"}, "event": {"external_id": "ev-1"}}
    if case != "new contact":
        contact = ContactFactory(organization=org, email="reg@example.com")
    if case == "registered again":
        RegistrationFactory(event=event, contact=contact)
    if case == "new contact" and connection.vendor == "postgresql":
        expected -= 1
    with django_assert_num_queries(expected), django_capture_on_commit_callbacks(execute=True):
        response = warm_client.post(f"{URL}from-event/", body)
    assert response.status_code == status
    assert response.json()["event_id"] == str(event.pk)
    assert Registration.objects.filter(event=event, contact__email="reg@example.com").count() == 1


def test_output_matches_the_serializer_fields(org):
    """contact_representation renders what the declared DRF fields would, field for field."""
    contact = ContactFactory(
        organization=org,
        email="x@example.com",
        tags=["a", "b"],
        custom_properties={"n": 1, "when": "2024-01-01"},
        created_by_type="api_key",
        created_by_label="api_key:abc (k)",
    )
    contact = Contact.objects.get(pk=contact.pk)
    fast = ContactOutputSerializer(contact).data
    full = serializers.ModelSerializer.to_representation(ContactOutputSerializer(), contact)
    assert dict(fast) == dict(full)
    assert list(fast) == list(full)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "ordering=created_at",
        "ordering=-email,created_at",
        "limit=5&offset=2",
        "ordering=",
        "ordering=last_name",
    ],
)
def test_a_page_without_filters_is_ordered_as_the_filterset_would(org, query):
    for n in range(6):
        ContactFactory(organization=org, email=f"p{5 - n}@example.com", last_name=f"L{n % 2}")
    params = QueryDict(query)
    fast = list(contact_list(organization=org, filters=params).values_list("pk", flat=True))
    queryset = Contact.objects.filter(organization=org).order_by("-created_at", "-id")
    full = list(ContactFilter(data=params, queryset=queryset).qs.values_list("pk", flat=True))
    assert fast == full


@pytest.mark.parametrize("ordering", ["password", "-nope", "email,nope"])
def test_a_bad_ordering_still_is_a_400(api_client, ordering):
    response = api_client.get(URL, {"ordering": ordering})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_filter"
