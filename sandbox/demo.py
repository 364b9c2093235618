"""Demo connections: one enabled connection per registered CRM kind, pointing at the sandbox CRMs.

The sandbox describes its own demo connections so that product code never imports its test
double: bootstrap_demo calls `seed()` of every app that has a demo module, this one included.
Idempotent: an existing demo connection (same organization, kind and name "sandbox") is left as
it is, so edits made in the admin survive a second bootstrap.
"""

from django.conf import settings
from django.db import transaction

from accounts.actors import Actor
from integrations import registry
from integrations.models import CrmConnection
from integrations.services import connection_create
from sandbox import credentials as creds

DEMO_NAME = "sandbox"


def demo_connections(sandbox_url: str) -> dict[str, dict]:
    """Per kind: the base URL, credentials and settings a connection needs to reach this sandbox."""
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
        # Brivity and TopProducer: their presets as they are.
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
        # The generic REST CRM of seed 002 logs in with JWT and reports its total in meta.total.
        "rest": {
            "base_url": f"{sandbox_url}/rest",
            "credentials": {"username": creds.REST_USERNAME, "password": creds.REST_PASSWORD},
            "settings": {"auth": {"type": "jwt"}, "paging": {"total_path": "meta.total"}},
        },
    }


@transaction.atomic
def seed(organization) -> str:
    table = demo_connections(settings.CRM_SANDBOX_BASE_URL.rstrip("/"))
    existing = set(
        CrmConnection.objects.filter(organization=organization, name=DEMO_NAME).values_list("kind", flat=True)
    )
    created = []
    for kind in sorted(registry.connectors()):
        values = table.get(kind)
        if kind in existing or not values:
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
