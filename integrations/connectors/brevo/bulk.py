"""Brevo's bulk path: POST /v3/contacts/import with jsonBody, and the import's process status.

Imports are asynchronous (202 {processId}) and report no per-contact outcome, so a contact
sent this way is *accepted*, not synced; `import_status` confirms the process completed.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from integrations.connectors.base import ContactPayload, PushResult
from integrations.connectors.base import snippet as body_snippet
from integrations.errors import CrmError, CrmValidationError

from . import mapping

IMPORT_THRESHOLD = 200
IMPORT_MAX_BYTES = 8 * 1024 * 1024  # Brevo: max 10 MB, "safe limit of around 8 MB"


@dataclass
class ImportJob:
    """A Brevo import process: `accepted` when Brevo took it, then queued → in_process → completed."""

    process_id: int | None
    status: str
    contact_count: int = 0
    rejected: dict[str, str] = field(default_factory=dict)  # contact_id → why it was not sent
    request: Any = None
    response: Any = None

    @property
    def done(self) -> bool:
        return self.status == "completed"


class BrevoImportMixin:
    """The import methods of BrevoConnector (needs its client, options, _bodies, _ensure_attributes)."""

    def _use_import(self, count: int) -> bool:
        threshold = int(self.options.get("import_threshold") or IMPORT_THRESHOLD)
        return count > threshold and bool(self.options.get("import_list_ids"))

    def _push_by_import(self, records, bodies: dict[int, dict], results: list) -> None:
        try:
            job = self._start_import(list(bodies.values()))
        except CrmError as error:
            for index in bodies:
                results[index] = PushResult(contact_id=records[index].contact_id, ok=False, error=error)
            return
        for index, body in bodies.items():
            results[index] = PushResult(
                contact_id=records[index].contact_id,
                ok=True,
                remote_id=records[index].remote_id,
                created=None,
                request=body_snippet(mapping.import_item(body), secrets=self._secrets()),
                response={"status": 202, "processId": job.process_id, "state": "accepted"},
            )

    # -- bulk import ----------------------------------------------------------------------
    def import_contacts(self, records: Sequence[ContactPayload]) -> ImportJob:
        """Start an asynchronous Brevo import of `records` (POST /v3/contacts/import, jsonBody).

        Contacts that cannot be expressed (no email or phone, bad phone) are listed in
        `rejected` and not sent. Needs settings.import_list_ids (Brevo imports into lists).
        Raises CrmValidationError when the body would pass Brevo's 8 MB safe limit.
        """
        records = list(records)
        bodies, failed = self._bodies(records)
        attribute_failures = self._ensure_attributes(bodies)
        rejected = {records[i].contact_id: str(r.error.message) for i, r in failed.items()}
        for index, body in list(bodies.items()):
            broken = [name for name in body["attributes"] if name in attribute_failures]
            if broken:
                rejected[records[index].contact_id] = f"attribute {broken[0]} could not be created"
                del bodies[index]
        job = self._start_import(list(bodies.values()))
        job.rejected = rejected
        return job

    def _start_import(self, bodies: list[dict]) -> ImportJob:
        list_ids = [int(i) for i in self.options.get("import_list_ids") or []]
        if not list_ids:
            raise CrmValidationError(
                "Brevo imports need a list: set settings.import_list_ids on the connection", crm=self.kind
            )
        items = [mapping.import_item(body) for body in bodies]
        request: dict[str, Any] = {
            "jsonBody": items,
            "listIds": list_ids,
            "updateExistingContacts": True,
            "emptyContactsAttributes": False,
            "disableNotification": True,
        }
        if self.options.get("import_notify_url"):
            request["notifyUrl"] = self.options["import_notify_url"]
        size = mapping.json_size(request)
        if size > IMPORT_MAX_BYTES:
            raise CrmValidationError(
                f"import body is {size} bytes, over Brevo's 8 MB safe limit; split the batch", crm=self.kind
            )
        data = self.client.import_contacts(request)
        process_id = data.get("processId")
        return ImportJob(
            process_id=int(process_id) if process_id is not None else None,
            status="accepted",
            contact_count=len(items),
            request={"contacts": len(items), "listIds": list_ids, "bytes": size},
            response=body_snippet(data, secrets=self._secrets()),
        )

    def import_status(self, process_id: int | str) -> ImportJob:
        """GET /v3/processes/{id}: queued, in_process or completed (100-requests-per-hour bucket)."""
        data = self.client.get_process(process_id)
        return ImportJob(
            process_id=int(data.get("id") or process_id),
            status=str(data.get("status") or "unknown"),
            response=body_snippet(data, secrets=self._secrets()),
        )
