"""Default behaviour of each sandbox CRM: rate-limit buckets, accepted credentials, options.

Numbers come from ../shared/CRM-APIS.md: HubSpot 100 per 10 s (rolling), 250,000 a day,
search 5 per second (§1.9, §1.5); Brevo contacts 10 per second and 36,000 an hour, every
other endpoint 100 an hour (§2.7); Mautic and n8n unlimited (§3.4, §4); the generic REST
CRM 100 a minute (seed 002). `slot_ms` is the counting granularity: equal to
`interval_ms` gives a fixed window (HubSpot's daily limit resets at midnight), smaller
gives a rolling window.
"""

import copy

from sandbox import credentials as creds
from sandbox.models import Kind

SECOND = 1000
HOUR = 3600 * SECOND
DAY = 24 * HOUR

_DEFAULTS: dict[str, dict] = {
    Kind.HUBSPOT: {
        "rate_limits": {
            "ten_secondly": {"max": 100, "interval_ms": 10 * SECOND, "slot_ms": 500},
            "daily": {"max": 250_000, "interval_ms": DAY, "slot_ms": DAY},
            "search": {"max": 5, "interval_ms": SECOND, "slot_ms": 100},
        },
        "credentials": {
            "tokens": [creds.HUBSPOT_TOKEN],
            "oauth_clients": [
                {
                    "client_id": creds.HUBSPOT_CLIENT_ID,
                    "client_secret": creds.HUBSPOT_CLIENT_SECRET,
                    "refresh_tokens": [creds.HUBSPOT_REFRESH_TOKEN],
                }
            ],
        },
        "options": {
            "strict_properties": True,
            "access_token_ttl_seconds": 1800,
            "portal_id": creds.HUBSPOT_PORTAL_ID,
            "batch_max": 100,
            "search_max_results": 10_000,
        },
    },
    Kind.BREVO: {
        "rate_limits": {
            "contacts": {"max": 10, "interval_ms": SECOND, "slot_ms": 100},
            "contacts_hourly": {"max": 36_000, "interval_ms": HOUR, "slot_ms": HOUR},
            "other_hourly": {"max": 100, "interval_ms": HOUR, "slot_ms": HOUR},
        },
        "credentials": {"api_keys": [creds.BREVO_API_KEY]},
        "options": {
            "strict_attributes": True,
            "import_processing_ms": 0,
            "import_max_bytes": 10 * 1024 * 1024,
        },
    },
    Kind.MAUTIC: {
        "rate_limits": {"api": {"max": 0, "interval_ms": 60 * SECOND, "slot_ms": SECOND}},
        "credentials": {
            "basic": [{"username": creds.MAUTIC_USERNAME, "password": creds.MAUTIC_PASSWORD}],
            "oauth_clients": [
                {"client_id": creds.MAUTIC_CLIENT_ID, "client_secret": creds.MAUTIC_CLIENT_SECRET}
            ],
        },
        "options": {"batch_max": 200, "access_token_ttl_seconds": 3600, "version": "5.1.1"},
    },
    Kind.N8N: {
        "rate_limits": {},
        "credentials": {
            "auth": "header",
            "header_name": creds.N8N_HEADER_NAME,
            "header_value": creds.N8N_HEADER_VALUE,
            "basic_username": creds.N8N_BASIC_USERNAME,
            "basic_password": creds.N8N_BASIC_PASSWORD,
            "hmac_secret": creds.N8N_HMAC_SECRET,
        },
        "options": {
            "active": True,
            "paths": [creds.N8N_WEBHOOK_PATH],
            "test_listening": False,
            "signature_header": creds.N8N_SIGNATURE_HEADER,
            "idempotency_header": creds.N8N_IDEMPOTENCY_HEADER,
            "respond": "immediately",
            "max_payload_bytes": 16 * 1024 * 1024,
        },
    },
    Kind.BRIVITY: {
        "rate_limits": {"api": {"max": 100, "interval_ms": 60 * SECOND, "slot_ms": SECOND}},
        "credentials": {"api_tokens": [creds.BRIVITY_API_TOKEN]},
        "options": {"paging_style": "page", "per_page_max": 100},
    },
    Kind.TOPPRODUCER: {
        "rate_limits": {"api": {"max": 100, "interval_ms": 60 * SECOND, "slot_ms": SECOND}},
        "credentials": {
            "oauth_clients": [
                {"client_id": creds.TOPPRODUCER_CLIENT_ID, "client_secret": creds.TOPPRODUCER_CLIENT_SECRET}
            ]
        },
        "options": {"paging_style": "offset", "per_page_max": 100, "access_token_ttl_seconds": 3600},
    },
    Kind.REST: {
        "rate_limits": {"api": {"max": 100, "interval_ms": 60 * SECOND, "slot_ms": SECOND}},
        "credentials": {
            "users": [{"username": creds.REST_USERNAME, "password": creds.REST_PASSWORD}],
            "oauth_clients": [{"client_id": creds.REST_CLIENT_ID, "client_secret": creds.REST_CLIENT_SECRET}],
            "api_keys": [creds.REST_API_KEY],
            "api_key_header": creds.REST_API_KEY_HEADER,
        },
        "options": {
            "paging_style": "page",
            "per_page_max": 100,
            "access_token_ttl_seconds": 3600,
            "refresh_token_ttl_seconds": 14 * 86400,
        },
    },
}


