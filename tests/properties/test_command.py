"""manage.py properties load / export."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.models import AuditEvent
from properties.models import PropertyDefinition
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_org(settings):
    settings.DEFAULT_ORGANIZATION_SLUG = "demo"
    return OrganizationFactory(slug="demo", name="Demo")


def _run(*args):
    out, err = StringIO(), StringIO()
    call_command("properties", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_shipped_files_load_into_the_default_organization(demo_org):
    out, _ = _run("load", str(REPO / "properties/contact.json"), str(REPO / "properties/lead.json"))
    assert "contact.json (contacts): 22 created, 0 updated, 0 unchanged." in out
    assert "lead.json (leads): 21 created" in out
    assert PropertyDefinition.objects.filter(organization=demo_org, object_type="contacts").count() == 22
    services = PropertyDefinition.objects.get(organization=demo_org, name="what_service_do_you_need_")
    assert services.field_type == "checkbox"
    assert services.options[0] == {
        "label": "Restroom Trailer",
        "value": "Restroom Trailer",
        "display_order": 1,
        "hidden": False,
    }
    # a second load changes nothing
    out, _ = _run("load", str(REPO / "properties/contact.json"))
    assert "0 created, 0 updated, 22 unchanged" in out


def test_an_invalid_file_reports_every_error_and_writes_nothing(demo_org, tmp_path):
    path = tmp_path / "contact.json"
    path.write_text(
        json.dumps(
            [
                {"name": "good_one", "label": "Good", "type": "string", "fieldType": "text"},
                {"name": "Bad Name", "label": "", "type": "string", "fieldType": "select"},
                {
                    "name": "pick",
                    "label": "Pick",
                    "type": "enumeration",
                    "fieldType": "select",
                    "options": [],
                },
                {
                    "name": "dup_opts",
                    "label": "Dup",
                    "type": "enumeration",
                    "fieldType": "radio",
                    "options": [{"label": "A", "value": "a"}, {"label": "A again", "value": "a"}],
                },
                {"name": "good_one", "label": "Twice", "type": "number", "fieldType": "number"},
                {
                    "name": "flag",
                    "label": "Flag",
                    "type": "bool",
                    "fieldType": "booleancheckbox",
                    "options": [{"label": "Y", "value": "yes"}, {"label": "N", "value": "no"}],
                },
                "not an object",
            ]
        )
    )
    events_before = AuditEvent.objects.count()
    with pytest.raises(CommandError, match="1 file"):
        _run("load", str(path))
    assert not PropertyDefinition.objects.exists()
    assert AuditEvent.objects.count() == events_before


def test_invalid_file_messages_name_each_entry_and_field(demo_org, tmp_path):
    path = tmp_path / "lead.json"
    path.write_text(
        json.dumps(
            [
                {"name": "Bad Name", "label": "", "type": "string", "fieldType": "select"},
                {"name": "ok_field", "label": "Ok", "type": "datetime", "fieldType": "text"},
            ]
        )
    )
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("properties", "load", str(path), stdout=StringIO(), stderr=err)
    text = err.getvalue()
    assert "2 invalid property definition(s); nothing was loaded." in text
    assert "entry 0 (Bad Name) name:" in text
    assert "entry 0 (Bad Name) label: A label is required." in text
    assert "entry 0 (Bad Name) field_type:" in text
    assert "entry 1 (ok_field) field_type: Field type 'text' is not valid for type 'datetime'" in text


def test_one_bad_file_does_not_stop_the_others(demo_org, tmp_path):
    bad = tmp_path / "contact.json"
    bad.write_text("{not json")
    good = tmp_path / "lead.json"
    good.write_text(
        json.dumps([{"name": "score", "label": "Score", "type": "number", "fieldType": "number"}])
    )
    with pytest.raises(CommandError):
        _run("load", str(bad), str(good))
    assert list(PropertyDefinition.objects.values_list("object_type", "name")) == [("leads", "score")]


def test_export_round_trips(demo_org, tmp_path):
    _run("load", str(REPO / "properties/contact.json"), str(REPO / "properties/lead.json"))
    out_file = tmp_path / "export.json"
    _run("export", "--object-type", "contacts", "--out", str(out_file))
    exported = json.loads(out_file.read_text())
    shipped = json.loads((REPO / "properties/contact.json").read_text())
    assert {entry["name"] for entry in exported} == {entry["name"] for entry in shipped}
    first = next(entry for entry in exported if entry["name"] == "what_service_do_you_need_")
    assert first["fieldType"] == "checkbox" and first["groupName"] == "contactinformation"
    assert first["options"][0] == {
        "label": "Restroom Trailer",
        "value": "Restroom Trailer",
        "displayOrder": 1,
        "hidden": False,
    }
    # everything, keyed by object type, loads into another organization
    out, _ = _run("export")
    all_types = json.loads(out)
    assert set(all_types) == {"contacts", "leads"}
    OrganizationFactory(slug="other")
    path = tmp_path / "everything.json"
    path.write_text(out)
    _run("load", "--org", "other", str(path))
    assert PropertyDefinition.objects.filter(organization__slug="other").count() == 43


def test_unknown_organization_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="No organization"):
        _run("--org", "nope", "export")


def test_demo_seed_is_idempotent(org):
    from properties.demo import seed

    assert (
        seed(org)
        == "property definitions — contacts: 22 created, 0 unchanged; leads: 21 created, 0 unchanged"
    )
    assert seed(org).endswith("leads: 0 created, 21 unchanged")
    assert PropertyDefinition.objects.filter(organization=org).count() == 43
