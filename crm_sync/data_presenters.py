"""Bodies of the CRM data API (seed 004): the seed's envelope keys, the project's record fields."""

from contacts.models import Contact
from crm_sync.data_selectors import SourceStatus
from crm_sync.models import RemoteRecord


def local_contact(contact: Contact) -> dict:
    return {
        "id": str(contact.pk),
        "source": "local",
        "object_type": "contacts",
        "name": contact.full_name or contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "company": contact.company,
        "status": contact.status,
        "updated_at": contact.updated_at,
    }


def remote_record(record: RemoteRecord, *, source: str) -> dict:
    return {
        "id": record.pk,
        "source": source,
        "object_type": record.object_type,
        "remote_id": record.remote_id,
        "name": record.display_name,
        "email": record.email,
        "fields": record.fields,
        "archived": record.archived,
        "merged_into_remote_id": record.merged_into_remote_id or None,
        "contact_id": str(record.contact_id) if record.contact_id else None,
        "remote_updated_at": record.remote_updated_at,
        "fetched_at": record.fetched_at,
    }


def item(row, *, source: str) -> dict:
    return local_contact(row) if isinstance(row, Contact) else remote_record(row, source=source)


def status_body(status: SourceStatus) -> dict:
    return {
        "status": status.status,
        "lastSync": status.last_sync,
        "contactCount": status.contact_count,
        "dealCount": status.deal_count,
        "lastError": status.last_error,
        "runningRuns": list(status.running_runs),
    }
