"""Django REST Framework and drf-spectacular."""

from config.env import env

REST_FRAMEWORK = {
    # The API key comes first so that a 401 carries its WWW-Authenticate challenge.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.HasOrganizationScope"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env("API_KEY_DEFAULT_RATE", default="1200/min")},
    "DEFAULT_PAGINATION_CLASS": "core.api.LimitOffsetTotalPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.BoundedJSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Throttles key anonymous clients on the same address as the lock-outs (config/settings/security.py).
    "NUM_PROXIES": env.int("TRUSTED_PROXY_COUNT", default=0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "CRM Sync Hub API",
    "DESCRIPTION": "Contacts, registrations, CRM connections and sync state. "
    "Authenticate with `Authorization: Api-Key <key>` (or `Bearer <key>`).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # API_DOCS_PUBLIC (config/settings/security.py) decides, at request time.
    "SERVE_PERMISSIONS": ["core.api_docs.ApiDocsPermission"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.error_responses",
        "properties.schema.path_parameter_enums",
        # Summaries, descriptions, examples, error responses and the `crm` enum where views left them out.
        "core.openapi.postprocess",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Several serializers have a field called "status"; name the contact's so clients get a stable type.
    "ENUM_NAME_OVERRIDES": {
        "ContactStatusEnum": "contacts.models.Contact.Status",
        "ContactSubtypeEnum": "contacts.models.Contact.Subtype",
        "ConflictStatusEnum": "crm_sync.models.SyncConflict.Status",
        "WebhookSubscriptionStatusEnum": "webhooks.models.WebhookSubscription.Status",
        "WebhookDeliveryStatusEnum": "webhooks.models.WebhookDelivery.Status",
        "WebhookEventEnum": "webhooks.models.Event",
    },
}
