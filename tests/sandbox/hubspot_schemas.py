"""JSON schemas of HubSpot's answers and requests, written by hand from HubSpot's published docs.

Sources: the CRM v3 reference pages (developers.hubspot.com/docs/api-reference/...: contacts,
batch, search, merge, properties, property groups, account info, OAuth tokens), the error
handling guide and the usage guidelines, as summarised in ../shared/CRM-APIS.md §1.
HubSpot's own spec files are not licensed for redistribution, so nothing here is copied
from them: each schema holds the fields the reference pages list, `required` where the
pages mark them required, and `additionalProperties: false` where the page lists every
field an answer may carry (so a field the sandbox invents fails the check).
"""

import jsonschema

STRING_OR_NULL = {"type": ["string", "null"]}
DATE_TIME = {"type": "string", "format": "date-time", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"}
UUID = {"type": "string", "pattern": r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}
STRING_LISTS = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}

ERROR_DETAIL = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"type": "string"},
        "code": {"type": "string"},
        "in": {"type": "string"},
        "subCategory": {"type": "string"},
        "context": STRING_LISTS,
    },
}

# The body of every non-2xx answer (error-handling guide; "treat as optional in parsing", but the
# reference marks category, correlationId and message required).
ERROR = {
    "type": "object",
    "required": ["status", "message", "correlationId", "category"],
    "properties": {
        "status": {"const": "error"},
        "message": {"type": "string", "minLength": 1},
        "correlationId": UUID,
        "category": {"type": "string", "minLength": 1},
        "subCategory": {"type": "string"},
        "context": STRING_LISTS,
        "links": {"type": "object", "additionalProperties": {"type": "string"}},
        "errors": {"type": "array", "items": ERROR_DETAIL},
    },
}

# 429 (usage guidelines): message and policyName say which limit was hit.
RATE_LIMIT_ERROR = {
    "type": "object",
    "required": ["status", "message", "errorType", "correlationId", "policyName"],
    "properties": {
        "status": {"const": "error"},
        "message": {"type": "string"},
        "errorType": {"const": "RATE_LIMIT"},
        "correlationId": UUID,
        "policyName": {"enum": ["TEN_SECONDLY_ROLLING", "SECONDLY", "DAILY"]},
        "requestId": {"type": "string"},
    },
}

