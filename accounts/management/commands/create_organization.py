"""Create an organization, optionally with its first owner, without a Python shell."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.actors import Actor
from accounts.models import Membership
from accounts.services import membership_add, organization_create
from core.errors import ApplicationError


class Command(BaseCommand):
    help = "Create an organization; --owner makes an existing user its owner."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", help="URL name; defaults to the name, slugified")
        parser.add_argument("--owner", help="username of an existing user to make the owner")

    def handle(self, *args, name, slug, owner, **options):
        user = None
        if owner:
            user = get_user_model().objects.filter(username=owner).first()
            if user is None:
                raise CommandError(f"No user '{owner}'; create it first (manage.py createsuperuser).")
        try:
            with transaction.atomic():
                organization = organization_create(
                    name=name, slug=slug, actor=Actor.system("create_organization")
                )
                if user is not None:
                    membership_add(organization=organization, user=user, role=Membership.Role.OWNER)
        except ApplicationError as exc:
            problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.details.items())
            raise CommandError(f"{exc.message} {problems}".strip())
        owner_note = f", owner {user.get_username()}" if user is not None else ""
        self.stdout.write(f"Created organization {organization.slug} ('{organization.name}'{owner_note}).")
