"""Brivity's preset of the REST connector.

Brivity publishes no public API reference (shared CRM-APIS.md §5): the token header form
`Authorization: Token token=<api token>` is the one visible in a Brivity Core API page; the
base URL, endpoints, paging and field names come from the integration spec this project was
given (seed 004) and are assumptions until checked against Brivity's partner documentation.
Every key below can be overridden per connection in CrmConnection.settings.
"""

# Seed 004: BRIVITY_API_BASE_URL=https://api.brivity.com/v1 (host + base_path below).
BRIVITY_BASE_URL = "https://api.brivity.com"

BRIVITY_SETTINGS = {
    "api_version": "v1",
    "base_path": "/{api_version}",
    "auth": {
        "type": "api_key",
        "header": "Authorization",
        "format": "Token token={key}",
        "credential_field": "api_token",
    },
    "paging": {
        "style": "page",
        "page_size": 100,
        "page_param": "page",
        "per_page_param": "per_page",
        "first_page": 1,
        "items_path": "data",
        "total_path": "meta.total",
    },
    "endpoints": {"contacts": "/contacts", "deals": "/deals"},
    "updated_since_param": "updated_since",
    "updated_since_format": "iso",
    "list_params": {"sort": "updated_at"},
    "id_path": "id",
    "updated_at_path": "updated_at",
    "field_maps": {
        "contacts": {
            "first_name": "first_name",
            "last_name": "last_name",
            "email": "email",
            "phone": "phone",
            "company": "company",
            "status": "status",
        },
        "deals": {
            "name": "name",
            "amount": "amount",
            "currency": "currency",
            "stage": "stage",
            "probability": "probability",
            "close_date": "close_date",
            "contact_id": "contact_id",
        },
    },
    "contacts": {
        # PATCH: a partial payload must never blank the fields it does not carry.
        "update_method": "PATCH",
        "lookup_param": "email",
        "body_key": "",
        "response_path": "",
        "idempotency_header": "",
    },
    "test_entity": "contacts",
}