# One error of a batch answer's `errors` (StandardError).
STANDARD_ERROR = {
    "type": "object",
    "required": ["status", "category", "message", "errors", "context", "links"],
    "properties": {
        "status": {"type": "string"},
        "id": {"type": "string"},
        "category": {"type": "string"},
        "subCategory": {},
        "message": {"type": "string"},
        "errors": {"type": "array", "items": ERROR_DETAIL},
        "context": STRING_LISTS,
        "links": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

VALUE_WITH_TIMESTAMP = {
    "type": "object",
    "required": ["value", "timestamp", "sourceType"],
    "additionalProperties": False,
    "properties": {
        "value": {"type": "string"},
        "timestamp": DATE_TIME,
        "sourceType": {"type": "string"},
        "sourceId": {"type": "string"},
        "sourceLabel": {"type": "string"},
        "updatedByUserId": {"type": "integer"},
    },
}

_OBJECT_FIELDS = {
    "id": {"type": "string", "pattern": r"^\d+$"},
    "properties": {"type": "object", "additionalProperties": STRING_OR_NULL},
    "propertiesWithHistory": {
        "type": "object",
        "additionalProperties": {"type": "array", "items": VALUE_WITH_TIMESTAMP},
    },
    "createdAt": DATE_TIME,
    "updatedAt": DATE_TIME,
    "archived": {"type": "boolean"},
    "archivedAt": DATE_TIME,
    "objectWriteTraceId": {"type": "string"},
    "url": {"type": "string"},
}
SIMPLE_PUBLIC_OBJECT = {
    "type": "object",
    "required": ["id", "properties", "createdAt", "updatedAt", "archived"],
    "additionalProperties": False,
    "properties": _OBJECT_FIELDS,
}
# List answers carry SimplePublicObjectWithAssociations: the same plus `associations`.
OBJECT_WITH_ASSOCIATIONS = {
    **SIMPLE_PUBLIC_OBJECT,
    "properties": {**_OBJECT_FIELDS, "associations": {"type": "object"}},
}
UPSERT_OBJECT = {
    **SIMPLE_PUBLIC_OBJECT,
    "required": [*SIMPLE_PUBLIC_OBJECT["required"], "new"],
    "properties": {**_OBJECT_FIELDS, "new": {"type": "boolean"}},
}


def batch_response(result: dict, *, with_errors: bool) -> dict:
    """BatchResponse… (200/201) or BatchResponse…WithErrors (207)."""
    fields = {
        "status": {"enum": ["PENDING", "PROCESSING", "CANCELED", "COMPLETE"]},
        "results": {"type": "array", "items": result},
        "requestedAt": DATE_TIME,
        "startedAt": DATE_TIME,
        "completedAt": DATE_TIME,
        "links": {"type": "object", "additionalProperties": {"type": "string"}},
    }
    required = ["status", "results", "startedAt", "completedAt"]
    if with_errors:
        fields |= {
            "numErrors": {"type": "integer", "minimum": 1},
            "errors": {"type": "array", "items": STANDARD_ERROR},
        }
        required += ["numErrors", "errors"]
    return {"type": "object", "required": required, "additionalProperties": False, "properties": fields}


NEXT_PAGE = {
    "type": "object",
    "required": ["next"],
    "properties": {
        "next": {
            "type": "object",
            "required": ["after"],
            "properties": {"after": {"type": "string", "pattern": r"^\d+$"}, "link": STRING_OR_NULL},
        }
    },
}
# GET /crm/v3/objects/{type}: CollectionResponseSimplePublicObjectWithAssociationsForwardPaging.
OBJECT_PAGE = {
    "type": "object",
    "required": ["results"],
    "additionalProperties": False,
    "properties": {"results": {"type": "array", "items": OBJECT_WITH_ASSOCIATIONS}, "paging": NEXT_PAGE},
}
# POST .../search: CollectionResponseWithTotalSimplePublicObjectForwardPaging.
SEARCH_PAGE = {
    "type": "object",
    "required": ["total", "results"],
    "additionalProperties": False,
    "properties": {
        "total": {"type": "integer", "minimum": 0},
        "results": {"type": "array", "items": SIMPLE_PUBLIC_OBJECT},
        "paging": NEXT_PAGE,
    },
}

OPTION = {
    "type": "object",
    "required": ["label", "value", "hidden"],
    "properties": {
        "label": {"type": "string"},
        "value": {"type": "string"},
        "hidden": {"type": "boolean"},
        "displayOrder": {"type": "integer"},
        "description": {"type": "string"},
    },
}
PROPERTY_TYPES = ["bool", "date", "datetime", "enumeration", "number", "phone_number", "string"]
FIELD_TYPES = [
    "booleancheckbox",
    "calculation_equation",
    "checkbox",
    "date",
    "file",
    "html",
    "number",
    "phonenumber",
    "radio",
    "select",
    "text",
    "textarea",
]
PROPERTY = {
    "type": "object",
    "required": ["name", "label", "type", "fieldType", "groupName", "description", "options"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "label": {"type": "string"},
        "type": {"enum": PROPERTY_TYPES},
        "fieldType": {"enum": FIELD_TYPES},
        "groupName": {"type": "string"},
        "description": {"type": "string"},
        "options": {"type": "array", "items": OPTION},
        "displayOrder": {"type": "integer"},
        "hasUniqueValue": {"type": "boolean"},
        "hidden": {"type": "boolean"},
        "formField": {"type": "boolean"},
        "calculated": {"type": "boolean"},
        "calculationFormula": {"type": "string"},
        "externalOptions": {"type": "boolean"},
        "referencedObjectType": {"type": "string"},
        "hubspotDefined": {"type": "boolean"},
        "archived": {"type": "boolean"},
        "archivedAt": DATE_TIME,
        "createdAt": DATE_TIME,
        "updatedAt": DATE_TIME,
        "createdUserId": {"type": "string"},
        "updatedUserId": {"type": "string"},
        "showCurrencySymbol": {"type": "boolean"},
        "currencyPropertyName": {"type": "string"},
        "numberDisplayHint": {"type": "string"},
        "textDisplayHint": {"type": "string"},
        "dateDisplayHint": {"type": "string"},
        "dataSensitivity": {"enum": ["non_sensitive", "sensitive", "highly_sensitive"]},
        "sensitiveDataCategories": {"type": "array", "items": {"type": "string"}},
        "modificationMetadata": {
            "type": "object",
            "required": ["archivable", "readOnlyDefinition", "readOnlyValue"],
            "properties": {
                "archivable": {"type": "boolean"},
                "readOnlyDefinition": {"type": "boolean"},
                "readOnlyValue": {"type": "boolean"},
                "readOnlyOptions": {"type": "boolean"},
            },
        },
    },
}
PROPERTY_LIST = {
    "type": "object",
    "required": ["results"],
    "additionalProperties": False,
    "properties": {"results": {"type": "array", "items": PROPERTY}},
}
PROPERTY_GROUP = {
    "type": "object",
    "required": ["name", "label", "displayOrder", "archived"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "label": {"type": "string"},
        "displayOrder": {"type": "integer"},
        "archived": {"type": "boolean"},
    },
}
PROPERTY_GROUP_LIST = {
    "type": "object",
    "required": ["results"],
    "additionalProperties": False,
    "properties": {"results": {"type": "array", "items": PROPERTY_GROUP}},
}

ACCOUNT_DETAILS = {
    "type": "object",
    "required": [
        "portalId",
        "accountType",
        "timeZone",
        "companyCurrency",
        "additionalCurrencies",
        "utcOffset",
        "utcOffsetMilliseconds",
        "uiDomain",
        "dataHostingLocation",
    ],
    "properties": {
        "portalId": {"type": "integer"},
        "accountType": {"enum": ["STANDARD", "SANDBOX", "DEVELOPER_TEST", "APP_DEVELOPER"]},
        "timeZone": {"type": "string"},
        "companyCurrency": {"type": "string"},
        "additionalCurrencies": {"type": "array", "items": {"type": "string"}},
        "utcOffset": {"type": "string"},
        "utcOffsetMilliseconds": {"type": "integer"},
        "uiDomain": {"type": "string"},
        "dataHostingLocation": {"type": "string"},
    },
}
DAILY_USAGE = {
    "type": "object",
    "required": ["results"],
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "usageLimit", "currentUsage", "collectedAt", "fetchStatus"],
                "properties": {
                    "name": {"type": "string"},
                    "usageLimit": {"type": "integer"},
                    "currentUsage": {"type": "integer"},
                    "collectedAt": {"type": "string", "format": "date-time"},
                    "fetchStatus": {"enum": ["SUCCESS", "CACHED", "FAILURE"]},
                    "resetsAt": {"type": "string", "format": "date-time"},
                },
            },
        }
    },
}
TOKEN = {
    "type": "object",
    "required": ["access_token", "refresh_token", "expires_in", "token_type"],
    "properties": {
        "access_token": {"type": "string", "minLength": 1},
        "refresh_token": {"type": "string", "minLength": 1},
        "expires_in": {"type": "integer", "minimum": 1},
        "token_type": {"const": "bearer"},
        "id_token": {"type": "string"},
        "hub_id": {"type": "integer"},
        "scopes": {"type": "array", "items": {"type": "string"}},
    },
}

