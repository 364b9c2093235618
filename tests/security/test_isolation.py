"""Tenant isolation, generated from the URL resolver: every pattern of the API and of the admin is
walked with organization B's API key (every scope) and B's staff user (every permission of the
project's apps, not a superuser) against organization A's objects.

- A pattern that names an object (pk, id, contact_id, object_id) is called, with every method it
  answers, on A's object: a read or write is a 404 (the admin's "does not exist" redirect), and the
  answer is the one a never-existing id gets, so it confirms nothing.
- Every other pattern is called with every method it answers, with bodies naming A's objects: the
  answer never shows A's data.
- After each request, every row that belongs to A is as it was (all columns, so updated_at too),
  and no row was added to or removed from A.

A new endpoint is covered the day it is added: the patterns come from the resolver, and one whose
path arguments this test cannot fill fails it, asking to be taught here.
"""

import re
import uuid

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.actors import Actor
from accounts.models import Organization, Scope
from accounts.services import api_key_create, audit_record
from contacts.models import Contact
from crm_sync.models import (
    AlertRule,
    CrmData,
    PullCursor,
    QueueAllRun,
    RecordSyncState,
    RemoteRecord,
    SyncConflict,
)
from tests.contacts.factories import ContactFactory, EventFactory, RegistrationFactory
from tests.crm_sync.factories import ContactSyncStateFactory, SyncRunFactory
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.integrations.factories import CrmConnectionFactory
from tests.properties.factories import PropertyDefinitionFactory, PropertySyncRunFactory
from webhooks.models import WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db

PROJECT_APPS = ("accounts", "contacts", "properties", "integrations", "crm_sync", "webhooks")
# Strings only A's rows hold: none may appear in an answer to B.
MARKERS = ("zqalpha",)
WRITE_METHODS = ("post", "put", "patch", "delete")
NEVER_ID = "987654321"
# Admin models that belong to no organization, and why B's staff user cannot reach A through them.
GLOBAL_ADMIN_MODELS = {
    "auth.user": "operators' accounts: superusers only (no permission is granted to staff here)",
    "auth.group": "superusers only",
    "django_celery_beat.periodictask": "schedules of the installation: superusers only",
    "django_celery_beat.clockedschedule": "superusers only",
    "django_celery_beat.crontabschedule": "superusers only",
    "django_celery_beat.solarschedule": "superusers only",
    "django_celery_beat.intervalschedule": "superusers only",
    "core.workerheartbeat": "worker liveness, no organization data",
    "axes.accessattempt": "login attempts: superusers only",
    "axes.accesslog": "superusers only",
    "axes.accessfailurelog": "superusers only",
    "sandbox.sandboxconfig": "the sandbox: superusers only, whatever the permissions",
    "sandbox.sandboxrecord": "the sandbox: superusers only",
    "sandbox.sandboxrequestlog": "the sandbox: superusers only",
    "sandbox.sandboxtoken": "the sandbox: superusers only",
    "sandbox.sandboxrateslot": "the sandbox: superusers only",
}


