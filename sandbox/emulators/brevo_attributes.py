"""Brevo attributes API (/v3/contacts/attributes...) and the account endpoint (/v3/account).

Spec: ../shared/specs/brevo-v3-openapi.yml (getAttributes, createAttribute, updateAttribute, getAccount).
"""

from django.db import IntegrityError, transaction
from django.http import HttpResponse

from sandbox.emulators.brevo import CONTACT_BUCKETS, DIALECT, KIND, OTHER_BUCKETS, _attributes
from sandbox.models import SandboxRecord
from sandbox.runtime import Context, SandboxReject, dispatch, endpoint, json_response, no_content

ATTRIBUTE_CATEGORIES = ("normal", "transactional", "category", "calculated", "global")
ATTRIBUTE_TYPES = {"text", "date", "float", "boolean", "id", "category", "multiple-choice", "user"}


def _attribute_json(attribute: dict) -> dict:
    """An attribute as GET answers it. valueStr (the option's value as a string) is not in the
    spec file; Brevo's current API definition, which brevo-python 5.x follows, requires it."""
    if not attribute.get("enumeration"):
        return attribute
    options = [{**option, "valueStr": str(option["value"])} for option in attribute["enumeration"]]
    return {**attribute, "enumeration": options}


@endpoint(DIALECT, methods=("GET",), buckets=CONTACT_BUCKETS)
def attribute_list(request, ctx: Context):
    return json_response({"attributes": [_attribute_json(a) for a in _attributes().values()]})


def _attribute_body(ctx: Context, category: str, *, create: bool) -> dict:
    body = ctx.json()
    attr_type = body.get("type")
    if create and category in ("normal", "category", "transactional"):
        attr_type = attr_type or ("category" if category == "category" else "text")
        if attr_type not in ATTRIBUTE_TYPES:
            raise SandboxReject(
                400, f"type must be one of {sorted(ATTRIBUTE_TYPES)}", code="invalid_parameter"
            )
        allowed = {
            "normal": ATTRIBUTE_TYPES - {"id", "category"},
            "transactional": {"text", "date", "float", "boolean", "id"},
            "category": {"category"},
        }[category]
        if attr_type not in allowed:
            raise SandboxReject(
                400, f"type {attr_type} is not available for {category} attributes", code="invalid_parameter"
            )
    enumeration = body.get("enumeration")
    if enumeration is not None and (
        not isinstance(enumeration, list)
        or not all(
            isinstance(e, dict) and isinstance(e.get("value"), int) and isinstance(e.get("label"), str)
            for e in enumeration
        )
    ):
        raise SandboxReject(400, "enumeration must be [{value: int, label: str}]", code="invalid_parameter")
    if category == "category" and create and not enumeration:
        raise SandboxReject(400, "enumeration is required for category attributes", code="missing_parameter")
    data = {"category": category}
    if attr_type and attr_type not in ("category", "multiple-choice", "user"):
        data["type"] = attr_type
    for name in ("enumeration", "multiCategoryOptions"):
        if body.get(name) is not None:
            data[name] = body[name]
    if body.get("value") is not None:
        data["calculatedValue"] = str(body["value"])
    return data


@endpoint(DIALECT, methods=("POST",), buckets=CONTACT_BUCKETS)
def attribute_create(request, ctx: Context, category: str, name: str):
    if category not in ATTRIBUTE_CATEGORIES:
        raise SandboxReject(
            400, f"attributeCategory must be one of {ATTRIBUTE_CATEGORIES}", code="invalid_parameter"
        )
    upper = name.upper()
    if upper in _attributes():
        raise SandboxReject(400, "Attribute name must be unique", code="invalid_parameter")
    data = {"name": upper, **_attribute_body(ctx, category, create=True)}
    try:
        with transaction.atomic():
            SandboxRecord.objects.create(kind=KIND, object_type="attribute", key=upper, data=data)
    except IntegrityError:
        raise SandboxReject(400, "Attribute name must be unique", code="invalid_parameter")
    return HttpResponse(status=201)


def _custom_attribute(category: str, name: str) -> SandboxRecord:
    record = SandboxRecord.objects.filter(kind=KIND, object_type="attribute", key=name.upper()).first()
    if record is None or record.data.get("category") != category:
        raise SandboxReject(404, "Attribute not found", code="document_not_found")
    return record


@endpoint(DIALECT, methods=("PUT",), buckets=CONTACT_BUCKETS)
def attribute_update(request, ctx: Context, category: str, name: str):
    if category not in ("category", "calculated", "global", "normal"):
        raise SandboxReject(
            400, "attributeCategory must be category, calculated, global or normal", code="invalid_parameter"
        )
    record = _custom_attribute(category, name)
    changes = _attribute_body(ctx, category, create=False)
    changes.pop("category")
    record.data = {**record.data, **changes}
    record.save(update_fields=["data"])
    return no_content()


@endpoint(DIALECT, methods=("DELETE",), buckets=CONTACT_BUCKETS)
def attribute_delete(request, ctx: Context, category: str, name: str):
    _custom_attribute(category, name).delete()
    return no_content()


@endpoint(DIALECT, methods=("GET",), buckets=OTHER_BUCKETS)
def account(request, ctx: Context):
    """GET /v3/account: the credential test (100 requests an hour: cache it).

    organization_id, user_id and enterprise are not in the spec file; brevo-python 5.x (built
    from Brevo's current API definition) requires them.
    """
    return json_response(
        {
            "organization_id": "sandbox-organization",
            "user_id": 1,
            "enterprise": False,
            "email": "sandbox@example.com",
            "firstName": "Sandbox",
            "lastName": "Brevo",
            "companyName": "CRM Sync Hub Sandbox",
            "address": {
                "street": "1 Sandbox Street",
                "city": "Paris",
                "zipCode": "75001",
                "country": "France",
            },
            "plan": [{"type": "free", "creditsType": "sendLimit", "credits": 300.0}],
            "relay": {
                "enabled": True,
                "data": {"userName": "sandbox@example.com", "relay": "smtp-relay.brevo.com", "port": 587},
            },
            "marketingAutomation": {"enabled": False},
        }
    )


attribute_detail = dispatch(post=attribute_create, put=attribute_update, delete=attribute_delete)
