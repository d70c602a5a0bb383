"""`manage.py ensure_admin`: create the first administrator once.

Its password comes from DRAINBOARD_ADMIN_PASSWORD, or is generated: in development (`make run`, DEBUG) it is printed
once; otherwise it is written to DRAINBOARD_ADMIN_PASSWORD_FILE (mode 0600) and only that path is printed, so that it
never lands in container logs."""

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.roles import ADMIN
from audit.services import System, audit_record


def write_secret_file(path: Path, content: str) -> None:
    """Write `content` to `path` readable by this user only (0600 from the start), replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content + "\n")
        os.chmod(tmp, 0o600)  # whatever the umask
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class Command(BaseCommand):
    help = (
        "Create the 'admin' user if it does not exist (password from DRAINBOARD_ADMIN_PASSWORD, or generated: "
        "printed once with DEBUG, otherwise written to DRAINBOARD_ADMIN_PASSWORD_FILE)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"User {username!r} exists; its password is unchanged.")
            return
        given = os.environ.get("DRAINBOARD_ADMIN_PASSWORD")
        password = given or secrets.token_urlsafe(12)
        path: Path = settings.ADMIN_PASSWORD_FILE
        with transaction.atomic():
            user = User.objects.create_superuser(username=username, email="", password=password)
            user.groups.add(Group.objects.get(name=ADMIN))
            audit_record(actor=System("setup"), action="user.create", target=user, details={"roles": [ADMIN]})
            if not given and not settings.DEBUG:
                write_secret_file(path, password)  # if it cannot be written, no admin with an unknown password
        if given:
            self.stdout.write(f"Created user {username!r} with the password from DRAINBOARD_ADMIN_PASSWORD.")
        elif settings.DEBUG:
            self.stdout.write(self.style.WARNING(f"Created user {username!r} with password: {password}"))
            self.stdout.write("This password is shown once. Change it after signing in.")
        else:
            where = f"its password is in {path} (readable by this user only)"
            self.stdout.write(self.style.WARNING(f"Created user {username!r}; {where}."))
            self.stdout.write("Read it, sign in, change the password, then delete the file.")