# ---- the two organizations ------------------------------------------------------------------
@pytest.fixture
def world(db):
    a = OrganizationFactory(name="Zqalpha Industries", slug="zqalpha")
    b = OrganizationFactory(name="Beta Ltd", slug="beta")
    a_user = UserFactory(username="zqalpha-staff", email="boss@zqalpha.example")
    MembershipFactory(user=a_user, organization=a)
    connection = CrmConnectionFactory(organization=a, kind="hubspot", name="zqalpha-hubspot")
    contact = ContactFactory(organization=a, email="ceo@zqalpha.example", first_name="Zqalpha")
    event = EventFactory(organization=a, name="Zqalpha launch")
    registration = RegistrationFactory(event=event, contact=contact)
    state = ContactSyncStateFactory(connection=connection, contact=contact, errored=True)
    run = SyncRunFactory(connection=connection)
    queue_all_run = QueueAllRun.objects.create(connection=connection, requested_at=timezone.now(), total=1)
    definition = PropertyDefinitionFactory(organization=a, name="zqalpha_score", label="Zqalpha score")
    property_run = PropertySyncRunFactory(organization=a)
    a_key, _ = api_key_create(organization=a, name="zqalpha-key", scopes=["read"])
    record = RemoteRecord.objects.create(
        organization=a,
        connection=connection,
        object_type="deals",
        remote_id="zqalpha-deal-1",
        fields={"name": "Zqalpha deal"},
        display_name="Zqalpha deal",
        fetched_at=timezone.now(),
    )
    record_state = RecordSyncState.objects.create(record=record, connection=connection)
    cursor = PullCursor.objects.create(connection=connection, object_type="contacts", cursor="zqalpha")
    conflict = SyncConflict.objects.create(
        organization=a,
        connection=connection,
        contact=contact,
        fields={"first_name": {"base": "Zqalpha", "local": "Zqalpha A", "remote": "Zqalpha B"}},
    )
    alert_rule = AlertRule.objects.create(connection=connection, emails="ops@zqalpha.example")
    subscription = WebhookSubscription.objects.create(
        organization=a, url="https://hooks.zqalpha.example/crm", events=["contact.created"]
    )
    delivery = WebhookDelivery.objects.create(
        subscription=subscription,
        event="contact.created",
        event_id=uuid.uuid4(),
        payload={"zqalpha": True},
        next_attempt_at=timezone.now(),
    )
    audit = audit_record(
        organization=a, actor=Actor.system("zqalpha"), action="zqalpha.test", object_type="x", object_id=1
    )

    b_user = UserFactory(username="beta-staff", is_superuser=False)
    MembershipFactory(user=b_user, organization=b)
    b_user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=(*PROJECT_APPS, "sandbox", "core"))
    )
    ContactFactory(organization=b, email="someone@beta.example")
    # Nothing listens there: B's own CRM calls fail fast (502), never reaching the network.
    CrmConnectionFactory(organization=b, kind="brevo", name="beta-brevo", base_url="http://127.0.0.1:9/v3")
    _, b_raw = api_key_create(organization=b, name="beta-admin", scopes=list(Scope.values))

    objects = {
        "accounts.organization": a,
        "accounts.organizationapikey": a_key,
        "accounts.auditevent": audit,
        "accounts.membership": a_user.memberships.get(),
        "auth.user": a_user,
        "contacts.contact": contact,
        "contacts.event": event,
        "contacts.registration": registration,
        "integrations.crmconnection": connection,
        "crm_sync.contactsyncstate": state,
        "crm_sync.syncrun": run,
        "crm_sync.queueallrun": queue_all_run,
        "crm_sync.remoterecord": record,
        "crm_sync.crmdata": CrmData.objects.get(pk=record.pk),
        "crm_sync.recordsyncstate": record_state,
        "crm_sync.pullcursor": cursor,
        "crm_sync.syncconflict": conflict,
        "crm_sync.alertrule": alert_rule,
        "webhooks.webhooksubscription": subscription,
        "webhooks.webhookdelivery": delivery,
        "properties.propertydefinition": definition,
        "properties.propertysyncrun": property_run,
    }
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {b_raw}")
    staff = Client()
    staff.force_login(b_user)
    return {"a": a, "b": b, "objects": objects, "api": api, "staff": staff, "contact": contact}


# ---- what belongs to A --------------------------------------------------------------------------
def _organization_path(model, depth: int = 0) -> str | None:
    """The lookup from `model` to its Organization ("organization", "contact__organization", …)."""
    if model is Organization:
        return "pk"
    relations = [f for f in model._meta.fields if f.is_relation and f.related_model is not None]
    for field in relations:
        if field.related_model is Organization:
            return field.name
    if depth < 2:
        for field in relations:
            if field.related_model._meta.app_label in PROJECT_APPS:
                inner = _organization_path(field.related_model, depth + 1)
                if inner and inner != "pk":
                    return f"{field.name}__{inner}"
    return None


