"""`manage.py ensure_admin`: create the first administrator once.

Its password comes from DRAINBOARD_ADMIN_PASSWORD, or is generated: in development (`make run`, DEBUG) it is printed
once; otherwise it is written to DRAINBOARD_ADMIN_PASSWORD_FILE (mode 0600) and only that path is printed, so that it
never lands in container logs."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.roles import ADMIN
from accounts.setup import initial_user_ensure


class Command(BaseCommand):
    help = (
        "Create the 'admin' user if it does not exist (password from DRAINBOARD_ADMIN_PASSWORD, or generated: "
        "printed once with DEBUG, otherwise written to DRAINBOARD_ADMIN_PASSWORD_FILE)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        try:
            initial_user_ensure(
                username=username,
                roles=[ADMIN],
                password_env="DRAINBOARD_ADMIN_PASSWORD",
                superuser=True,
                say=self.stdout.write,
                warn=lambda text: self.stdout.write(self.style.WARNING(text)),
            )
        except ValidationError as error:
            raise CommandError(f"cannot create {username!r}: {' '.join(error.messages)}") from None
