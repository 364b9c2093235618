"""Sandbox CRMs mounted at /sandbox/<kind>/ when SANDBOX_ENABLED (and alone by `manage.py sandbox`)."""

from django.urls import include, path, re_path

from sandbox import control, control_pull
from sandbox.emulators import (
    brevo,
    brevo_attributes,
    brevo_lists,
    hubspot,
    hubspot_associations,
    hubspot_merge,
    hubspot_objects,
    hubspot_properties,
    hubspot_reads,
    hubspot_search,
    mautic,
    mautic_fields,
    n8n,
)
from sandbox.emulators.restlike import BRIVITY_API, REST_API, TOPPRODUCER_API
from sandbox.runtime import Dialect, unknown_path

app_name = "sandbox"


def with_unknown_path(patterns: list, dialect: Dialect) -> list:
    """A sandbox's routes, then a catch-all answering that CRM's JSON 404 (never Django's HTML page).

    A known path called with a wrong method already answers the CRM's 405 from its endpoint.
    """
    return [*patterns, re_path(r"^.*$", unknown_path(dialect))]


hubspot_patterns = [
    path("crm/v3/objects/<str:object_type>/batch/upsert", hubspot_objects.batch_upsert),
    path("crm/v3/objects/<str:object_type>/batch/create", hubspot_objects.batch_create),
    path("crm/v3/objects/<str:object_type>/batch/update", hubspot_objects.batch_update),
    path("crm/v3/objects/<str:object_type>/batch/read", hubspot_reads.batch_read),
    path("crm/v3/objects/<str:object_type>/batch/archive", hubspot_objects.batch_archive),
    path("crm/v3/objects/<str:object_type>/search", hubspot_search.search),
    path("crm/v3/objects/<str:object_type>/merge", hubspot_merge.merge),
    path("crm/v3/objects/<str:object_type>", hubspot_reads.object_collection),
    path("crm/v3/objects/<str:object_type>/<str:object_id>", hubspot_reads.object_detail),
    path(
        "crm/v4/associations/<str:from_object_type>/<str:to_object_type>/batch/read",
        hubspot_associations.batch_read,
    ),
    path(
        "crm/v4/objects/<str:from_object_type>/<str:from_object_id>/associations/default/"
        "<str:to_object_type>/<str:to_object_id>",
        hubspot_associations.associate_default,
    ),
    path("crm/v3/properties/<str:object_type>/batch/create", hubspot_properties.property_batch_create),
    path("crm/v3/properties/<str:object_type>/groups", hubspot_properties.group_collection),
    path("crm/v3/properties/<str:object_type>/groups/<str:name>", hubspot_properties.group_detail),
    path("crm/v3/properties/<str:object_type>", hubspot_properties.property_collection),
    path("crm/v3/properties/<str:object_type>/<str:name>", hubspot_properties.property_detail),
    path("account-info/v3/details", hubspot.account_details),
    path("account-info/v3/api-usage/daily/private-apps", hubspot.api_usage_daily),
    path("oauth/v1/token", hubspot.oauth_token),
    path("oauth/v3/token", hubspot.oauth_token),
    # Last: whatever else is asked under /sandbox/hubspot/ answers HubSpot's JSON 404.
    re_path(r"^(?P<path>.*)$", hubspot.route_not_found),
]

brevo_v3_patterns = [
    path("contacts", brevo.contacts_collection),
    path("contacts/import", brevo.contact_import),
    path("contacts/batch", brevo.contact_batch_update),
    path("contacts/attributes", brevo_attributes.attribute_list),
    path("contacts/attributes/<str:category>/<str:name>", brevo_attributes.attribute_detail),
    path("contacts/lists", brevo_lists.list_collection),
    path("contacts/lists/<str:list_id>", brevo_lists.list_detail),
    path("contacts/lists/<str:list_id>/contacts", brevo_lists.list_contacts),
    path("contacts/lists/<str:list_id>/contacts/add", brevo_lists.list_add),
    path("contacts/lists/<str:list_id>/contacts/remove", brevo_lists.list_remove),
    path("contacts/folders", brevo_lists.folder_collection),
    path("contacts/folders/<str:folder_id>", brevo_lists.folder_detail),
    path("contacts/folders/<str:folder_id>/lists", brevo_lists.folder_lists),
    # Brevo paths the sandbox does not emulate: never read them as a contact identifier.
    re_path(r"^contacts/(?:segments|export|doubleOptinConfirmation)$", brevo.unknown_path),
    path("contacts/<str:identifier>", brevo.contact_detail),
    path("processes/<int:process_id>", brevo.process_read),
    path("account", brevo_attributes.account),
]
# Anything else under /sandbox/brevo/ answers Brevo's JSON 404, in DEBUG as in production.
brevo_patterns = [path("v3/", include(brevo_v3_patterns)), re_path(r"", brevo.unknown_path)]

