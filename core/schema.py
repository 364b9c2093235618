"""drf-spectacular post-processing: the error body on every operation.

Every error the API answers is `{"error", "code", "details"}` (core.api.exception_handler); the
views document their success shapes, and this hook adds the error answers any operation can give,
so a client (and schemathesis in CI) can rely on the documented shape of a 4xx as well.
"""

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "code", "details"],
    "properties": {
        "error": {"type": "string", "description": "What went wrong, for a person."},
        "code": {"type": "string", "description": "Stable machine code, e.g. validation_error."},
        "details": {"type": "object", "additionalProperties": True},
    },
}

# Any operation may answer these; 413 and 415 only those that take a body.
_ALWAYS = {
    "400": "Invalid input (details say which field and why).",
    "401": "No, or an invalid, API key.",
    "403": "The key lacks the scope this operation needs.",
    "404": "No such object in the caller's organization.",
    "405": "Method not allowed.",
    "406": "The Accept header asks for a format the API does not serve.",
    "429": "Throttled; Retry-After says when to try again.",
}
_WITH_BODY = {
    "413": "The request body is too large.",
    "415": "The body is not JSON.",
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}


def error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for item in result.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            codes = {**_ALWAYS, **(_WITH_BODY if "requestBody" in operation else {})}
            for code, description in codes.items():
                operation["responses"].setdefault(
                    code,
                    {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}},
                )
    return result
