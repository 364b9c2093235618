"""JSON schemas of the Mautic answers the sandbox emulates, written from Mautic's developer docs.

Sources (read, not copied): developer.mautic.org "Contacts" (Get/List/Create/Edit/Delete and
their batch forms) and "Fields" pages, and the error shape of FetchCommonApiController::
returnError (CRM-APIS.md §3.4). Where the docs show a value of two types (a `total` that is
a string in the list example, `isUniqueIdentifier` that is 0 in the field example), both are
allowed. PHP writes an empty array as `[]`, so every map may also be an empty list.
"""

DATETIME = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2}|Z)$"}
NULLABLE_DATETIME = {"anyOf": [DATETIME, {"type": "null"}]}
EMPTY_LIST = {"type": "array", "maxItems": 0}
INDEX_KEYS = {"type": "object", "propertyNames": {"pattern": r"^\d+$"}}

FIELD_VALUE = {
    "type": "object",
    "required": ["id", "label", "alias", "type", "group", "value"],
    "properties": {
        "id": {"type": "string", "pattern": r"^\d+$"},
        "label": {"type": "string"},
        "alias": {"type": "string"},
        "type": {"type": "string"},
        "group": {"type": ["string", "null"]},
        "value": {"type": ["string", "number", "boolean", "null"]},
    },
}
FIELD_GROUP = {"anyOf": [{"type": "object", "additionalProperties": FIELD_VALUE}, EMPTY_LIST]}

CONTACT = {
    "type": "object",
    "required": [
        "id",
        "isPublished",
        "dateAdded",
        "dateModified",
        "createdBy",
        "createdByUser",
        "modifiedBy",
        "modifiedByUser",
        "owner",
        "points",
        "lastActive",
        "dateIdentified",
        "color",
        "ipAddresses",
        "fields",
    ],
    "properties": {
        "id": {"type": "integer"},
        "isPublished": {"type": "boolean"},
        "dateAdded": DATETIME,
        "dateModified": NULLABLE_DATETIME,
        "createdBy": {"type": ["integer", "null"]},
        "createdByUser": {"type": ["string", "null"]},
        "modifiedBy": {"type": ["integer", "null"]},
        "modifiedByUser": {"type": ["string", "null"]},
        "owner": {"type": ["object", "null"]},
        "points": {"type": "integer"},
        "lastActive": NULLABLE_DATETIME,
        "dateIdentified": NULLABLE_DATETIME,
        "color": {"type": ["string", "null"]},
        "ipAddresses": {"type": ["array", "object"]},
        "fields": {
            "type": "object",
            "required": ["core", "social", "personal", "professional", "all"],
            "properties": {
                "core": FIELD_GROUP,
                "social": FIELD_GROUP,
                "personal": FIELD_GROUP,
                "professional": FIELD_GROUP,
                "all": {
                    "type": "object",
                    "required": ["id"],
                    "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
                },
            },
        },
        "tags": {"type": "array", "items": {"type": "object", "required": ["tag"]}},
        "utmtags": {"type": "array", "items": {"type": "object"}},
        "doNotContact": {
            "type": "array",
            "items": {"type": "object", "required": ["reason", "channel"]},
        },
    },
}
FULL_CONTACT = {"allOf": [CONTACT, {"required": ["tags", "utmtags", "doNotContact"]}]}
MINIMAL_CONTACT = {
    "allOf": [
        CONTACT,
        {"not": {"anyOf": [{"required": [name]} for name in ("tags", "utmtags", "doNotContact")]}},
    ]
}

CONTACT_ONE = {"type": "object", "required": ["contact"], "properties": {"contact": FULL_CONTACT}}


