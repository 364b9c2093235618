"""drf-spectacular post-processing: what every operation of the schema must carry.

Fills only what a view left out (an explicit `extend_schema` always wins), so the schema stays
honest as views grow: a summary and a description written for the API's users (never a base
class's docstring), a request and a response example, every error the operation can answer with
the project's error body, and `crm` as an enum of the CRM kinds.
"""

import copy
import re

from config.api_descriptions import OPERATIONS, UNPROCESSABLE_OPERATIONS

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error of the API. `details` is always an object; for `validation_error` "
    "its keys are field paths (nested objects joined with dots, list items by index: "
    "`contact.email`, `contact_ids.3`, `non_field_errors` for the body as a whole) and its values "
    "lists of messages; other codes put their context there (e.g. `retry_after`, `valid`).",
    "required": ["error", "code", "details"],
    "properties": {
        "error": {"type": "string", "description": "For a person."},
        "code": {"type": "string", "description": "Stable machine code."},
        "details": {"type": "object", "additionalProperties": True},
    },
}

# (code, message, details) of each status an operation may answer with.
ERRORS = {
    "400": (
        "validation_error",
        "Invalid input.",
        {"email": ["Enter a valid email address."], "emial": ["Unknown field."]},
    ),
    "401": ("not_authenticated", "Authentication credentials were not provided.", {}),
    "403": ("insufficient_scope", "This API key lacks the scope this call needs.", {}),
    "404": ("not_found", "Not found.", {}),
    "409": ("crm_not_enabled", "The CRM 'hubspot' is not enabled for this organization.", {"crm": "hubspot"}),
    "422": (
        "unknown_crm_properties",
        "HubSpot has no contact property favourite_colour; map to one of its own properties.",
        {"field_mapping.favourite_colour": ["HubSpot has no property 'favourite_colour'."]},
    ),
    "413": ("request_too_large", "The request body is too large.", {"max_bytes": 1048576}),
    "415": ("unsupported_media_type", 'Unsupported media type "text/plain" in request.', {}),
    "429": ("throttled", "Request was throttled. Expected available in 12 seconds.", {"retry_after": 12}),
    "500": ("server_error", "Internal server error.", {"request_id": "5f0c6b7e0b8a4d0f9a7c2b1e3d4f5a6b"}),
}
DESCRIPTIONS = {
    "400": "The input is invalid: every problem of the request at once, by field path.",
    "401": "No API key, or one that is unknown, revoked or expired.",
    "403": "The key lacks the scope (read, write, sync or admin) this call needs.",
    "404": "No such object in the caller's organization (another organization's is a 404 too).",
    "409": "The CRM is not enabled for the organization, or the object's state forbids the call.",
    "422": "The field mapping names properties the CRM does not have (`unknown_crm_properties`), or "
    "the CRM's property list cannot be read to check them now (`crm_properties_unavailable`).",
    "413": "The body is larger than MAX_REQUEST_BODY_BYTES.",
    "415": "The body is not JSON.",
    "429": "Too many requests for this API key; retry after `details.retry_after` seconds.",
    "500": "An unexpected error; quote `details.request_id` when reporting it.",
}
SAMPLE_UUID = "3f1c2a9e-8b7d-4c6e-9f01-23456789abcd"


def _resolve(schema: dict, components: dict) -> dict:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _sample(schema: dict, components: dict, name: str = "", depth: int = 0):
    """A plausible value for `schema`, from its example, enum, format or field name."""
    schema = _resolve(schema, components)
    if "example" in schema:
        return schema["example"]
    for key in ("allOf", "oneOf", "anyOf"):
        if schema.get(key):
            if schema.get("nullable") and key == "allOf":
                return None  # an optional object (e.g. `paused`): its usual value
            return _sample(schema[key][0], components, name, depth)
    if schema.get("enum"):
        return next((value for value in schema["enum"] if value not in (None, "")), schema["enum"][0])
    kind = schema.get("type", "object")
    if name in FIELD_SAMPLES:
        return FIELD_SAMPLES[name]
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        return {
            key: _sample(value, components, key, depth + 1)
            for key, value in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [_sample(schema.get("items", {}), components, name, depth + 1)]
    if kind == "integer":
        return 0 if name in ("offset",) else 1
    if kind == "number":
        return 0.5
    if kind == "boolean":
        return False
    return _string_sample(schema.get("format", ""), name)


def _string_sample(fmt: str, name: str) -> str:
    if fmt == "date-time" or name.endswith("_at"):
        return "2026-01-15T09:30:00Z"
    if fmt == "date":
        return "2026-01-15"
    if fmt == "uuid" or name in ("id", "contact_id"):
        return SAMPLE_UUID
    if fmt == "email" or "email" in name:
        return "ada@example.com"
    if fmt == "uri" or name.endswith("url"):
        return "https://crm.example.com/"
    if name == "crm" or name == "kind":
        return "hubspot"
    return name.replace("_", " ").capitalize() or "text"


# Sample values by field name, where a type alone would give a meaningless one.
FIELD_SAMPLES = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "company": "Analytical Engines Ltd",
    "job_title": "Head of engineering",
    "phone": "+44 20 7946 0000",
    "name": "Spring open day",
    "label": "Company size",
    "source": "api",
    "tags": ["vip", "spring-2026"],
    "notes": "Met at the spring open day.",
    "location": "London",
    "sync_type": "contacts",
    "sync_status": "Queued",
    "processing_status": "Queued",
    "priority": "normal",
    "estimated_processing_time": "Within 2 minutes",
    "estimated_processing": "Within 2 minutes",
    "estimate": "Within 9 minutes",
    "error": "HubSpot API validation failed (HTTP 400): Property values were not valid",
    "error_category": "validation",
    "message": "Retry scheduled",
    "policy": "DAILY",
    "crm_message": "You have reached your daily limit.",
    "remote_id": "1234567",
    "object_type": "contacts",
    "worker": "celery@worker-1",
    "custom_properties": {"company_size": "large"},
}