def snapshot(a) -> dict:
    """Every row of A, every column, by model."""
    rows = {}
    for model in apps.get_models():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        path = _organization_path(model)
        assert path, (
            f"{model._meta.label} has no way to an organization: teach tests/security/test_isolation.py"
        )
        queryset = model.objects.filter(**{path: a.pk}).order_by("pk")
        rows[model._meta.label] = [
            model_to_dict(row, fields=[f.name for f in model._meta.fields]) for row in queryset
        ]
    return rows


def assert_shows_nothing_of_a(response, label: str):
    body = response.content.decode(errors="replace").lower()
    for marker in MARKERS:
        assert marker not in body, f"{label} showed A's data ({marker})"


# ---- the resolver ----------------------------------------------------------------------------
def _walk(patterns, prefix: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern.regex.pattern).lstrip("^"))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern.regex.pattern).lstrip("^"), entry


def _fill(regex: str, values: dict[str, str]) -> str:
    """A concrete path for a pattern's regex, with its named groups filled from `values`."""
    path = regex.replace("\\Z", "").replace("$", "").replace("\\.", ".")
    for name in re.findall(r"\(\?P<(\w+)>", path):
        assert name in values, f"cannot fill <{name}> in {regex}: teach tests/security/test_isolation.py"
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], path)
    path = path.replace("/?", "/").replace("?", "")
    return "/" + path


def _group_names(regex: str) -> set[str]:
    return set(re.findall(r"\(\?P<(\w+)>", regex))


def api_patterns():
    for regex, pattern in _walk(get_resolver().url_patterns):
        if regex.startswith("api/v1/"):
            yield regex, pattern


def admin_patterns():
    for regex, pattern in _walk(get_resolver().url_patterns):
        if regex.startswith("admin/"):
            yield regex, pattern


OBJECT_ARGUMENTS = {"pk", "id", "contact_id", "object_id", "record_id", "source"}


def _api_model(pattern, argument: str) -> str:
    if argument == "contact_id":
        return "contacts.contact"
    if argument == "record_id":
        return "crm_sync.remoterecord"
    if argument == "source":  # a source is named by its connection's id (or kind)
        return "integrations.crmconnection"
    view = getattr(pattern.callback, "cls", None)
    serializer = getattr(view, "serializer_class", None)
    model = getattr(getattr(serializer, "Meta", None), "model", None)
    assert model is not None, f"no model for <{argument}> of {view}: teach tests/security/test_isolation.py"
    return model._meta.label_lower


def _api_methods(pattern) -> list[str]:
    actions = getattr(pattern.callback, "actions", None)
    if actions:
        return [*actions, "options"]
    view = pattern.callback.cls
    return [m for m in ("get", "post", "put", "patch", "delete", "options") if hasattr(view, m)]


def _body_naming(world) -> dict:
    """A body for collection writes that names A's objects wherever an id or email can go."""
    contact = world["contact"]
    return {
        "contact_ids": [str(contact.pk)],
        "ids": [str(contact.pk)],
        "contact_id": str(contact.pk),
        "email": contact.email,
        "crm": "brevo",  # B's own CRM, so validation passes and the lookup is what answers
        "event": {"name": "Zqalpha launch"},
        "event_id": str(world["objects"]["contacts.event"].pk),
        "name": "b-made",
        "kind": "hubspot",
    }


def _call(client, method: str, path: str, data=None):
    if method in ("get", "options", "delete"):
        return getattr(client, method)(path)
    return getattr(client, method)(path, data or {}, format="json")


