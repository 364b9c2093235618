"""Routes of the crm_sync app under /api/v1/: the ten WO-018 endpoints and the CRM data API.

Paths follow the seed's resource names; the trailing slash is optional so the seed's
own URLs (without it) work too. These patterns come before the router's, so
contacts/sync-stats/ is never read as a contact id.
"""

from django.urls import re_path

from crm_sync import api, conflicts_api, data_api, runs_api

CONTACT = r"(?P<contact_id>[^/]+)"
SOURCE = r"(?P<source>[^/]+)"


def register(router) -> None:
    """The sync API's paths are in `urlpatterns`; conflicts and sync runs are viewsets."""
    router.register("conflicts", conflicts_api.ConflictViewSet, basename="conflicts")
    router.register("sync-runs", runs_api.SyncRunViewSet, basename="sync-runs")


urlpatterns = [
    re_path(r"^contacts/bulk-queue-sync/?$", api.ContactsBulkQueueSyncApi.as_view(), name="sync-bulk-queue"),
    re_path(r"^contacts/queue-all-sync/?$", api.ContactsQueueAllSyncApi.as_view(), name="sync-queue-all"),
    re_path(r"^contacts/sync-stats/?$", api.SyncStatsApi.as_view(), name="sync-stats"),
    re_path(r"^contacts/sync-failures/?$", api.SyncFailuresApi.as_view(), name="sync-failures"),
    re_path(r"^contacts/retry-all-failures/?$", api.RetryAllFailuresApi.as_view(), name="sync-retry-all"),
    re_path(rf"^contacts/{CONTACT}/queue-sync/?$", api.ContactQueueSyncApi.as_view(), name="sync-queue"),
    re_path(rf"^contacts/{CONTACT}/sync-status/?$", api.ContactSyncStatusApi.as_view(), name="sync-status"),
    re_path(rf"^contacts/{CONTACT}/retry-sync/?$", api.ContactRetrySyncApi.as_view(), name="sync-retry"),
    re_path(
        r"^admin/test-crm-credentials/?$", api.TestCrmCredentialsApi.as_view(), name="sync-test-credentials"
    ),
    re_path(r"^admin/crm-config/?$", api.CrmConfigApi.as_view(), name="sync-crm-config"),
    # The CRM data API (seed 004): cached records, search, status and sync-now per source.
    re_path(r"^integrations/cached-data/?$", data_api.CachedDataApi.as_view(), name="crm-data-cached"),
    re_path(r"^integrations/search/?$", data_api.SearchApi.as_view(), name="crm-data-search"),
    re_path(r"^integrations/sync-status/?$", data_api.SyncStatusApi.as_view(), name="crm-data-status"),
    re_path(r"^integrations/sync-all/?$", data_api.SyncAllApi.as_view(), name="crm-data-sync-all"),
    re_path(rf"^integrations/sync/{SOURCE}/?$", data_api.SyncSourceApi.as_view(), name="crm-data-sync"),
    re_path(r"^integrations/contacts/?$", data_api.ContactsListApi.as_view(), name="crm-data-contacts"),
    re_path(r"^integrations/deals/?$", data_api.DealsListApi.as_view(), name="crm-data-deals"),
    re_path(r"^integrations/cache/clear/?$", data_api.CacheClearApi.as_view(), name="crm-data-clear"),
]
