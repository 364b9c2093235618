"""Reach a CRM's property API: resolve the `crm` path segment and the organization's connection.

The only place this app touches the integrations registry and CrmConnection, so the rest
of it speaks in connectors and RemoteProperty values.
"""

from core.errors import NotFound, Unprocessable
from integrations.connectors.base import Capability, Connector, RemoteProperty

# Object types a connector manages definitions for, unless it declares
# `property_object_types` itself (Brevo attributes and Mautic fields exist for contacts only).
DEFAULT_PROPERTY_OBJECT_TYPES = ("contacts",)
# "all" is the seed's contacts + leads; deals are synced on their own.
SYNC_TYPES = ("all", "contacts", "leads", "deals")


def connector_class_for(*, crm: str) -> type[Connector]:
    """The connector class of `crm`, which must exist and support property sync (else 404)."""
    from integrations import registry

    try:
        connector_class = registry.get_connector_class(crm)
    except (KeyError, LookupError, ValueError):
        raise NotFound(f"Unknown CRM '{crm}'.", code="unknown_crm", details={"crm": crm})
    if Capability.SYNC_PROPERTIES not in connector_class.capabilities:
        raise NotFound(
            f"The {crm} connector does not sync property definitions.",
            code="capability_not_supported",
            details={"crm": crm, "capability": Capability.SYNC_PROPERTIES.value},
        )
    return connector_class


def property_object_types(connector_class: type[Connector]) -> tuple[str, ...]:
    return tuple(getattr(connector_class, "property_object_types", DEFAULT_PROPERTY_OBJECT_TYPES))


def object_types_for(*, connector_class: type[Connector], sync_type: str) -> list[str]:
    """The object types a sync of `sync_type` covers for this CRM (404 for one it does not have)."""
    supported = property_object_types(connector_class)
    if sync_type not in SYNC_TYPES:
        raise NotFound(
            f"Unknown sync type '{sync_type}'; use one of: {', '.join(SYNC_TYPES)}.",
            code="unknown_sync_type",
            details={"sync_type": sync_type},
        )
    if sync_type == "all":
        return [object_type for object_type in ("contacts", "leads") if object_type in supported]
    if sync_type not in supported:
        raise NotFound(
            f"The {connector_class.kind} connector has no {sync_type} properties.",
            code="unsupported_object_type",
            details={"sync_type": sync_type, "supported": list(supported)},
        )
    return [sync_type]


def connection_for(*, organization, crm: str):
    """The organization's enabled connection of kind `crm` (422 when there is none)."""
    from integrations.models import CrmConnection

    connection = (
        CrmConnection.objects.filter(organization=organization, kind=crm, enabled=True).order_by("pk").first()
    )
    if connection is None:
        raise Unprocessable(
            f"The organization has no enabled {crm} connection.",
            code="no_connection",
            details={"crm": crm},
        )
    return connection


def connector_for(*, organization, crm: str) -> Connector:
    connector_class = connector_class_for(crm=crm)
    return connector_class(connection_for(organization=organization, crm=crm))


def projection_for(connector: Connector):
    """How this CRM stores a definition (see properties.sync.plan_build); None: as is."""
    project = getattr(connector, "property_projection", None)
    if project is None:
        return None

    def _project(prop: RemoteProperty) -> RemoteProperty:
        return project(prop)

    return _project
