"""Demo credentials every sandbox CRM accepts out of the box.

They are not secrets: they only open the sandbox, which is off in production. The
integrations bootstrap uses them for the demo connections, and docs/sandbox.md lists
them. A sandbox's accepted credentials can be changed per kind (admin or control API).
"""

# HubSpot: private-app bearer token, and an OAuth app whose refresh token works at /oauth/v1|v3/token.
HUBSPOT_TOKEN = "sandbox-hubspot-token"
HUBSPOT_CLIENT_ID = "sandbox-hubspot-client"
HUBSPOT_CLIENT_SECRET = "sandbox-hubspot-secret"
HUBSPOT_REFRESH_TOKEN = "sandbox-hubspot-refresh-token"
HUBSPOT_PORTAL_ID = 62515

# Brevo: `api-key` header.
BREVO_API_KEY = "sandbox-brevo-key"

# Mautic: basic auth user, and an OAuth2 client (client_credentials / refresh_token grants).
MAUTIC_USERNAME = "demo-mautic-user-7f3a"
MAUTIC_PASSWORD = "sandbox-mautic-password"
MAUTIC_CLIENT_ID = "sandbox-mautic-client"
MAUTIC_CLIENT_SECRET = "sandbox-mautic-secret"

# n8n: the webhook path, its header auth, its basic auth and the HMAC-SHA256 signing secret.
N8N_WEBHOOK_PATH = "crm-sync-contacts"
N8N_HEADER_NAME = "X-N8N-Api-Key"
N8N_HEADER_VALUE = "sandbox-n8n-token"
N8N_BASIC_USERNAME = "demo-n8n-user-2c9e"
N8N_BASIC_PASSWORD = "sandbox-n8n-password"
N8N_HMAC_SECRET = "sandbox-n8n-hmac-secret"
N8N_SIGNATURE_HEADER = "X-Signature-256"
N8N_IDEMPOTENCY_HEADER = "Idempotency-Key"

# Brivity: `Authorization: Token token=<token>`.
BRIVITY_API_TOKEN = "sandbox-brivity-token"

# TopProducer: OAuth2 client credentials at /sandbox/topproducer/oauth/token.
TOPPRODUCER_CLIENT_ID = "sandbox-topproducer-client"
TOPPRODUCER_CLIENT_SECRET = "sandbox-topproducer-secret"

# Generic REST CRM (seed 002): JWT login user, OAuth client credentials, API key.
REST_USERNAME = "demo-rest-user-5b1d"
REST_PASSWORD = "sandbox-rest-password"
REST_CLIENT_ID = "sandbox-rest-client"
REST_CLIENT_SECRET = "sandbox-rest-secret"
REST_API_KEY = "sandbox-rest-key"
REST_API_KEY_HEADER = "X-API-Key"