mautic_patterns = [
    path("api/contacts", mautic.contact_collection),
    path("api/contacts/new", mautic.contact_new),
    path("api/contacts/batch/new", mautic.contact_batch_new),
    path("api/contacts/batch/edit", mautic.contact_batch_edit),
    path("api/contacts/batch/delete", mautic.contact_batch_delete),
    path("api/contacts/<int:contact_id>", mautic.contact_read),
    path("api/contacts/<int:contact_id>/edit", mautic.contact_edit_view),
    path("api/contacts/<int:contact_id>/delete", mautic.contact_delete),
    path("api/fields/contact", mautic_fields.field_collection),
    path("api/fields/contact/new", mautic_fields.field_new),
    path("api/fields/contact/<int:field_id>", mautic_fields.field_read),
    path("api/fields/contact/<int:field_id>/edit", mautic_fields.field_edit),
    path("api/fields/contact/<int:field_id>/delete", mautic_fields.field_delete),
    path("api/users/self", mautic_fields.user_self),
    path("oauth/v2/token", mautic_fields.oauth_token),
]

n8n_patterns = [
    path("webhook/<path:path>", n8n.webhook),
    path("webhook-test/<path:path>", n8n.webhook_test),
]


def _restlike(api, prefix: str) -> list:
    return [
        path(f"{prefix}me", api.me),
        path(f"{prefix}<str:entity>", api.collection),
        path(f"{prefix}<str:entity>/<int:record_id>", api.detail),
    ]


rest_patterns = [
    path("auth/login", REST_API.login),
    path("auth/refresh", REST_API.refresh),
    path("oauth/token", REST_API.oauth_token),
    path("api/v1/health", REST_API.health),
    *_restlike(REST_API, "api/v1/"),
    path("api/v1/<str:entity>/<int:record_id>/<str:action>", REST_API.action),
]
brivity_patterns = _restlike(BRIVITY_API, "v1/")
topproducer_patterns = [path("oauth/token", TOPPRODUCER_API.oauth_token), *_restlike(TOPPRODUCER_API, "v2/")]

urlpatterns = [
    path("<str:kind>/_control/", control.config_view, name="control"),
    path("<str:kind>/_control/reset", control.reset_view, name="control-reset"),
    path("<str:kind>/_control/requests", control.requests_view, name="control-requests"),
    path("<str:kind>/_control/records", control.records_view, name="control-records"),
    path("<str:kind>/_control/records/edit", control_pull.edit_view, name="control-records-edit"),
    path("<str:kind>/_control/records/merge", control_pull.merge_view, name="control-records-merge"),
    path("<str:kind>/_control/records/generate", control_pull.generate_view, name="control-records-generate"),
    path("hubspot/", include(hubspot_patterns)),
    path("brevo/", include(brevo_patterns)),
    path("mautic/", include(with_unknown_path(mautic_patterns, mautic.DIALECT))),
    path("n8n/", include(with_unknown_path(n8n_patterns, n8n.DIALECT))),
    path("rest/", include(with_unknown_path(rest_patterns, REST_API.dialect))),
    path("brivity/", include(with_unknown_path(brivity_patterns, BRIVITY_API.dialect))),
    path("topproducer/", include(with_unknown_path(topproducer_patterns, TOPPRODUCER_API.dialect))),
]
