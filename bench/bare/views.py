"""One ModelViewSet over the contact-shaped table, as a DRF tutorial would write it."""

from django.http import HttpResponse
from rest_framework import filters, serializers, viewsets

from bench.bare.models import Contact


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        exclude = ["organization", "search_text", "created_by_user_id", "created_by_api_key_id"]
        read_only_fields = ["id", "created_at", "updated_at", "created_by_type", "created_by_label"]


class ContactViewSet(viewsets.ModelViewSet):
    # One tenant's rows, as the project's lists are: the same query plan (the organization's
    # created_at index), so the comparison is of the work around the query, not of the plan.
    queryset = Contact.objects.filter(organization_id=1)
    serializer_class = ContactSerializer
    filter_backends = [filters.OrderingFilter]
    ordering_fields = ["created_at"]
    ordering = ["-created_at"]

    def perform_create(self, serializer):
        serializer.save(organization_id=1)


def healthz(request):
    return HttpResponse("ok")
