"""TopProducer's preset of the REST connector.

Top Producer publishes no API documentation (shared CRM-APIS.md §6); its only public
programmatic surface is a Zapier app. The base URL, OAuth2 client-credentials flow,
endpoints (contacts, transactions), paging and field names come from the integration spec
this project was given (seed 004) and are assumptions until checked against Top Producer's
partner documentation. Every key below can be overridden per connection.
"""

# Seed 004: TOPPRODUCER_API_BASE_URL=https://api.topproducerpro.com/v2 (host + base_path below);
# the token endpoint is at the host root, <base URL>/oauth/token.
TOPPRODUCER_BASE_URL = "https://api.topproducerpro.com"

TOPPRODUCER_SETTINGS = {
    "api_version": "v2",
    "base_path": "/{api_version}",
    "auth": {
        "type": "oauth",
        "token_url": "/oauth/token",
        "grant_type": "client_credentials",
        "scope": "",
    },
    "paging": {
        "style": "offset",
        "page_size": 100,
        "offset_param": "offset",
        "limit_param": "limit",
        "items_path": "data",
        "total_path": "meta.total",
    },
    "endpoints": {"contacts": "/contacts", "deals": "/transactions"},
    "updated_since_param": "updatedSince",
    "updated_since_format": "iso",
    "list_params": {"sort": "updatedAt"},
    "id_path": "id",
    "updated_at_path": "updatedAt",
    "field_maps": {
        "contacts": {
            "first_name": "firstName",
            "last_name": "lastName",
            "email": "email",
            "phone": "phone",
            "company": "company",
            "status": "status",
        },
        "deals": {
            "property_address": "propertyAddress",
            "sales_price": "salesPrice",
            "status": "status",
            "close_date": "closeDate",
            "contact_id": "contactId",
        },
    },
    "contacts": {
        "update_method": "PATCH",
        "lookup_param": "email",
        "body_key": "",
        "response_path": "",
        "idempotency_header": "",
    },
    "test_entity": "contacts",
}
