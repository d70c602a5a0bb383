"""`manage.py user_add NAME --role ROLE…`: create a user with roles (the password is asked or generated)."""

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.roles import ROLES
from audit.services import System, audit_record


class Command(BaseCommand):
    help = "Create a user with one or more roles; prints a generated password once unless --password is given."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", action="append", choices=ROLES, required=True)
        parser.add_argument("--password")

    def handle(self, *args: Any, username: str, role: list[str], password: str | None, **options: Any) -> None:
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"user {username!r} already exists")
        chosen = password or secrets.token_urlsafe(12)
        with transaction.atomic():
            user = User.objects.create_user(username=username, password=chosen)
            user.groups.set(Group.objects.filter(name__in=role))
            audit_record(actor=System("cli"), action="user.create", target=user, details={"roles": sorted(role)})
        self.stdout.write(f"Created {username!r} with roles {', '.join(sorted(role))}.")
        if not password:
            self.stdout.write(f"Password (shown once): {chosen}")
