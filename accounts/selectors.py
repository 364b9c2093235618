from django.db.models import QuerySet

from accounts.models import AuditEvent, Organization


def organizations_for_user(*, user) -> QuerySet[Organization]:
    if user.is_superuser:
        return Organization.objects.all()
    return Organization.objects.filter(memberships__user=user).distinct()


def audit_events_for_object(
    *, organization: Organization, object_type: str, object_id
) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        organization=organization, object_type=object_type, object_id=str(object_id)
    ).order_by("-created_at", "-id")