def contact_list(contact: dict) -> dict:
    return {
        "type": "object",
        "required": ["total", "contacts"],
        "properties": {
            "total": {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\d+$"}]},
            "contacts": {
                "anyOf": [
                    {**INDEX_KEYS, "minProperties": 1, "additionalProperties": contact},
                    EMPTY_LIST,
                ]
            },
        },
    }


CONTACT_LIST = contact_list(FULL_CONTACT)
CONTACT_LIST_MINIMAL = contact_list(MINIMAL_CONTACT)

BATCH_ITEM_ERROR = {
    "type": "object",
    "required": ["message", "code", "type"],
    "properties": {"message": {"type": "string"}, "code": {"type": "integer"}, "type": {"const": "api"}},
}
BATCH_CONTACTS = {
    "anyOf": [{"type": "array", "items": FULL_CONTACT}, {**INDEX_KEYS, "additionalProperties": FULL_CONTACT}]
}
BATCH_ERRORS = {**INDEX_KEYS, "additionalProperties": BATCH_ITEM_ERROR}
BATCH_WRITE = {
    "type": "object",
    "required": ["contacts", "statusCodes"],
    "properties": {
        "contacts": BATCH_CONTACTS,
        "statusCodes": {
            "type": "array",
            "items": {"type": "integer", "enum": [200, 201, 400, 403, 404, 409, 422]},
        },
        "errors": BATCH_ERRORS,
    },
}
BATCH_DELETE = {
    "type": "object",
    "required": ["contacts"],
    "properties": {"contacts": BATCH_CONTACTS, "errors": BATCH_ERRORS},
}

FIELD_TYPES = [
    "text",
    "textarea",
    "multiselect",
    "select",
    "boolean",
    "lookup",
    "date",
    "datetime",
    "time",
    "timezone",
    "email",
    "html",
    "number",
    "tel",
    "url",
    "country",
    "region",
    "locale",
]
FIELD = {
    "type": "object",
    "required": [
        "id",
        "isPublished",
        "label",
        "alias",
        "description",
        "type",
        "group",
        "order",
        "object",
        "defaultValue",
        "isRequired",
        "isPubliclyUpdatable",
        "isUniqueIdentifier",
        "properties",
    ],
    "properties": {
        "id": {"type": "integer"},
        "isPublished": {"type": "boolean"},
        "label": {"type": "string"},
        "alias": {"type": "string", "pattern": r"^[a-z0-9_]+$"},
        "description": {"type": ["string", "null"]},
        "type": {"enum": FIELD_TYPES},
        "group": {"type": ["string", "null"]},
        "order": {"type": "integer"},
        "object": {"enum": ["lead", "company"]},
        "defaultValue": {"type": ["string", "null"]},
        "isRequired": {"type": "boolean"},
        "isPubliclyUpdatable": {"type": "boolean"},
        "isUniqueIdentifier": {"type": ["boolean", "integer"]},
        "properties": {
            "anyOf": [
                EMPTY_LIST,
                {
                    "type": "object",
                    "properties": {
                        "list": {
                            "type": "array",
                            "items": {"type": "object", "required": ["label", "value"]},
                        }
                    },
                },
            ]
        },
    },
}
FIELD_ONE = {"type": "object", "required": ["field"], "properties": {"field": FIELD}}
FIELD_LIST = {
    "type": "object",
    "required": ["total", "fields"],
    "properties": {"total": {"type": "integer"}, "fields": {"type": "array", "items": FIELD}},
}

ERROR = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "integer"},
                    "message": {"type": "string"},
                    "details": {"type": ["array", "object"]},
                    "type": {"type": ["string", "null"]},
                },
            },
        }
    },
}


# -- requests, from the same pages ---------------------------------------------------------
# Narrower than what Mautic takes: a multiselect value may also be a JSON array, but the
# connector sends the "a|b" string (docs/connectors.md), so an array here is a regression.

FIELD_VALUE_SENT = {"type": ["string", "number", "boolean", "null"]}
CONTACT_SENT = {
    "type": "object",
    "minProperties": 1,
    "propertyNames": {"pattern": r"^[a-z0-9_]+$|^(ipAddress|lastActive|owner|overwriteWithBlank|tags)$"},
    "additionalProperties": FIELD_VALUE_SENT,
}
BATCH_NEW_REQUEST = {"type": "array", "minItems": 1, "maxItems": 200, "items": CONTACT_SENT}
FIELD_REQUEST = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "minLength": 1},
        "alias": {"type": "string", "pattern": r"^[a-z0-9_]+$"},
        "description": {"type": ["string", "null"]},
        "type": {"enum": FIELD_TYPES},
        "group": {"enum": ["core", "social", "personal", "professional"]},
        "object": {"enum": ["lead", "company"]},
        "isPublished": {"type": "boolean"},
        "properties": {"type": ["object", "array"]},
    },
    "additionalProperties": False,
}
FIELD_NEW_REQUEST = {"allOf": [FIELD_REQUEST, {"required": ["label"]}]}