def default_config(kind: str) -> dict:
    """A fresh copy of `kind`'s defaults (rate_limits, credentials, options)."""
    return copy.deepcopy(_DEFAULTS[kind])


# ------------------------------------------------------------------------------
# Built-in schemas: what a fresh account already has.
# ------------------------------------------------------------------------------


def _hs_prop(name, label, type_, field_type, group, *, read_only=False, options=None):
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "groupName": group,
        "description": "",
        "options": options or [],
        "displayOrder": -1,
        "hasUniqueValue": False,
        "hidden": False,
        "formField": not read_only,
        "calculated": False,
        "externalOptions": False,
        "hubspotDefined": True,
        "archived": False,
        "modificationMetadata": {
            "archivable": False,
            "readOnlyDefinition": True,
            "readOnlyValue": read_only,
        },
    }


def _lifecycle_options():
    stages = ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"]
    return [
        {"label": stage, "value": stage, "hidden": False, "displayOrder": index}
        for index, stage in enumerate(stages)
    ]


HUBSPOT_GROUPS = {
    "contacts": [{"name": "contactinformation", "label": "Contact information", "displayOrder": -1}],
    "deals": [{"name": "dealinformation", "label": "Deal information", "displayOrder": -1}],
    "leads": [{"name": "leadinformation", "label": "Lead information", "displayOrder": -1}],
}

