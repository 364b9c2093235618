"""Walk the generated OpenAPI schema: every operation is documented for the people who call it."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from core.openapi import base_docstrings, normalized
from crm_sync.connections import push_kinds

pytestmark = pytest.mark.django_db
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def has_example(media: dict) -> bool:
    return "example" in media or bool(media.get("examples"))


def test_every_operation_is_documented_for_its_users(schema):
    bases = base_docstrings()
    problems = []
    for path, method, operation in operations(schema):
        where = f"{method.upper()} {path}"
        if not operation.get("summary"):
            problems.append(f"{where}: no summary")
        description = normalized(operation.get("description"))
        if not description:
            problems.append(f"{where}: no description")
        elif description in bases or any(description.startswith(base) for base in bases):
            problems.append(f"{where}: a base class's docstring as description")
        for media in operation.get("requestBody", {}).get("content", {}).values():
            if not has_example(media):
                problems.append(f"{where}: no request example")
        statuses = operation["responses"]
        success = [s for s in statuses if s.startswith("2")]
        if not success:
            problems.append(f"{where}: no success response")
        for status in success:
            for media in statuses[status].get("content", {}).values():
                if not has_example(media):
                    problems.append(f"{where}: no example of its {status}")
        expected = {"401", "403", "429", "500"}
        if "requestBody" in operation:
            expected |= {"400", "413", "415"}
        if "{" in path:
            expected.add("404")
        problems += [f"{where}: undocumented {s}" for s in sorted(expected - set(statuses))]
        for status, response in statuses.items():
            if status.startswith(("4", "5")):
                for media in response.get("content", {}).values():
                    if not has_example(media):
                        problems.append(f"{where}: no example of its {status}")
    assert problems == []


def test_crm_is_an_enum_of_the_kinds_wherever_it_is_a_query_or_body_field(schema):
    kinds = push_kinds()
    components = schema["components"]["schemas"]
    seen = 0
    for _path, _method, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "crm" and parameter["in"] == "query":
                assert parameter["schema"]["enum"] == kinds
                seen += 1
        for media in operation.get("requestBody", {}).get("content", {}).values():
            ref = media["schema"].get("$ref", "")
            body = components.get(ref.rsplit("/", 1)[-1], {})
            if "crm" in body.get("properties", {}):
                assert body["properties"]["crm"].get("enum") == kinds, ref
                seen += 1
    assert seen >= 8  # the sync endpoints' query and bodies


def test_the_error_body_and_its_details_shape_are_documented(schema):
    error = schema["components"]["schemas"]["ErrorBody"]
    assert error["required"] == ["error", "code", "details"]
    assert "field paths" in error["description"]


def test_the_examples_agree_with_the_api(api_client):
    """The 400 example is the answer a real request gets (every problem at once, by field)."""
    from core.openapi import ERRORS

    code, message, details = ERRORS["400"]
    response = api_client.post("/api/v1/contacts/", {"email": "nope", "emial": "x"}, format="json")
    assert response.json() == {"error": message, "code": code, "details": details}