# Requests, as the reference pages describe their bodies (checked on what the connectors send).
UPSERT_INPUT = {
    "type": "object",
    "required": ["inputs"],
    "additionalProperties": False,
    "properties": {
        "inputs": {
            "type": "array",
            "minItems": 1,
            "maxItems": 100,
            "items": {
                "type": "object",
                "required": ["id", "properties"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "minLength": 1},
                    "idProperty": {"type": "string"},
                    "objectWriteTraceId": {"type": "string"},
                    "properties": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        }
    },
}
UPDATE_INPUT = UPSERT_INPUT  # SimplePublicObjectBatchInput: the same fields
FILTER = {
    "type": "object",
    "required": ["propertyName", "operator"],
    "additionalProperties": False,
    "properties": {
        "propertyName": {"type": "string"},
        "operator": {
            "enum": [
                "LT",
                "LTE",
                "GT",
                "GTE",
                "EQ",
                "NEQ",
                "BETWEEN",
                "IN",
                "NOT_IN",
                "HAS_PROPERTY",
                "NOT_HAS_PROPERTY",
                "CONTAINS_TOKEN",
                "NOT_CONTAINS_TOKEN",
            ]
        },
        "value": {"type": "string"},
        "highValue": {"type": "string"},
        "values": {"type": "array", "items": {"type": "string"}},
    },
}
SEARCH_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "filterGroups": {
            "type": "array",
            "maxItems": 5,
            "items": {
                "type": "object",
                "required": ["filters"],
                "properties": {"filters": {"type": "array", "maxItems": 6, "items": FILTER}},
            },
        },
        "sorts": {"type": "array", "maxItems": 1},
        "query": {"type": "string"},
        "properties": {"type": "array", "items": {"type": "string"}},
        "limit": {"type": "integer", "minimum": 1, "maximum": 200},
        "after": {"type": "string", "pattern": r"^\d+$"},
    },
}
PROPERTY_CREATE = {
    "type": "object",
    "required": ["name", "label", "type", "fieldType", "groupName"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z][a-z0-9_]*$"},
        "label": {"type": "string"},
        "type": {"enum": PROPERTY_TYPES},
        "fieldType": {"enum": FIELD_TYPES},
        "groupName": {"type": "string"},
        "options": {"type": "array", "items": {**OPTION, "required": ["label", "value"]}},
    },
}
PROPERTY_UPDATE = {
    "type": "object",
    "not": {"anyOf": [{"required": [name]} for name in ("name", "hasUniqueValue", "dataSensitivity")]},
}
GROUP_CREATE = {
    "type": "object",
    "required": ["name", "label"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "label": {"type": "string"},
        "displayOrder": {"type": "integer"},
    },
}


def assert_valid(instance, schema: dict) -> None:
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(instance)
