"""`manage.py user_add NAME --role ROLE…`: create a user with roles (the password is given or generated)."""

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.roles import ROLES
from accounts.services import user_create
from audit.services import System


class Command(BaseCommand):
    help = "Create a user with one or more roles; prints a generated password once unless --password is given."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", action="append", choices=ROLES, required=True)
        parser.add_argument("--password", help="at least 12 characters, not common, not all digits (else generated)")

    def handle(self, *args: Any, username: str, role: list[str], password: str | None, **options: Any) -> None:
        chosen = password or secrets.token_urlsafe(12)
        try:
            user_create(actor=System("cli"), username=username, password=chosen, roles=role)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(f"Created {username!r} with roles {', '.join(sorted(role))}.")
        if not password:
            self.stdout.write(f"Password (shown once): {chosen}")
