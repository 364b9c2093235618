"""An unknown path under a sandbox answers that CRM's JSON 404, a wrong method its JSON 405.

Never Django's HTML page (in DEBUG, the URL list), with or without credentials.
"""

import pytest
from django.test import Client

from sandbox.models import SandboxRequestLog

pytestmark = pytest.mark.django_db

# kind, an unknown path, a known path with a method it does not take, and the error body's keys
CASES = [
    ("mautic", "/sandbox/mautic/api/nothing/here", ("put", "/sandbox/mautic/api/contacts/new")),
    ("n8n", "/sandbox/n8n/rest/workflows", None),
    ("rest", "/sandbox/rest/api/v2/contacts", ("delete", "/sandbox/rest/api/v1/health")),
    ("brivity", "/sandbox/brivity/v1/contacts/1/notes/2", ("delete", "/sandbox/brivity/v1/me")),
    ("topproducer", "/sandbox/topproducer/v3/contacts", ("get", "/sandbox/topproducer/oauth/token")),
]


def _mautic_shape(body, status):
    assert body == {
        "errors": [{"code": status, "message": body["errors"][0]["message"], "details": [], "type": None}]
    }


def _n8n_shape(body, status):
    assert body["code"] == status and body["message"]


def _restlike_shape(body, status):
    assert set(body) == {"error", "code", "details"}
    assert body["code"] == {404: "not_found", 405: "method_not_allowed"}[status]


SHAPES = {
    "mautic": _mautic_shape,
    "n8n": _n8n_shape,
    "rest": _restlike_shape,
    "brivity": _restlike_shape,
    "topproducer": _restlike_shape,
}


@pytest.fixture(params=[True, False], ids=["debug", "production"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.mark.parametrize(("kind", "unknown", "wrong_method"), CASES, ids=[case[0] for case in CASES])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_path_answers_the_crms_json_404(debug, kind, unknown, wrong_method, method):
    response = getattr(Client(), method)(unknown)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    SHAPES[kind](response.json(), 404)
    assert SandboxRequestLog.objects.filter(kind=kind, path=unknown, status=404).exists()


@pytest.mark.parametrize(
    ("kind", "unknown", "wrong_method"),
    [case for case in CASES if case[2]],
    ids=[c[0] for c in CASES if c[2]],
)
def test_a_known_path_with_a_wrong_method_answers_the_crms_json_405(debug, kind, unknown, wrong_method):
    method, path = wrong_method
    response = getattr(Client(), method)(path)
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    SHAPES[kind](response.json(), 405)


def test_the_mautic_404_names_the_path_and_carries_the_version_header(debug):
    response = Client().get("/sandbox/mautic/api/contacts/12/notes")
    assert (
        response.json()["errors"][0]["message"]
        == "Requested URL not found: /sandbox/mautic/api/contacts/12/notes"
    )
    assert response["Mautic-Version"]
