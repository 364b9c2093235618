"""Demo data: one enabled connection per registered CRM kind, pointing at the sandbox CRMs.

Idempotent: an existing demo connection (same organization, kind and name "sandbox") is
left as it is, so edits made in the admin survive a second bootstrap.

Each connector may define `demo_connection(sandbox_url) -> {"base_url", "credentials",
"settings"}` (a classmethod) to describe its own sandbox; otherwise DEMO_CONNECTIONS below
holds the values, taken from the sandbox's demo credentials (integrations/sandbox/credentials.py).
"""

from django.conf import settings
from django.db import transaction

from accounts.actors import Actor
from integrations import registry
from integrations.models import CrmConnection
from integrations.services import connection_create

DEMO_NAME = "sandbox"


def _demo_connections(sandbox_url: str) -> dict[str, dict]:
    from integrations.sandbox import credentials as creds

    return {
        "hubspot": {
            "base_url": f"{sandbox_url}/hubspot",
            "credentials": {"access_token": creds.HUBSPOT_TOKEN},
        },
        "brevo": {"base_url": f"{sandbox_url}/brevo/v3", "credentials": {"api_key": creds.BREVO_API_KEY}},
        "mautic": {
            "base_url": f"{sandbox_url}/mautic",
            "credentials": {"username": creds.MAUTIC_USERNAME, "password": creds.MAUTIC_PASSWORD},
        },
        "n8n": {
            "base_url": f"{sandbox_url}/n8n/webhook/{creds.N8N_WEBHOOK_PATH}",
            "credentials": {
                "auth_header": f"{creds.N8N_HEADER_NAME}: {creds.N8N_HEADER_VALUE}",
                "signing_secret": creds.N8N_HMAC_SECRET,
            },
        },
        "brivity": {
            "base_url": f"{sandbox_url}/brivity",
            "credentials": {"api_token": creds.BRIVITY_API_TOKEN},
        },
        "topproducer": {
            "base_url": f"{sandbox_url}/topproducer",
            "credentials": {
                "client_id": creds.TOPPRODUCER_CLIENT_ID,
                "client_secret": creds.TOPPRODUCER_CLIENT_SECRET,
            },
        },
        "rest": {
            "base_url": f"{sandbox_url}/rest",
            "credentials": {"username": creds.REST_USERNAME, "password": creds.REST_PASSWORD},
        },
    }


@transaction.atomic
def seed(organization) -> str:
    sandbox_url = settings.CRM_SANDBOX_BASE_URL.rstrip("/")
    table = _demo_connections(sandbox_url)
    existing = set(
        CrmConnection.objects.filter(organization=organization, name=DEMO_NAME).values_list("kind", flat=True)
    )
    created = []
    for kind, connector_class in sorted(registry.connectors().items()):
        if kind in existing:
            continue
        hook = getattr(connector_class, "demo_connection", None)
        values = hook(sandbox_url) if hook else table.get(kind)
        if not values:
            continue
        connection_create(
            organization=organization,
            kind=kind,
            actor=Actor.system("bootstrap_demo"),
            name=DEMO_NAME,
            base_url=values["base_url"],
            credentials=values.get("credentials", {}),
            settings=values.get("settings", {}),
        )
        created.append(kind)
    total = len(existing) + len(created)
    return f"{total} sandbox CRM connection(s) ({len(created)} new: {', '.join(created) or 'none'})"
