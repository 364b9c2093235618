"""Mautic contact fields (/api/fields/contact), /api/users/self and the OAuth2 token endpoint.

Field ids: the core fields are 1..n; created fields are above CUSTOM_FIELD_ID_OFFSET.
"""

import re

from django.db import IntegrityError, transaction

from sandbox.defaults import MAUTIC_FIELDS
from sandbox.emulators.mautic import (
    BUCKETS,
    CUSTOM_FIELD_ID_OFFSET,
    DIALECT,
    FIELD_TYPES,
    KIND,
    fields_all,
)
from sandbox.models import SandboxRecord, SandboxToken
from sandbox.runtime import Context, SandboxReject, dispatch, endpoint, json_response
from sandbox.store import constant_in, token_find, token_issue


def _field_data(body: dict, *, existing: set[str]) -> dict:
    label = body.get("label")
    if not isinstance(label, str) or not label.strip():
        raise SandboxReject(
            422, "label: A value is required.", extra={"details": {"label": ["A value is required."]}}
        )
    alias = body.get("alias") or re.sub(r"[^a-z0-9_]", "", label.lower().replace(" ", "_"))
    if not alias or alias in existing:
        raise SandboxReject(
            422,
            "alias: This alias is already used by another field.",
            extra={"details": {"alias": ["This alias is already used by another field."]}},
        )
    field_type = body.get("type", "text")
    if field_type not in FIELD_TYPES:
        raise SandboxReject(
            422,
            f"type: {field_type} is not a valid field type.",
            extra={"details": {"type": ["Invalid type."]}},
        )
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise SandboxReject(
            422,
            "description: This value should be of type string.",
            extra={"details": {"description": ["This value should be of type string."]}},
        )
    # PHP serialises an empty array as [], so a field without options answers "properties": [].
    properties = body.get("properties") or []
    if field_type in ("select", "multiselect") and not (
        isinstance(properties, dict) and properties.get("list")
    ):
        raise SandboxReject(
            422,
            "properties: list is required for select fields.",
            extra={"details": {"properties": ["list is required."]}},
        )
    return {
        "isPublished": body.get("isPublished", True),
        "label": label,
        "alias": alias,
        "description": description,
        "type": field_type,
        "group": body.get("group", "core"),
        "order": body.get("order", 0),
        "object": "lead",
        "defaultValue": body.get("defaultValue"),
        "isRequired": bool(body.get("isRequired", False)),
        "isPubliclyUpdatable": bool(body.get("isPubliclyUpdatable", False)),
        "isUniqueIdentifier": bool(body.get("isUniqueIdentifier", False)),
        "properties": properties,
    }


@endpoint(DIALECT, methods=("GET",), buckets=BUCKETS)
def field_list(request, ctx: Context):
    fields = fields_all()
    return json_response({"total": len(fields), "fields": fields})


@endpoint(DIALECT, methods=("POST",), buckets=BUCKETS)
def field_new(request, ctx: Context):
    data = _field_data(ctx.json(), existing={f["alias"] for f in fields_all()})
    try:
        with transaction.atomic():
            record = SandboxRecord.objects.create(
                kind=KIND, object_type="field", key=data["alias"], data=data
            )
    except IntegrityError:
        raise SandboxReject(422, "alias: This alias is already used by another field.")
    return json_response({"field": {**data, "id": record.pk + CUSTOM_FIELD_ID_OFFSET}}, status=201)


def _custom_field(field_id: int) -> SandboxRecord:
    record = SandboxRecord.objects.filter(
        kind=KIND, object_type="field", pk=field_id - CUSTOM_FIELD_ID_OFFSET
    ).first()
    if record is None:
        if 1 <= field_id <= len(MAUTIC_FIELDS):
            raise SandboxReject(403, "Core fields cannot be edited through the sandbox API.")
        raise SandboxReject(404, "Item was not found.")
    return record


@endpoint(DIALECT, methods=("GET",), buckets=BUCKETS)
def field_read(request, ctx: Context, field_id: int):
    field = next((f for f in fields_all() if f["id"] == field_id), None)
    if field is None:
        raise SandboxReject(404, "Item was not found.")
    return json_response({"field": field})


@endpoint(DIALECT, methods=("PATCH", "PUT"), buckets=BUCKETS)
def field_edit(request, ctx: Context, field_id: int):
    record = _custom_field(field_id)
    body = ctx.json()
    if "alias" in body and body["alias"] != record.key:
        raise SandboxReject(
            422, "alias: The alias cannot be changed.", extra={"details": {"alias": ["immutable"]}}
        )
    data = _field_data({**record.data, **body}, existing=set())
    record.data = data
    record.save(update_fields=["data"])
    return json_response({"field": {**data, "id": field_id}})


@endpoint(DIALECT, methods=("DELETE",), buckets=BUCKETS)
def field_delete(request, ctx: Context, field_id: int):
    record = _custom_field(field_id)
    body = {"field": {**record.data, "id": field_id}}
    record.delete()
    return json_response(body)


@endpoint(DIALECT, methods=("GET",), buckets=BUCKETS)
def user_self(request, ctx: Context):
    """GET /api/users/self: who the credentials belong to (the credential test)."""
    return json_response(
        {
            "id": 1,
            "username": ctx.principal,
            "firstName": "Sandbox",
            "lastName": "User",
            "email": "sandbox@example.com",
            "isPublished": True,
            "role": {"id": 1, "name": "Administrator", "isAdmin": True},
        }
    )


@endpoint(DIALECT, methods=("POST",), auth=False, inject=False)
def oauth_token(request, ctx: Context):
    """POST /oauth/v2/token: client_credentials and refresh_token grants."""
    form = request.POST
    clients = (ctx.config.credentials or {}).get("oauth_clients", [])
    client = next(
        (
            c
            for c in clients
            if constant_in(form.get("client_id", ""), [c.get("client_id", "")])
            and constant_in(form.get("client_secret", ""), [c.get("client_secret", "")])
        ),
        None,
    )
    if client is None:
        return json_response(
            {"error": "invalid_client", "error_description": "The client credentials are invalid"}, status=400
        )
    grant = form.get("grant_type")
    if grant == "refresh_token":
        if (
            token_find(
                kind=KIND, token_type=SandboxToken.TokenType.REFRESH, raw=form.get("refresh_token", "")
            )
            is None
        ):
            return json_response(
                {"error": "invalid_grant", "error_description": "Invalid refresh token"}, status=400
            )
    elif grant != "client_credentials":
        return json_response(
            {
                "error": "unsupported_grant_type",
                "error_description": "Mautic supports authorization_code, refresh_token and "
                "client_credentials; the sandbox the last two",
            },
            status=400,
        )
    ttl = int(ctx.option("access_token_ttl_seconds", 3600))
    subject = client["client_id"]
    return json_response(
        {
            "access_token": token_issue(kind=KIND, token_type="access", subject=subject, ttl_seconds=ttl),
            "expires_in": ttl,
            "token_type": "bearer",
            "scope": "",
            "refresh_token": token_issue(
                kind=KIND, token_type="refresh", subject=subject, ttl_seconds=14 * 86400
            ),
        }
    )


field_collection = dispatch(get=field_list)
