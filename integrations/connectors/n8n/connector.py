"""N8nConnector: contact batches posted to an n8n Webhook node (CRM-APIS.md §4).

n8n is a push target only: there is nothing to pull and no property API. One POST per
batch carries every contact with its idempotency key; any 2xx means the batch was
delivered (n8n's "Respond: Immediately" answers `{"message": "Workflow was started"}`
before the workflow has run). A workflow that answers through a "Respond to Webhook"
node with `{"results": [...]}` reports per-contact outcomes instead (mapping.item_results).
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from integrations.connectors.base import Capability, Connector, ContactPayload, CredentialCheck, PushResult
from integrations.connectors.base import snippet as body_snippet
from integrations.errors import CrmAuthError, CrmError, CrmNotFound, CrmUnavailable, CrmValidationError

from . import mapping
from .client import N8nClient

MAX_BODY_BYTES = 16 * 1024 * 1024  # n8n's default N8N_PAYLOAD_SIZE_MAX


class N8nConnector(Connector):
    kind = "n8n"
    display_name = "n8n (webhook)"
    capabilities = frozenset({Capability.PUSH_CONTACTS, Capability.TEST_CREDENTIALS})
    default_base_url = ""  # every connection names its webhook URL
    account_fields = ("webhook", "status", "signed")
    batch_size_max = 1000
    default_field_mapping: ClassVar[dict[str, str]] = mapping.DEFAULT_FIELD_MAPPING
    default_rate_limit = None
    credential_fields = (
        "header_name",
        "header_value",
        "auth_header",
        "username",
        "password",
        "signing_secret",
    )

    def __init__(self, connection) -> None:
        super().__init__(connection)
        self._client: N8nClient | None = None

    @property
    def client(self) -> N8nClient:
        if self._client is None:
            from integrations.selectors import connection_base_url

            self._client = N8nClient(
                self.connection,
                credentials=self.credentials,
                base_url=connection_base_url(connection=self.connection),
            )
        return self._client

    def _secrets(self) -> tuple[str, ...]:
        return self.client.http.secrets()

    def _response_snippet(self, status: int | None, body: Any) -> Any:
        return body_snippet({"status": status, "body": body}, secrets=self._secrets())

    # -- credential test ------------------------------------------------------------------
    def test_credentials(self) -> CredentialCheck:
        """POST a signed ping: `{"event": "ping", "test": true, "contacts": []}`.

        n8n checks the webhook's auth before it starts anything, so 401/403 prove bad
        credentials without a run, and 404 means the workflow is inactive or the path is
        wrong. An accepted ping does start one workflow execution (n8n cannot be asked
        otherwise); with an empty `contacts` list a Split Out node yields no items, so no
        data is created, and a workflow should still stop on `event == "ping"` (docs).
        """
        envelope = mapping.envelope(items=[], sent_at=datetime.now(UTC), event=mapping.EVENT_PING, test=True)
        try:
            response, _body, _headers = self.client.post(envelope)
        except (CrmAuthError, CrmNotFound) as error:
            hint = (
                " (the workflow is inactive, or the webhook path is wrong)"
                if error.category == "not_found"
                else ""
            )
            return CredentialCheck(ok=False, message=error.message + hint)
        account = {
            "webhook": self.client.http.redact(self.client.url),
            "status": response.status,
            "signed": bool(self.client.secret),
        }
        message = (
            "n8n accepted the signed test ping." if self.client.secret else "n8n accepted the test ping."
        )
        if not self.client.secret:
            message += " Set a signing_secret so the workflow can verify the sender."
        return CredentialCheck(ok=True, account=account, message=message)

    # -- push -----------------------------------------------------------------------------
    def push_contacts(self, records: Sequence[ContactPayload]) -> list[PushResult]:
        """One POST per batch; one PushResult per input, in input order."""
        records = list(records)
        if not records:
            return []
        contact_mapping = self.field_mapping
        items = [mapping.contact_item(payload=record, mapping=contact_mapping) for record in records]
        envelope = mapping.envelope(items=items, sent_at=datetime.now(UTC))
        size = len(mapping.encode(envelope))
        if size > MAX_BODY_BYTES:
            error = CrmValidationError(
                f"batch body is {size} bytes, over n8n's 16 MB payload limit; lower the batch size",
                crm=self.kind,
            )
            return [
                self._result(record, item, error=error) for record, item in zip(records, items, strict=True)
            ]
        try:
            response, _body, headers = self.client.post(envelope)
        except CrmError as error:
            snippet = self._response_snippet(error.status, error.body)
            return [
                self._result(record, item, error=error, response=snippet)
                for record, item in zip(records, items, strict=True)
            ]
        body = response.data if response.data is not None else (response.text[:500] or None)
        outcomes = mapping.item_results(response.data, items)
        snippet = self._response_snippet(response.status, body)
        results = []
        for index, (record, item) in enumerate(zip(records, items, strict=True)):
            outcome = outcomes.get(index)
            if outcome is None:
                results.append(self._result(record, item, response=snippet, remote_id=record.remote_id))
                continue
            item_snippet = self._response_snippet(response.status, outcome)
            if outcome.get("ok", True) is False or outcome.get("error"):
                error_class = CrmUnavailable if outcome.get("retriable") else CrmValidationError
                message = str(outcome.get("error") or "the workflow refused this contact")
                error = error_class(message, status=response.status, crm=self.kind)
                results.append(self._result(record, item, error=error, response=item_snippet))
            else:
                remote_id = outcome.get("remote_id")
                results.append(
                    self._result(
                        record,
                        item,
                        response=item_snippet,
                        remote_id=str(remote_id) if remote_id is not None else record.remote_id,
                        created=outcome.get("created"),
                    )
                )
        return results

    def _result(
        self, record: ContactPayload, item: dict, *, error: CrmError | None = None, **fields
    ) -> PushResult:
        return PushResult(
            contact_id=record.contact_id,
            ok=error is None,
            error=error,
            request=body_snippet(item, secrets=self._secrets()),
            **fields,
        )
