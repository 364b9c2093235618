"""Demo contacts, events and registrations for bootstrap_demo.

Deterministic (a fixed random seed) and idempotent: rows are keyed by email and event
external_id, so a second run creates nothing. Emails use reserved example domains.
"""

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.services import audit_record_many
from contacts.models import Contact, Event, Registration
from contacts.signals import contacts_changed_on_commit

CONTACT_COUNT = 300
FIRST_NAMES = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Amelia",
    "Oliver",
    "Sophia",
    "Elijah",
    "Isabella",
    "James",
    "Ava",
    "William",
    "Mia",
    "Benjamin",
    "Evelyn",
    "Lucas",
    "Harper",
    "Henry",
    "Camila",
    "Theodore",
    "Gianna",
    "Jack",
    "Abigail",
    "Levi",
    "Luna",
    "Alexander",
    "Ella",
    "Jackson",
    "Elizabeth",
    "Mateo",
    "Sofia",
    "Daniel",
    "Emily",
    "Michael",
    "Avery",
    "Mason",
    "Mila",
    "Sebastian",
    "Scarlett",
    "Ethan",
    "Eleanor",
    "Logan",
    "Madison",
    "Owen",
    "Layla",
    "Samuel",
    "Penelope",
    "Jacob",
    "Aria",
    "Asher",
    "Chloe",
    "Aiden",
    "Grace",
    "John",
    "Ellie",
    "Joseph",
    "Nora",
    "Wyatt",
    "Hazel",
    "David",
    "Zoey",
    "Leo",
    "Riley",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Kim",
    "Patel",
    "Schmidt",
    "Müller",
    "Dubois",
    "Rossi",
    "Novak",
    "Silva",
    "Costa",
]
COMPANIES = (
    "Northwind Realty",
    "Blue Harbor Homes",
    "Summit Lending",
    "Cedar & Pine Interiors",
    "Lakeside Property Group",
    "Brightpath Insurance",
    "Oak Street Title",
    "Metro Home Inspections",
    "Granite Peak Builders",
    "Riverbend Mortgage",
    "",
    "",
)
JOB_TITLES = (
    "Realtor",
    "Broker",
    "Loan Officer",
    "Home Buyer",
    "Property Manager",
    "Interior Designer",
    "Investor",
    "Office Manager",
    "",
)
DOMAINS = ("example.com", "example.org", "example.net")
# The multi-checkbox property of properties/contact.json: its option values, so demo contacts
# carry multi-valued custom properties as real form leads do (and every push exercises them).
SERVICES_PROPERTY = "what_service_do_you_need_"
SERVICES = (
    "Restroom Trailer",
    "Shower Trailer",
    "Portable Toilet",
    "ADA Portable Toilet",
    "Handwashing Station",
    "Laundry Trailer",
)
TAGS = ("newsletter", "vip", "first-time-buyer", "investor", "webinar", "open-house", "referral")
EVENTS = (
    ("demo-open-house-spring", "Spring Open House", "123 Main St, Springfield", 10),
    ("demo-first-time-buyers", "First-Time Buyers Workshop", "Online", 21),
    ("demo-investor-meetup", "Real Estate Investor Meetup", "Riverside Hall", 35),
    ("demo-market-update", "Quarterly Market Update Webinar", "Online", -14),
)


def _custom_properties(rng: random.Random, extras: random.Random) -> dict:
    properties = {"lead_score": rng.randint(0, 100)} if rng.random() < 0.5 else {}
    if extras.random() < 0.4:
        picked = set(extras.sample(SERVICES, extras.randint(1, 3)))
        properties[SERVICES_PROPERTY] = [service for service in SERVICES if service in picked]
    return properties


def _contact_rows(rng: random.Random) -> list[dict]:
    # A second generator for the values added later, so the first keeps giving the same people.
    extras = random.Random(20240916)
    rows, seen = [], set()
    while len(rows) < CONTACT_COUNT:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{first}.{last}".lower().replace("ü", "ue")
        email = f"{local}{'' if local not in seen else len(rows)}@{rng.choice(DOMAINS)}"
        seen.add(local)
        roll = rng.random()
        rows.append(
            {
                "email": email,
                "first_name": first,
                "last_name": last,
                "phone": f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
                "company": rng.choice(COMPANIES),
                "job_title": rng.choice(JOB_TITLES),
                "subtype": "lead" if roll < 0.6 else ("prospect" if roll < 0.85 else "customer"),
                "status": rng.choices(["active", "inactive", "unsubscribed", "bounced"], [85, 7, 5, 3])[0],
                "source": rng.choices(["event", "api", "import", "manual"], [40, 25, 25, 10])[0],
                "tags": sorted(rng.sample(TAGS, rng.randint(0, 3))),
                "custom_properties": _custom_properties(rng, extras),
            }
        )
    return rows


@transaction.atomic
def seed(organization) -> str:
    """Create the demo rows that are missing; return a one-line summary."""
    rng = random.Random(20240915)  # fixed: every run wants the same people
    actor = Actor.system("demo")
    now = timezone.now()
    rows = _contact_rows(rng)
    existing = set(
        Contact.objects.filter(organization=organization, email__in=[r["email"] for r in rows]).values_list(
            "email", flat=True
        )
    )
    new_contacts = [
        Contact(organization=organization, created_by_type=actor.type, created_by_label=actor.label, **row)
        for row in rows
        if row["email"] not in existing
    ]
    for contact in new_contacts:
        contact.search_text_refresh()  # bulk_create skips save()
    Contact.objects.bulk_create(new_contacts, batch_size=500)

    events, events_created = [], 0
    for external_id, name, location, days in EVENTS:
        starts_at = (now + timedelta(days=days)).replace(hour=17, minute=0, second=0, microsecond=0)
        event, created = Event.objects.get_or_create(
            organization=organization,
            external_id=external_id,
            defaults={
                "name": name,
                "location": location,
                "starts_at": starts_at,
                "ends_at": starts_at + timedelta(hours=2),
                "description": f"{name} (demo data).",
            },
        )
        events.append(event)
        events_created += created

    contacts = list(Contact.objects.filter(organization=organization, email__in=[r["email"] for r in rows]))
    contacts.sort(key=lambda c: c.email)
    wanted = []
    for event in events:
        for contact in rng.sample(contacts, min(len(contacts), rng.randint(25, 60))):
            wanted.append((event, contact))
    have = set(Registration.objects.filter(event__in=events).values_list("event_id", "contact_id"))
    new_registrations = [
        Registration(event=event, contact=contact, registered_at=now, source="demo")
        for event, contact in wanted
        if (event.pk, contact.pk) not in have
    ]
    Registration.objects.bulk_create(new_registrations, ignore_conflicts=True, batch_size=500)

    audit_record_many(
        organization=organization,
        actor=actor,
        events=[
            {
                "action": "contact.created",
                "object_type": "contact",
                "object_id": c.pk,
                "changes": {"email": c.email},
            }
            for c in new_contacts
        ]
        + [
            {
                "action": "registration.created",
                "object_type": "contact",
                "object_id": r.contact.pk,
                "changes": {"event_id": str(r.event.pk), "event_name": r.event.name, "source": "demo"},
            }
            for r in new_registrations
        ],
    )
    if new_contacts:
        contacts_changed_on_commit(
            organization=organization,
            contact_ids=[c.pk for c in new_contacts],
            fields=list(rows[0]),
            action="created",
        )
    return (
        f"{len(new_contacts)} contacts, {events_created} events, "
        f"{len(new_registrations)} registrations created "
        f"({len(rows)} contacts, {len(events)} events in the demo set)"
    )
