"""The connector registry: CRM kind → Connector class, loaded from settings.CRM_CONNECTORS.

Nothing else decides what a kind can do: the `crm` parameter, CrmConnection.kind choices,
the API's validation and the sync dispatch all ask here (never `if kind == ...`).
Loading is strict: a path that does not import, a duplicate kind, or capabilities that do
not match the methods a class overrides raise ImproperlyConfigured at start-up
(IntegrationsConfig.ready), so a broken connector cannot hide until its first sync.
"""

from __future__ import annotations

import contextlib
import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from core.errors import ApplicationError
from integrations.connectors.base import Capability, Connector

# Which methods a capability promises. SYNC_PROPERTIES's ensure_property_group is optional
# (CRMs without groups inherit the base's no-op).
CAPABILITY_METHODS: dict[Capability, tuple[str, ...]] = {
    Capability.PUSH_CONTACTS: ("push_contacts",),
    Capability.PULL_CONTACTS: ("pull_contacts",),
    Capability.PULL_DEALS: ("pull_deals",),
    Capability.SYNC_PROPERTIES: ("list_properties", "create_properties", "update_property"),
    Capability.TEST_CREDENTIALS: ("test_credentials",),
    Capability.WRITE_RECORDS: ("write_record", "record_action"),
}


class UnknownCrm(ApplicationError, LookupError):
    """A `crm`/kind the registry does not know (400 unknown_crm; a LookupError too)."""

    status_code = 400
    default_code = "unknown_crm"


_lock = threading.Lock()
_registry: dict[str, type[Connector]] | None = None
_temporary: dict[str, type[Connector]] = {}


def check_connector(cls: type) -> None:
    """Raise ImproperlyConfigured unless `cls` is a complete, honest Connector."""
    if not isinstance(cls, type) or not issubclass(cls, Connector):
        raise ImproperlyConfigured(f"{cls!r} is not a Connector subclass.")
    for attr in ("kind", "display_name"):
        if not getattr(cls, attr, None):
            raise ImproperlyConfigured(f"{cls.__qualname__} must set `{attr}`.")
    for capability, methods in CAPABILITY_METHODS.items():
        overridden = [m for m in methods if getattr(cls, m) is not getattr(Connector, m)]
        declared = capability in cls.capabilities
        if declared and len(overridden) != len(methods):
            missing = sorted(set(methods) - set(overridden))
            raise ImproperlyConfigured(
                f"{cls.__qualname__} declares {capability.value} but does not implement {', '.join(missing)}."
            )
        if not declared and overridden:
            raise ImproperlyConfigured(
                f"{cls.__qualname__} implements {', '.join(overridden)} "
                f"but does not declare {capability.value}."
            )
    if cls.batch_size_max < 1:
        raise ImproperlyConfigured(f"{cls.__qualname__}.batch_size_max must be at least 1.")


def _load() -> dict[str, type[Connector]]:
    connectors: dict[str, type[Connector]] = {}
    for path in settings.CRM_CONNECTORS:
        try:
            cls = import_string(path)
        except ImportError as exc:
            raise ImproperlyConfigured(f"CRM_CONNECTORS: cannot import {path!r}: {exc}") from exc
        check_connector(cls)
        if cls.kind in connectors:
            raise ImproperlyConfigured(f"CRM_CONNECTORS: kind {cls.kind!r} is registered twice.")
        connectors[cls.kind] = cls
    return connectors


def connectors() -> dict[str, type[Connector]]:
    """kind → class, settings' connectors plus any registered temporarily (tests)."""
    global _registry
    if _registry is None:
        with _lock:
            if _registry is None:
                _registry = _load()
    return {**_registry, **_temporary}


def reload() -> dict[str, type[Connector]]:
    """Forget the loaded registry (after a settings change in a test)."""
    global _registry
    with _lock:
        _registry = None
    return connectors()


def kinds() -> list[str]:
    return sorted(connectors())


def kind_choices() -> list[tuple[str, str]]:
    return [(kind, cls.display_name) for kind, cls in sorted(connectors().items())]


def get_connector_class(kind: str) -> type[Connector]:
    try:
        return connectors()[kind]
    except KeyError:
        raise UnknownCrm(
            f"Unknown CRM {kind!r}; valid: {', '.join(kinds())}.", details={"valid": kinds()}
        ) from None


def connector_for(connection) -> Connector:
    """A connector bound to `connection` (build one per use; they hold no shared state)."""
    return get_connector_class(connection.kind)(connection)


@contextlib.contextmanager
def register_temporarily(cls: type[Connector]):
    """Register `cls` for the duration of a `with` block (tests only)."""
    check_connector(cls)
    previous = _temporary.get(cls.kind)
    _temporary[cls.kind] = cls
    try:
        yield cls
    finally:
        if previous is None:
            _temporary.pop(cls.kind, None)
        else:
            _temporary[cls.kind] = previous
