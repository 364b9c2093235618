"""Summary and description of each API operation, by operationId, written for the API's users.

core.openapi puts them into the schema where a view's own `extend_schema` did not say more. Every
call takes `Authorization: Api-Key <key>` (or `Bearer <key>`) and sees only the key's organization.
"""

_READ = "Needs the `read` scope."
_WRITE = "Needs the `write` scope."
_SYNC = "Needs the `sync` scope."
_ADMIN = "Needs the `admin` scope."
_CRM = "`crm` is a CRM kind that pushes contacts (hubspot, brevo, mautic, n8n)."

OPERATIONS: dict[str, tuple[str, str]] = {
    # ---- contacts and events -------------------------------------------------------------
    "contacts_list": (
        "List contacts",
        "Contacts of your organization, newest first, `limit`/`offset` paginated with the total. "
        f"Filter by email, source, subtype, status, tag or a free-text `q`. {_READ}",
    ),
    "contacts_create": (
        "Create a contact",
        "Creates a contact. The email is normalised to lower case and unique in your organization "
        "(a duplicate is a 409 naming the existing contact); custom properties are checked against "
        f"your property definitions. Every problem of the body is reported at once. {_WRITE}",
    ),
    "contacts_retrieve": ("Get a contact", f"One contact by id. {_READ}"),
    "contacts_update": (
        "Replace a contact",
        f"Replaces every editable field: omitted fields are reset (except source). {_WRITE}",
    ),
    "contacts_partial_update": ("Change some fields of a contact", f"Changes only the fields sent. {_WRITE}"),
    "contacts_destroy": (
        "Delete a contact",
        f"Deletes the contact and its registrations and sync states; the audit history is kept. {_WRITE}",
    ),
    "contacts_history_list": (
        "A contact's audit history",
        f"Every change to the contact, newest first: who (user, API key or sync), what and when. {_READ}",
    ),
    "contacts_from_event_create": (
        "Register a contact for an event",
        "The event-form flow in one transaction: finds or creates the contact by email, finds or "
        "creates the event, and registers the contact (registering twice is one registration). "
        f"201 when something was created, 200 when everything existed. {_WRITE}",
    ),
    "events_list": ("List events", f"Events of your organization, paginated. {_READ}"),
    "events_create": (
        "Create an event",
        f"Creates an event; `external_id` is unique in your organization. {_WRITE}",
    ),
    "events_retrieve": ("Get an event", f"One event by id. {_READ}"),
    "events_update": ("Replace an event", f"Replaces every editable field of the event. {_WRITE}"),
    "events_partial_update": ("Change some fields of an event", f"Changes only the fields sent. {_WRITE}"),
    "events_destroy": ("Delete an event and its registrations", f"The contacts are kept. {_WRITE}"),
    "events_registrations_list": ("An event's registrations", f"Who registered, with the contact. {_READ}"),
    # ---- property definitions ----------------------------------------------------------------
    "properties_list": (
        "List property definitions",
        f"Custom-field definitions of your organization; filter by `object_type`. {_READ}",
    ),
    "properties_create": (
        "Create a property definition",
        f"Defines a custom field; contacts' `custom_properties` are then checked against it. {_WRITE}",
    ),
    "properties_retrieve": ("Get a property definition", f"One definition by id. {_READ}"),
    "properties_update": (
        "Replace a property definition",
        f"Replaces the editable fields; `name` and `object_type` are fixed once created. {_WRITE}",
    ),
    "properties_partial_update": (
        "Change a property definition",
        f"Changes only the fields sent; `name` and `object_type` are fixed. {_WRITE}",
    ),
    "properties_destroy": (
        "Delete a property definition",
        f"Deletes the definition here; the CRM's property is kept. {_WRITE}",
    ),
    "properties_sync_status_retrieve": (
        "Status of the last property sync",
        f"The latest property sync of this CRM and direction: state, counts, errors. {_ADMIN}",
    ),
    # ---- connections -----------------------------------------------------------------------
    "connections_list": (
        "List CRM connections",
        "Your organization's CRM connections with their settings, circuit state and daily quota. "
        f"Credentials are never returned, only which fields are set. {_ADMIN}",
    ),
    "connections_create": (
        "Create a CRM connection",
        "Connects a CRM: kind, base URL, credentials (stored encrypted), batch size, schedules, "
        "retry policy, conflict strategy and field mapping. The target URL is checked, and so is "
        "every property the field mapping names, against the CRM's own property list (422 naming "
        f"the ones it does not have). {_ADMIN}",
    ),
    "connections_retrieve": (
        "Get a CRM connection",
        f"One connection by id, without its credentials. {_ADMIN}",
    ),
    "connections_update": (
        "Replace a CRM connection's settings",
        "Replaces the editable settings; credentials sent are merged into the stored ones. A field "
        "mapping sent is checked against the CRM's own property list (422 naming the properties it "
        f"does not have). {_ADMIN}",
    ),
    "connections_partial_update": (
        "Change a CRM connection's settings",
        "Changes only the fields sent. Pointing the connection at another host needs new "
        "credentials (they are bound to the host they were given for). A field mapping sent is "
        f"checked against the CRM's own property list (422 naming unknown properties). {_ADMIN}",
    ),
    "connections_destroy": (
        "Delete a CRM connection",
        f"Deletes the connection and its sync states and runs; contacts are kept. {_ADMIN}",
    ),
    # ---- sync ----------------------------------------------------------------------------------
    "contacts_queue_sync_create": (
        "Queue one contact for a push",
        "Queues the contact for the CRM (`priority: high` starts a push at once; `force` pushes an "
        "unchanged payload again). The answer estimates when it will be processed from the "
        "connection's measured push rate; a paused connection answers `Paused: …` with the reason "
        f"and `paused`, and with no push measured yet the time is `Unknown`. {_CRM} {_SYNC}",
    ),
    "contacts_bulk_queue_sync_create": (
        "Queue many contacts for a push",
        "Queues up to SYNC_BULK_QUEUE_MAX_IDS contacts by id; each one that is not queued is listed "
        "with its reason (not_found, no_email, already_queued, unchanged). `dry_run` changes nothing. "
        f"{_CRM} {_SYNC}",
    ),
    "contacts_queue_all_sync_create": (
        "Queue every contact matching filters",
        "Queues every contact matching the filters in a few set-based statements and counts the "
        "skipped by reason. Above SYNC_QUEUE_ALL_INLINE_MAX_ROWS contacts it answers 202 once it has "
        "decided and counted them, with a `run` saying how many are written to the queue yet (a task "
        "writes them in chunks; sync-stats shows the rest as `queue_all_pending`); a second queue-all "
        "of the CRM while one is written is refused with 409 `queue_all_in_progress`. "
        "`estimated_completion` comes from the connection's measured push rate; "
        "it is null when the connection is paused until someone acts or nothing has been measured "
        f"yet, and `estimate` says which. {_CRM} {_SYNC}",
    ),
    "contacts_sync_status_retrieve": (
        "A contact's sync status in every CRM",
        "For each CRM that pushes: sync and processing status, the CRM's id, retries, the last error "
        "and, while queued, an estimate (or why the connection is paused). `debug=1` adds the last "
        f"request and response exchanged with the CRM. {_READ}",
    ),
    "contacts_sync_stats_retrieve": (
        "Sync counts by status",
        "Counts by status for one CRM (`crm`), or, without `crm`, for every CRM your organization "
        "has a connection of, by kind, each in the same shape. `paused` says why a queue is not "
        f"moving (open circuit or spent daily quota). {_READ}",
    ),
    "contacts_sync_failures_retrieve": (
        "Failed contacts of a CRM",
        "Contacts whose last push failed, newest failure first, with the CRM's message, the error "
        f"category and whether the engine will retry on its own. Paginated. {_CRM} {_READ}",
    ),
    "contacts_retry_sync_create": (
        "Retry one failed contact",
        "Schedules a new push of a contact in Error: after its backoff (retry_count + 1), or at once "
        f"from 0 with `reset_retry_count`. {_CRM} {_SYNC}",
    ),
    "contacts_retry_all_failures_create": (
        "Retry every failed contact of a CRM",
        f"Queues every contact in Error for the CRM again (retry counts reset by default). {_CRM} {_SYNC}",
    ),
    "admin_test_crm_credentials_create": (
        "Test CRM credentials",
        "Calls the CRM with the connection's stored credentials, or with the ones sent, and says "
        "whether they are valid, refused, rate limited or the CRM unreachable. Nothing is stored. "
        f"{_CRM} {_ADMIN}",
    ),
    "admin_crm_config_retrieve": (
        "Sync configuration of every CRM",
        "Per CRM kind: enabled, whether credentials are set (never their values), schedules, batch "
        f"size, retry policy, conflict strategy, capabilities, circuit and rate-limit state. {_ADMIN}",
    ),
    "conflicts_list": (
        "List sync conflicts",
        "Fields changed both here and in a CRM since the last sync, awaiting a choice; filter by "
        f"status. {_READ}",
    ),
    "conflicts_retrieve": ("Get a sync conflict", f"One conflict with both values of each field. {_READ}"),
    "sync_runs_list": (
        "List sync runs",
        "Every push batch and pull run, newest first: connection, direction, counts, calls, 429s, "
        f"duration and errors. The history behind throughput estimates. {_READ}",
    ),
    "sync_runs_retrieve": ("Get a sync run", f"One run with its counts, timings and errors. {_READ}"),
}

# Operations that may answer 422: a field mapping naming properties the CRM does not have
# (integrations/crm_properties.py).
UNPROCESSABLE_OPERATIONS = frozenset(
    {"connections_create", "connections_update", "connections_partial_update"}
)
