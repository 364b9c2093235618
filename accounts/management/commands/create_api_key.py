"""Issue an API key. The key is printed once, alone on the last line, for scripts to capture."""

from datetime import UTC, datetime, time

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from accounts.services import api_key_create
from core.errors import ApplicationError


class Command(BaseCommand):
    help = "Create an API key for an organization and print it once."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--scopes", default="read", help="comma-separated: read,write,sync,admin")
        parser.add_argument("--expires", help="expiry date, YYYY-MM-DD (end of that day, UTC)")
        parser.add_argument("--rate-limit", default="", help='e.g. "600/min"')

    def handle(self, *args, org, name, scopes, expires, rate_limit, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug '{org}'.")
        expires_at = None
        if expires:
            try:
                day = datetime.strptime(expires, "%Y-%m-%d").date()
            except ValueError:
                raise CommandError("--expires must be a date like 2027-01-31.")
            expires_at = datetime.combine(day, time.max, tzinfo=UTC)
        try:
            api_key, raw_key = api_key_create(
                organization=organization,
                name=name,
                scopes=scopes.split(","),
                expires_at=expires_at,
                rate_limit=rate_limit,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message)
        self.stdout.write(
            f"Created API key {api_key.prefix} '{name}' for {organization.slug} ({','.join(api_key.scopes)})."
        )
        self.stdout.write("Store it now: it is not shown again.")
        self.stdout.write(raw_key)
