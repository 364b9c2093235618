"""from-event under concurrency on PostgreSQL: racing registrations of one email for one new
event write one event, one contact, one registration, and every request succeeds."""

import contextlib
import threading

import pytest
from django.db import connection

from accounts.actors import Actor
from accounts.models import AuditEvent
from contacts.models import Contact, Event, Registration
from contacts.services.from_event import contact_register_from_event

pytestmark = [pytest.mark.requires_postgres, pytest.mark.django_db(transaction=True)]

THREADS = 6


def race(org, emails: list[str]) -> tuple[list, list]:
    barrier = threading.Barrier(len(emails))
    results, errors = [], []
    lock = threading.Lock()

    def run(email):
        try:
            barrier.wait()
            result = contact_register_from_event(
                organization=org,
                actor=Actor.system("race"),
                contact_data={"email": email},
                event_data={"external_id": "race-event", "name": "Race"},
            )
            with lock:
                results.append(result)
        except Exception as exc:  # noqa: BLE001 - the test reports every failure
            with lock:
                errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(email,)) for email in emails]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def test_racing_registrations_of_one_email_for_a_new_event_write_each_row_once(org):
    results, errors = race(org, ["Same@Example.com"] * THREADS)
    assert errors == []
    assert len(results) == THREADS
    assert Event.objects.filter(organization=org, external_id="race-event").count() == 1
    assert Contact.objects.filter(organization=org, email="same@example.com").count() == 1
    assert Registration.objects.count() == 1
    assert sum(r.contact_created for r in results) == 1
    assert sum(r.event_created for r in results) == 1
    assert sum(r.registration_created for r in results) == 1
    assert len({r.registration.pk for r in results}) == 1
    # Audited once each: what was written, not what was attempted.
    assert AuditEvent.objects.filter(action="contact.created_from_event").count() == 1
    assert AuditEvent.objects.filter(action="registration.created").count() == 1
    assert AuditEvent.objects.filter(action="event.created").count() == 1


def test_racing_registrations_of_different_emails_all_register(org):
    emails = [f"p{n}@example.com" for n in range(THREADS)]
    results, errors = race(org, emails)
    assert errors == []
    assert Event.objects.filter(organization=org).count() == 1
    assert Contact.objects.filter(organization=org).count() == THREADS
    assert Registration.objects.count() == THREADS


def test_racing_registrations_for_a_new_event_known_by_name_alone_create_it_once(org, monkeypatch):
    """No external_id: nothing in the schema makes an event name unique. Each racing request
    waits (up to a second) for the other inside event creation: without the organization lock
    both would get there and create an event each."""
    from contacts.services import from_event

    created = from_event.event_create
    meet = threading.Barrier(2, timeout=1)

    def event_create_when_both_are_here(**kwargs):
        # Times out when the other request is waiting for the lock: expected.
        with contextlib.suppress(threading.BrokenBarrierError):
            meet.wait()
        return created(**kwargs)

    monkeypatch.setattr(from_event, "event_create", event_create_when_both_are_here)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run(email):
        try:
            barrier.wait()
            results.append(
                contact_register_from_event(
                    organization=org,
                    actor=Actor.system("race"),
                    contact_data={"email": email},
                    event_data={"name": "Spring Open House"},
                )
            )
        except Exception as exc:  # noqa: BLE001 - the test reports every failure
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(f"p{n}@example.com",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert Event.objects.filter(organization=org, name="Spring Open House").count() == 1
    assert sorted(r.event_created for r in results) == [False, True]
    assert len({r.event.pk for r in results}) == 1 and Registration.objects.count() == 2