def _error_response(status: str) -> dict:
    code, message, details = ERRORS[status]
    return {
        "description": DESCRIPTIONS[status],
        "content": {
            "application/json": {
                "schema": copy.deepcopy(ERROR_REF),
                "examples": {code: {"value": {"error": message, "code": code, "details": details}}},
            }
        },
    }


def _crm_enum(schema: dict, kinds: list[str]) -> None:
    for name, value in schema.get("properties", {}).items():
        if name == "crm" and value.get("type") == "string" and "enum" not in value:
            value["enum"] = kinds


def _statuses(path: str, operation: dict, authenticated: bool, takes_crm: bool) -> list[str]:
    statuses = ["500"]
    if authenticated:
        statuses += ["401", "403", "429"]
    if "requestBody" in operation:
        statuses += ["400", "413", "415"]
    if any(p.get("in") == "query" for p in operation.get("parameters", [])):
        statuses.append("400")
    if "{" in path:
        statuses.append("404")
    if takes_crm:
        statuses += ["400", "409"]
    return statuses


def postprocess(result, generator, request, public):
    """POSTPROCESSING_HOOKS entry: see the module docstring."""
    from crm_sync.connections import push_kinds

    kinds = push_kinds()
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorBody", ERROR_SCHEMA)
    for name, schema in components.items():
        if name.endswith(("Input", "Request")):
            _crm_enum(schema, kinds)
    for path, methods in result.get("paths", {}).items():
        for operation in methods.values():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            written = OPERATIONS.get(operation["operationId"])
            if written:
                operation["summary"] = operation.get("summary") or written[0]
                operation["description"] = written[1]
            takes_crm = False
            for parameter in operation.get("parameters", []):
                if parameter.get("name") == "crm":
                    takes_crm = True
                    if parameter.get("in") == "query":
                        parameter.setdefault("schema", {}).setdefault("enum", kinds)
                if parameter.get("in") in ("query", "path") and "example" not in parameter:
                    parameter["example"] = _sample(parameter.get("schema", {}), components, parameter["name"])
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                schema = _resolve(media.get("schema", {}), components)
                takes_crm = takes_crm or "crm" in schema.get("properties", {})
                if "example" not in media and "examples" not in media:
                    media["examples"] = {"request": {"value": _sample(media.get("schema", {}), components)}}
            for response in operation.get("responses", {}).values():
                for media in response.get("content", {}).values():
                    if "example" not in media and "examples" not in media and "schema" in media:
                        media["examples"] = {"response": {"value": _sample(media["schema"], components)}}
            authenticated = operation.get("security") != [{}] and bool(operation.get("security", True))
            statuses = _statuses(path, operation, authenticated, takes_crm or "crm" in path)
            if operation["operationId"] in UNPROCESSABLE_OPERATIONS:
                statuses.append("422")
            for status in statuses:
                operation["responses"].setdefault(status, _error_response(status))
    return result


def base_docstrings() -> set[str]:
    """Docstrings of the base classes views share (whitespace-normalised): never a description."""
    import inspect

    from rest_framework import generics, mixins, views, viewsets

    from core.api import OrganizationScopedMixin

    classes = [OrganizationScopedMixin, views.APIView, generics.GenericAPIView]
    classes += [
        getattr(viewsets, n) for n in ("ViewSet", "GenericViewSet", "ModelViewSet", "ReadOnlyModelViewSet")
    ]
    classes += [getattr(mixins, n) for n in dir(mixins) if n.endswith("Mixin")]
    return {normalized(inspect.getdoc(c)) for c in classes} - {""}


def normalized(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()