# ---- the API ------------------------------------------------------------------------------------
def test_every_api_pattern_keeps_b_out_of_a(world):
    before = snapshot(world["a"])
    checked = 0
    for regex, pattern in api_patterns():
        arguments = _group_names(regex)
        object_arguments = arguments & OBJECT_ARGUMENTS
        values = {"format": "json", "crm": "hubspot", "sync_type": "all", "action": "assign"}
        never = dict(values)
        for argument in object_arguments:
            a_object = world["objects"][_api_model(pattern, argument)]
            values[argument] = str(a_object.pk)
            never[argument] = str(uuid.UUID(int=7)) if isinstance(a_object.pk, uuid.UUID) else NEVER_ID
        path = _fill(regex, values)
        for method in _api_methods(pattern):
            label = f"{method.upper()} {path}"
            statuses = set()
            # An empty body, the least a sync call needs, and one naming A's objects everywhere:
            # whichever the view validates first, A's object never answers unlike a missing one.
            for body in ({}, {"crm": "brevo"}, _body_naming(world)):
                response = _call(world["api"], method, path, body)
                assert response.status_code != 500, f"{label}: {response.status_code}"
                assert_shows_nothing_of_a(response, label)
                if object_arguments:
                    twin = _call(world["api"], method, _fill(regex, never), body)
                    assert (response.status_code, response.content) == (twin.status_code, twin.content), (
                        f"{label} {body} answers A's object unlike a missing one"
                    )
                statuses.add(response.status_code)
                checked += 1
            if object_arguments and method != "options":
                assert 404 in statuses, f"{label}: {sorted(statuses)}, never 404"
            assert snapshot(world["a"]) == before, f"{label} changed A's rows"
    assert checked > 60  # the walk did reach the API


# ---- the admin ----------------------------------------------------------------------------------
def _admin_model_label(regex: str, pattern) -> str | None:
    model_admin = getattr(pattern.callback, "model_admin", None)
    if model_admin is not None:
        return model_admin.model._meta.label_lower
    # Extra views a ModelAdmin routes itself (e.g. a user's password form) sit under its prefix.
    match = re.match(r"admin/(\w+)/(\w+)/", regex)
    if match:
        for model in admin.site._registry:
            if (model._meta.app_label, model._meta.model_name) == match.groups():
                return model._meta.label_lower
    return None


def _admin_values(world, regex: str, label: str | None, name: str | None) -> tuple[dict, dict]:
    values = {"app_label": "contacts", "content_type_id": "1", "id": NEVER_ID, "url": "x", "verb": "push"}
    never = dict(values)
    if "connection_id" in _group_names(regex):  # a contact page's per-CRM Push now / Retry
        values["connection_id"] = str(world["objects"]["integrations.crmconnection"].pk)
        never["connection_id"] = NEVER_ID
    if name == "view_on_site":  # /admin/r/<content type>/<id>/: A's contact
        from django.contrib.contenttypes.models import ContentType

        values["content_type_id"] = never["content_type_id"] = str(
            ContentType.objects.get_for_model(Contact).pk
        )
        values["object_id"], never["object_id"] = str(world["contact"].pk), str(uuid.UUID(int=7))
        return values, never
    if "object_id" in _group_names(regex) or "id" in _group_names(regex):
        a_object = world["objects"].get(label)
        key = "object_id" if "object_id" in _group_names(regex) else "id"
        if a_object is None:
            assert label in GLOBAL_ADMIN_MODELS, f"the admin of {label} has object pages but no A object here"
            values[key] = never[key] = NEVER_ID
        else:
            values[key] = str(a_object.pk)
            never[key] = str(uuid.UUID(int=7)) if isinstance(a_object.pk, uuid.UUID) else NEVER_ID
    return values, never


