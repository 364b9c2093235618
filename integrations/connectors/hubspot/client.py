"""HubSpot's endpoints on the shared HTTP client (CRM-APIS.md §1)."""

from typing import Any

from integrations.auth import AuthStrategy, Bearer, ConnectionTokenStore, OAuth2RefreshToken
from integrations.http import CrmHttpClient, CrmResponse
from integrations.ratelimit import daily_quota_for, limiter_for

from .mapping import error_message, rate_limit_policy

SEARCH_RATE_LIMIT = (5, 1.0)  # "rate limited to five requests per second per account"


def hubspot_auth(connection, credentials: dict, base_url: str) -> AuthStrategy:
    """A private-app token (Bearer), or OAuth2 refresh_token when client id/secret/refresh token are set."""
    if credentials.get("refresh_token") and credentials.get("client_id"):
        token_url = (connection.settings or {}).get("token_url") or f"{base_url}/oauth/v1/token"
        return OAuth2RefreshToken(
            token_url=token_url,
            client_id=credentials.get("client_id", ""),
            client_secret=credentials.get("client_secret", ""),
            refresh_token=credentials["refresh_token"],
            store=ConnectionTokenStore(connection),
        )
    return Bearer(credentials.get("access_token", ""))


class HubSpotClient(CrmHttpClient):
    @classmethod
    def for_hubspot(cls, connector) -> "HubSpotClient":
        from integrations.selectors import connection_base_url

        connection = connector.connection
        base_url = connection_base_url(connection=connection)
        credentials = connector.credentials
        return cls.for_connection(
            connection,
            base_url=base_url,
            credentials=credentials,
            auth=hubspot_auth(connection, credentials, base_url),
            limiters={
                "default": limiter_for(
                    connection, name="default", default=connector.rate_limit_default(connection)
                ),
                "search": limiter_for(connection, name="search", default=SEARCH_RATE_LIMIT),
            },
            quota=daily_quota_for(connection, default_limit=connector.daily_quota_default(connection)),
            error_message=error_message,
            rate_policy=rate_limit_policy,
        )

    # -- contacts -------------------------------------------------------------------------
    def batch_upsert(self, object_type: str, inputs: list[dict]) -> CrmResponse:
        return self.post(f"/crm/v3/objects/{object_type}/batch/upsert", json={"inputs": inputs})

    def batch_update(self, object_type: str, inputs: list[dict]) -> CrmResponse:
        return self.post(f"/crm/v3/objects/{object_type}/batch/update", json={"inputs": inputs})

    def search(self, object_type: str, body: dict[str, Any]) -> CrmResponse:
        # Search is exempt from the 10-second burst limit but has its own per-second one.
        return self.post(f"/crm/v3/objects/{object_type}/search", json=body, limiter="search")

    def list_objects(self, object_type: str, *, params: dict[str, Any]) -> CrmResponse:
        return self.get(f"/crm/v3/objects/{object_type}", params=params)

    def batch_read_associations(self, from_type: str, to_type: str, ids: list[str]) -> CrmResponse:
        # v4: 200, or 207 naming the ids without any association in errors[].
        return self.post(
            f"/crm/v4/associations/{from_type}/{to_type}/batch/read",
            json={"inputs": [{"id": i} for i in ids]},
        )

    # -- account --------------------------------------------------------------------------
    def account_details(self) -> CrmResponse:
        return self.get("/account-info/v3/details")

    # -- properties -----------------------------------------------------------------------
    def list_properties(self, object_type: str) -> CrmResponse:
        return self.get(f"/crm/v3/properties/{object_type}")

    def create_property(self, object_type: str, body: dict) -> CrmResponse:
        return self.post(f"/crm/v3/properties/{object_type}", json=body)

    def batch_create_properties(self, object_type: str, inputs: list[dict]) -> CrmResponse:
        return self.post(f"/crm/v3/properties/{object_type}/batch/create", json={"inputs": inputs})

    def update_property(self, object_type: str, name: str, body: dict) -> CrmResponse:
        return self.patch(f"/crm/v3/properties/{object_type}/{name}", json=body)

    def list_groups(self, object_type: str) -> CrmResponse:
        return self.get(f"/crm/v3/properties/{object_type}/groups")

    def create_group(self, object_type: str, body: dict) -> CrmResponse:
        return self.post(f"/crm/v3/properties/{object_type}/groups", json=body)
