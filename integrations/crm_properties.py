"""The CRM's own contact properties, for picking a field mapping's targets and checking them on save.

A mapping to a property the CRM does not have would otherwise surface contact by contact during
a push (HubSpot: PROPERTY_DOESNT_EXIST). So every place that writes a mapping (the setup form,
the connections API) checks its targets here first: against the CRM's live property list, read
through the connector. When the CRM cannot be read now, only targets known to exist are
accepted: the connector's default mapping (the CRM's built-in properties) and the custom
properties property sync created or found there (properties/). A CRM that publishes no property
list (a webhook, a generic REST API) has nothing to check against: its names are sent as typed.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field

from django.core.cache import cache

from core.errors import ApplicationError, Unprocessable
from integrations.connectors.base import Capability
from integrations.errors import CrmError
from integrations.registry import get_connector_class

# Object type a connection's field mapping is for (contacts are what pushes send).
MAPPED_OBJECT_TYPE = "contacts"
# A stored connection's live list is reused this long (HubSpot and Brevo count every call).
CACHE_SECONDS = 120


@dataclass
class PropertyCatalog:
    """What can be mapped to: `properties` (name, label) and where they come from.

    `listed` is False for a CRM without a property list (nothing to pick from or check);
    `live` is False when the CRM could not be read now (`problem` says why) and `properties`
    holds only the ones known to exist.
    """

    kind: str
    display_name: str
    listed: bool
    live: bool = False
    properties: list[tuple[str, str]] = field(default_factory=list)
    problem: str = ""

    @property
    def names(self) -> set[str]:
        return {name for name, _ in self.properties}

    @property
    def message(self) -> str:
        """A sentence for the operator about the list (empty when it is the CRM's live list)."""
        if not self.listed:
            return (
                f"{self.display_name} publishes no property list: "
                "mapped names are sent as typed, without a check."
            )
        if not self.live:
            return (
                f"{self.display_name}'s property list is unavailable ({self.problem}); only its "
                "built-in properties and those property sync created there can be mapped now."
            )
        return ""


def _known(connection, connector_class) -> dict[str, str]:
    known = {remote: remote for remote in connector_class.default_field_mapping.values() if remote}
    if connection.organization_id:
        from properties.selectors import property_names_in_crm

        for name in property_names_in_crm(organization=connection.organization_id, crm=connection.kind):
            remote = connector_class.remote_property_name(name)
            known.setdefault(remote, remote)
    return known


def _cache_key(connection) -> str | None:
    """Per stored connection and configuration; an unsaved (trial) one is never cached."""
    if not connection.pk:
        return None
    changed = connection.credentials_changed_at.isoformat() if connection.credentials_changed_at else ""
    fingerprint = hashlib.sha256(
        f"{connection.base_url}|{sorted((connection.settings or {}).items())!r}|{changed}".encode()
    ).hexdigest()[:16]
    return f"crm:properties:{connection.pk}:{fingerprint}"


def crm_property_catalog(*, connection, use_cache: bool = True) -> PropertyCatalog:
    """The properties a field mapping of `connection` may target, read through its connector.

    `connection` may be unsaved (a trial with the credentials being entered): it is read as it
    stands and nothing it does is saved.
    """
    connector_class = get_connector_class(connection.kind)
    catalog = PropertyCatalog(
        kind=connection.kind,
        display_name=connector_class.display_name,
        listed=Capability.SYNC_PROPERTIES in connector_class.capabilities,
    )
    if not catalog.listed:
        return catalog
    key = _cache_key(connection) if use_cache else None
    cached = cache.get(key) if key else None
    if cached is not None:
        catalog.live, catalog.properties = True, [tuple(item) for item in cached]
        return catalog
    try:
        listed = connector_class(connection).list_properties(object_type=MAPPED_OBJECT_TYPE)
    except (CrmError, ApplicationError) as exc:
        catalog.problem = str(getattr(exc, "message", None) or exc)[:300]
        catalog.properties = sorted(_known(connection, connector_class).items())
        return catalog
    catalog.live = True
    catalog.properties = sorted(
        {prop.name: prop.label or prop.name for prop in listed if prop.name}.items(),
        key=lambda item: item[1].lower(),
    )
    if key:
        cache.set(key, catalog.properties, CACHE_SECONDS)
    return catalog


def connection_trial(connection):
    """An unsaved copy of `connection` to read the CRM with: nothing it does is saved onto the row.

    Its credentials are bound to the hosts it points at now (as a save would bind them).
    """
    from integrations.selectors import connection_target_hosts

    trial = copy.copy(connection)
    trial.pk = None
    trial.id = None
    trial.token_state = {}
    trial.credentials_hosts = connection_target_hosts(connection=trial)
    return trial


def field_mapping_targets_check(*, connection, mapping: dict | None = None, catalog=None) -> None:
    """Raise Unprocessable (422 unknown_crm_properties) when `mapping` (default: the connection's
    own) targets properties the CRM does not have, naming each of them.

    Checked against the CRM's live list; when the CRM cannot be read, a target not known to
    exist is refused with crm_properties_unavailable (it cannot be checked now). A CRM without
    a property list accepts any name.
    """
    mapping = connection.field_mapping if mapping is None else mapping
    targets = {
        local: remote for local, remote in (mapping or {}).items() if isinstance(remote, str) and remote
    }
    if not targets:
        return
    if catalog is None:
        catalog = crm_property_catalog(connection=connection_trial(connection))
    if not catalog.listed:
        return
    unknown = {local: remote for local, remote in targets.items() if remote not in catalog.names}
    if not unknown:
        return
    names = sorted(set(unknown.values()))
    if catalog.live:
        raise Unprocessable(
            f"{catalog.display_name} has no contact propert{'y' if len(names) == 1 else 'ies'} "
            f"{', '.join(names)}; map to one of its own properties.",
            code="unknown_crm_properties",
            details={
                f"field_mapping.{local}": [f"{catalog.display_name} has no property {remote!r}."]
                for local, remote in sorted(unknown.items())
            },
        )
    raise Unprocessable(
        f"{catalog.display_name}'s property list cannot be read now ({catalog.problem}), so "
        f"{', '.join(names)} cannot be checked; try again when it answers.",
        code="crm_properties_unavailable",
        details={
            f"field_mapping.{local}": [f"Cannot check {remote!r}: the property list is unavailable."]
            for local, remote in sorted(unknown.items())
        },
    )