def test_every_admin_pattern_keeps_b_out_of_a(world):
    staff = world["staff"]
    before = snapshot(world["a"])
    checked = 0
    for regex, pattern in admin_patterns():
        label = _admin_model_label(regex, pattern)
        if label is not None and label not in world["objects"] and label not in GLOBAL_ADMIN_MODELS:
            raise AssertionError(f"admin model {label}: add an A object or a reason to GLOBAL_ADMIN_MODELS")
        if pattern.name in ("logout",):
            continue  # B logging itself out shows nothing and would end the walk's session
        values, never = _admin_values(world, regex, label, pattern.name)
        path = _fill(regex, values)
        for method in ("get", "post"):
            request = f"{method.upper()} {path}"
            data = _admin_post_data(world, label)
            response = staff.get(path) if method == "get" else staff.post(path, data)
            assert response.status_code < 500, f"{request}: {response.status_code}"
            assert_shows_nothing_of_a(response, request)
            if values != never and label in GLOBAL_ADMIN_MODELS:
                # No permission on the model at all: refused whatever the id (Django's history page
                # answers 403 for an existing row and a redirect for a missing one; neither shows it).
                assert response.status_code in (302, 403), f"{request}: {response.status_code}"
            elif values != never:
                twin_path = _fill(regex, never)
                twin = staff.get(twin_path) if method == "get" else staff.post(twin_path, data)
                assert response.status_code != 200, f"{request} answered 200 for A's object"
                assert (
                    response.status_code,
                    response.get("Location", "").replace(values_id(values), "ID"),
                ) == (
                    twin.status_code,
                    twin.get("Location", "").replace(values_id(never), "ID"),
                ), f"{request} answers A's object unlike a missing one"
            checked += 1
        assert snapshot(world["a"]) == before, f"GET or POST {path} changed A's rows"
    assert checked > 100


def values_id(values: dict) -> str:
    return values.get("object_id") or values.get("id") or "\x00"


def _admin_post_data(world, label: str | None) -> dict:
    """A change form's worth of fields, plus every changelist action on A's object."""
    a_object = world["objects"].get(label)
    data = {
        "name": "b-was-here",
        "email": "b@beta.example",
        "organization": str(world["a"].pk),
        "post": "yes",
        "index": "0",
    }
    if a_object is not None:
        data["_selected_action"] = [str(a_object.pk)]
    return data


def test_admin_changelist_actions_on_a_s_rows_change_nothing(world):
    """Every action of every admin, posted by B with A's row selected."""
    staff = world["staff"]
    before = snapshot(world["a"])
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        a_object = world["objects"].get(label)
        if a_object is None:
            continue
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        request = staff.get(url).wsgi_request
        for action in model_admin.get_actions(request):
            response = staff.post(
                url, {"action": action, "_selected_action": [str(a_object.pk)], "post": "yes"}
            )
            assert response.status_code < 500, f"{action} on {label}: {response.status_code}"
            assert_shows_nothing_of_a(response, f"{action} on {label}")
            assert snapshot(world["a"]) == before, f"action {action} on {label} changed A's rows"


def test_admin_autocompletes_offer_only_b_s_rows(world):
    staff = world["staff"]
    for model, model_admin in admin.site._registry.items():
        for owner in [model_admin, *[inline(model, admin.site) for inline in model_admin.inlines]]:
            for field_name in getattr(owner, "autocomplete_fields", ()):
                response = staff.get(
                    "/admin/autocomplete/",
                    {
                        "app_label": owner.model._meta.app_label,
                        "model_name": owner.model._meta.model_name,
                        "field_name": field_name,
                        "term": "",
                    },
                )
                assert response.status_code in (200, 403), response.status_code
                assert_shows_nothing_of_a(response, f"autocomplete {owner.model._meta.label}.{field_name}")


def test_the_walk_would_see_a_leak(world):
    """The markers are where the walk looks: A's own staff user sees them."""
    a_staff = Client()
    a_staff.force_login(UserFactory(is_superuser=True))
    page = a_staff.get(f"/admin/contacts/contact/{world['contact'].pk}/change/")
    assert "zqalpha" in page.content.decode().lower()


def test_format_suffix_urls_are_not_routed(api_client):
    """/contacts.json/ was a 500 (the viewsets take no `format`); the Accept header chooses instead."""
    assert api_client.get("/api/v1/contacts.json/").status_code == 404
    assert api_client.get("/api/v1/contacts/?format=json").status_code == 200