HUBSPOT_PROPERTIES = {
    "contacts": [
        _hs_prop("email", "Email", "string", "text", "contactinformation"),
        _hs_prop("firstname", "First Name", "string", "text", "contactinformation"),
        _hs_prop("lastname", "Last Name", "string", "text", "contactinformation"),
        _hs_prop("phone", "Phone Number", "string", "phonenumber", "contactinformation"),
        _hs_prop("mobilephone", "Mobile Phone Number", "string", "phonenumber", "contactinformation"),
        _hs_prop("company", "Company Name", "string", "text", "contactinformation"),
        _hs_prop("jobtitle", "Job Title", "string", "text", "contactinformation"),
        _hs_prop("website", "Website URL", "string", "text", "contactinformation"),
        _hs_prop("address", "Street Address", "string", "text", "contactinformation"),
        _hs_prop("city", "City", "string", "text", "contactinformation"),
        _hs_prop("state", "State/Region", "string", "text", "contactinformation"),
        _hs_prop("zip", "Postal Code", "string", "text", "contactinformation"),
        _hs_prop("country", "Country/Region", "string", "text", "contactinformation"),
        _hs_prop(
            "lifecyclestage",
            "Lifecycle Stage",
            "enumeration",
            "radio",
            "contactinformation",
            options=_lifecycle_options(),
        ),
        _hs_prop("createdate", "Create Date", "datetime", "date", "contactinformation", read_only=True),
        _hs_prop(
            "lastmodifieddate", "Last Modified Date", "datetime", "date", "contactinformation", read_only=True
        ),
        _hs_prop("hs_object_id", "Record ID", "number", "number", "contactinformation", read_only=True),
        _hs_prop(
            "hs_merged_object_ids",
            "Merged Contact IDs",
            "enumeration",
            "checkbox",
            "contactinformation",
            read_only=True,
        ),
    ],
    "deals": [
        _hs_prop("dealname", "Deal Name", "string", "text", "dealinformation"),
        _hs_prop("amount", "Amount", "number", "number", "dealinformation"),
        _hs_prop("closedate", "Close Date", "datetime", "date", "dealinformation"),
        _hs_prop("pipeline", "Pipeline", "string", "text", "dealinformation"),
        _hs_prop("dealstage", "Deal Stage", "string", "text", "dealinformation"),
        _hs_prop("createdate", "Create Date", "datetime", "date", "dealinformation", read_only=True),
        _hs_prop(
            "hs_lastmodifieddate", "Last Modified Date", "datetime", "date", "dealinformation", read_only=True
        ),
        _hs_prop("hs_object_id", "Record ID", "number", "number", "dealinformation", read_only=True),
        _hs_prop(
            "hs_merged_object_ids",
            "Merged Deal IDs",
            "enumeration",
            "checkbox",
            "dealinformation",
            read_only=True,
        ),
    ],
    "leads": [
        _hs_prop("hs_lead_name", "Lead name", "string", "text", "leadinformation"),
        _hs_prop(
            "hs_lead_label",
            "Lead label",
            "enumeration",
            "select",
            "leadinformation",
            options=[
                {"label": label.title(), "value": label, "hidden": False, "displayOrder": index}
                for index, label in enumerate(["COLD", "WARM", "HOT"])
            ],
        ),
        _hs_prop("createdate", "Create Date", "datetime", "date", "leadinformation", read_only=True),
        _hs_prop(
            "hs_lastmodifieddate", "Last Modified Date", "datetime", "date", "leadinformation", read_only=True
        ),
        _hs_prop("hs_object_id", "Record ID", "number", "number", "leadinformation", read_only=True),
    ],
}

# Brevo's attributes of a fresh account (GET /v3/contacts/attributes).
BREVO_ATTRIBUTES = [
    {"name": "FIRSTNAME", "category": "normal", "type": "text"},
    {"name": "LASTNAME", "category": "normal", "type": "text"},
    {"name": "SMS", "category": "normal", "type": "text"},
    {"name": "EXT_ID", "category": "normal", "type": "text"},
]

# Mautic's core contact fields (alias, label, type, group); ids are their positions.
MAUTIC_FIELDS = [
    ("title", "Title", "lookup", "core"),
    ("firstname", "First Name", "text", "core"),
    ("lastname", "Last Name", "text", "core"),
    ("company", "Primary company", "text", "core"),
    ("position", "Position", "text", "core"),
    ("email", "Email", "email", "core"),
    ("mobile", "Mobile", "tel", "core"),
    ("phone", "Phone", "tel", "core"),
    ("points", "Points", "number", "core"),
    ("fax", "Fax", "tel", "core"),
    ("address1", "Address Line 1", "text", "core"),
    ("address2", "Address Line 2", "text", "core"),
    ("city", "City", "text", "core"),
    ("state", "State", "region", "core"),
    ("zipcode", "Zip Code", "text", "core"),
    ("country", "Country", "country", "core"),
    ("preferred_locale", "Preferred Locale", "locale", "core"),
    ("timezone", "Preferred Timezone", "timezone", "core"),
    ("last_active", "Date Last Active", "datetime", "core"),
    ("attribution_date", "Attribution Date", "datetime", "core"),
    ("attribution", "Attribution", "number", "core"),
    ("website", "Website", "url", "core"),
    ("facebook", "Facebook", "text", "social"),
    ("twitter", "Twitter", "text", "social"),
    ("linkedin", "LinkedIn", "text", "social"),
]
