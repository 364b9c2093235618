"""An in-memory CRM connector for unit tests of the diff/plan/run logic (registered temporarily)."""

from dataclasses import replace

from integrations.connectors.base import Capability, Connector, PushResult, RemoteProperty
from integrations.errors import CrmAuthError, CrmRateLimited, CrmValidationError


class FakeCrm:
    """State and a call log shared by every connector instance bound in one test."""

    def __init__(self) -> None:
        self.properties: dict[str, dict[str, RemoteProperty]] = {"contacts": {}, "leads": {}, "deals": {}}
        self.groups: dict[str, set[str]] = {
            "contacts": {"contactinformation"},
            "leads": set(),
            "deals": set(),
        }
        self.calls: list[str] = []
        # Scripted failures: {"list_properties": [CrmRateLimited(...), ...]} raised in order.
        self.failures: dict[str, list[Exception]] = {}
        self.reject: dict[str, str] = {}  # property name → validation message on create/update
        self.counter = 0
        # Like HubSpot: the CRM's own properties sit in its default group.
        self.add(
            "contacts",
            RemoteProperty(
                name="email", label="Email", type="string", group_name="contactinformation", crm_defined=True
            ),
        )

    def fail(self, method: str) -> None:
        queued = self.failures.get(method)
        if queued:
            raise queued.pop(0)

    def add(self, object_type: str, prop: RemoteProperty) -> None:
        self.counter += 1
        self.properties[object_type][prop.name] = replace(
            prop, remote_id=prop.remote_id or f"prop-{self.counter}"
        )


class FakeCrmConnector(Connector):
    kind = "fakecrm"
    display_name = "Fake CRM"
    capabilities = frozenset({Capability.SYNC_PROPERTIES})
    property_object_types = ("contacts", "leads")
    crm: FakeCrm = FakeCrm()

    def list_properties(self, *, object_type: str) -> list[RemoteProperty]:
        self.crm.calls.append(f"list:{object_type}")
        self.crm.fail("list_properties")
        return [replace(prop) for prop in self.crm.properties[object_type].values()]

    def create_properties(self, *, object_type, properties):
        self.crm.calls.append(f"create:{object_type}:{len(properties)}")
        self.crm.fail("create_properties")
        results = []
        for prop in properties:
            if prop.name in self.crm.reject:
                error = CrmValidationError(self.crm.reject[prop.name], status=400, crm=self.kind)
                results.append(PushResult(contact_id=prop.name, ok=False, error=error))
                continue
            self.crm.add(object_type, prop)
            remote_id = self.crm.properties[object_type][prop.name].remote_id
            results.append(PushResult(contact_id=prop.name, ok=True, remote_id=remote_id, created=True))
        return results

    def update_property(self, *, object_type, prop):
        self.crm.calls.append(f"update:{object_type}:{prop.name}")
        self.crm.fail("update_property")
        if prop.name in self.crm.reject:
            raise CrmValidationError(self.crm.reject[prop.name], status=400, crm=self.kind)
        existing = self.crm.properties[object_type][prop.name]
        self.crm.properties[object_type][prop.name] = replace(prop, remote_id=existing.remote_id)
        return self.crm.properties[object_type][prop.name]

    def ensure_property_group(self, *, object_type, name, label):
        self.crm.calls.append(f"group:{object_type}:{name}")
        self.crm.fail("ensure_property_group")
        self.crm.groups[object_type].add(name)


__all__ = ["CrmAuthError", "CrmRateLimited", "FakeCrm", "FakeCrmConnector"]
