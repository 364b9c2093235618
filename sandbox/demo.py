"""Demo connections: one enabled connection per registered CRM kind, pointing at the sandbox CRMs.

The sandbox describes its own demo connections so that product code never imports its test
double: bootstrap_demo calls `seed()` of every app that has a demo module, this one included.
Idempotent: an existing demo connection (same organization, kind and name "sandbox") is left as
it is, so edits made in the admin survive a second bootstrap, with one exception: when this
server's sandbox moved (`make run PORT=8001` after a first run on 8000), a demo connection still
pointing at the sandbox's old address (same path, another local host:port) follows it, since it
could never reach the old one again.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction

from accounts.actors import Actor
from integrations import registry
from integrations.models import CrmConnection
from integrations.outbound import LOCALHOST_NAMES, literal_address
from integrations.services import connection_create, connection_update
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


def _is_local(host: str) -> bool:
    address = literal_address(host)
    return host in LOCALHOST_NAMES or (address is not None and address.is_loopback)


def sandbox_moved(*, current: str, wanted: str) -> bool:
    """Whether `current` is this sandbox's URL at an old local address: same path, other host:port."""
    old, new = urlsplit(current), urlsplit(wanted)
    return (
        old.path.rstrip("/") == new.path.rstrip("/")
        and old.netloc != new.netloc
        and _is_local((old.hostname or "").lower())
    )


def _follow_sandbox(*, organization, table: dict) -> list[str]:
    moved = []
    demo = CrmConnection.objects.filter(organization=organization, name=DEMO_NAME).order_by("kind")
    for connection in demo:
        values = table.get(connection.kind)
        if not values or not sandbox_moved(current=connection.base_url, wanted=values["base_url"]):
            continue
        # Credentials are bound to the hosts they were given for: moving re-gives the sandbox's own.
        connection_update(
            connection=connection,
            actor=Actor.system("bootstrap_demo"),
            base_url=values["base_url"],
            credentials=values.get("credentials", {}),
            replace_credentials=True,
        )
        moved.append(connection.kind)
    return moved


@transaction.atomic
def seed(organization) -> str:
    table = demo_connections(settings.CRM_SANDBOX_BASE_URL.rstrip("/"))
    moved = _follow_sandbox(organization=organization, table=table)
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
    summary = f"{total} sandbox CRM connection(s) ({len(created)} new: {', '.join(created) or 'none'})"
    if moved:
        summary += f"; {len(moved)} moved to {settings.CRM_SANDBOX_BASE_URL}: {', '.join(moved)}"
    return summary
