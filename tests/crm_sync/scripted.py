"""A connector whose answers a test scripts: registered only inside tests (register_temporarily).

Each push call takes the next entry of `script`: a CrmError (the whole batch fails), a
callable(records) -> list[PushResult], or nothing (every record succeeds). Calls are kept
in `calls` so tests can assert what was sent and how often.
"""

from collections.abc import Sequence

from integrations.connectors.base import Capability, Connector, ContactPayload, CredentialCheck, PushResult
from integrations.errors import CrmError


class ScriptedConnector(Connector):
    kind = "scripted"
    display_name = "Scripted CRM"
    capabilities = frozenset({Capability.PUSH_CONTACTS, Capability.TEST_CREDENTIALS})
    batch_size_max = 100
    credential_fields = ("api_key",)

    script: list = []
    calls: list[list[ContactPayload]] = []
    credential_answers: list = []

    @classmethod
    def reset(cls) -> None:
        cls.script = []
        cls.calls = []
        cls.credential_answers = []

    def push_contacts(self, records: Sequence[ContactPayload]) -> list[PushResult]:
        type(self).calls.append(list(records))
        step = type(self).script.pop(0) if type(self).script else None
        if isinstance(step, CrmError):
            raise step
        if callable(step):
            return step(records)
        return [
            PushResult(
                contact_id=r.contact_id,
                ok=True,
                remote_id=f"r-{r.contact_id[:8]}",
                request={"email": r.email, "api_key": "sk-live-should-not-leak"},
                response={"id": f"r-{r.contact_id[:8]}"},
            )
            for r in records
        ]

    def test_credentials(self) -> CredentialCheck:
        answer = type(self).credential_answers.pop(0) if type(self).credential_answers else None
        if isinstance(answer, CrmError):
            raise answer
        if answer is False or self.connection.credentials.get("api_key") == "bad-key":
            return CredentialCheck(ok=False, message="HTTP 401: Unauthorized")
        return CredentialCheck(
            ok=True, account={"portal": 1}, message="Successfully authenticated with Scripted CRM API"
        )
