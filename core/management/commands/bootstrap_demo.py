"""Idempotent demo set-up: organization, superuser, one all-scope API key, then each app's demo data.

Secrets are printed once, when they are created; a second run creates nothing and
prints none. Apps add their own demo rows through a `demo.seed(organization)` function.
"""

from importlib import import_module, util

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.crypto import get_random_string

from accounts.models import Membership, Organization, OrganizationAPIKey, Scope
from accounts.services import api_key_create, membership_add

DEMO_APPS = ["contacts", "properties", "sandbox", "crm_sync"]


class Command(BaseCommand):
    help = "Create the demo organization, an admin user, an API key and demo data (idempotent)."

    def handle(self, *args, **options):
        with transaction.atomic():
            organization, created = Organization.objects.get_or_create(
                slug=settings.DEFAULT_ORGANIZATION_SLUG, defaults={"name": "Demo Organization"}
            )
            self.stdout.write(f"Organization '{organization.slug}' {'created' if created else 'exists'}.")

            User = get_user_model()
            admin_user = User.objects.filter(username="admin").first()
            if admin_user is None:
                password = get_random_string(20)
                admin_user = User.objects.create_superuser("admin", "admin@example.com", password)
                self.stdout.write(f"Superuser 'admin' created; password (shown once): {password}")
            else:
                self.stdout.write("Superuser 'admin' exists (reset with: manage.py changepassword admin).")
            membership_add(organization=organization, user=admin_user, role=Membership.Role.OWNER)

            if not OrganizationAPIKey.objects.filter(organization=organization, name="demo").exists():
                _, raw_key = api_key_create(organization=organization, name="demo", scopes=list(Scope.values))
                self.stdout.write(f"API key 'demo' created (all scopes; shown once): {raw_key}")
            else:
                self.stdout.write("API key 'demo' exists (issue another with: manage.py create_api_key).")

            for app_label in DEMO_APPS:
                if util.find_spec(f"{app_label}.demo") is None:
                    continue
                summary = import_module(f"{app_label}.demo").seed(organization)
                if summary:
                    self.stdout.write(f"{app_label}: {summary}")
