"""A table of the same shape as contacts_contact: the same columns, indexes and constraint."""

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q


class Organization(models.Model):
    name = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    email = models.EmailField(max_length=254, blank=True, default="")
    first_name = models.CharField(max_length=150, blank=True, default="")
    last_name = models.CharField(max_length=150, blank=True, default="")
    phone = models.CharField(max_length=64, blank=True, default="")
    company = models.CharField(max_length=200, blank=True, default="")
    job_title = models.CharField(max_length=200, blank=True, default="")
    subtype = models.CharField(max_length=16, default="lead")
    status = models.CharField(max_length=16, default="active")
    source = models.CharField(max_length=64, default="api")
    tags = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True, default="")
    custom_properties = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by_type = models.CharField(max_length=16, default="system")
    created_by_label = models.CharField(max_length=200, blank=True, default="")
    created_by_user_id = models.IntegerField(null=True, blank=True)
    created_by_api_key_id = models.CharField(max_length=150, null=True, blank=True)
    search_text = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "email"], condition=~Q(email=""), name="bare_contact_unique_email"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="bare_org_created_idx"),
            models.Index(fields=["organization", "-updated_at"], name="bare_org_updated_idx"),
            models.Index(fields=["organization", "subtype"], name="bare_org_subtype_idx"),
            models.Index(fields=["organization", "status"], name="bare_org_status_idx"),
            models.Index(fields=["organization", "source"], name="bare_org_source_idx"),
            models.Index(fields=["organization", "last_name", "first_name"], name="bare_org_name_idx"),
        ]

    def __str__(self) -> str:
        return self.email
