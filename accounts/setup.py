"""The people a fresh installation starts with (the first admin; the demo's approver), and what becomes of their
generated passwords: shown once in development, in a file readable only by this user otherwise, never in logs."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.services import user_create
from audit.services import System


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


def password_file_for(username: str) -> Path:
    """Where a generated password goes when DEBUG is off: DRAINBOARD_ADMIN_PASSWORD_FILE for the admin, and a file
    named after the user beside it for the others."""
    admin_file: Path = settings.ADMIN_PASSWORD_FILE
    return admin_file if username == "admin" else admin_file.with_name(f"{username}-password")


def initial_user_ensure(
    *,
    username: str,
    roles: Sequence[str],
    password_env: str,
    say: Callable[[str], None],
    warn: Callable[[str], None],
    superuser: bool = False,
) -> bool:
    """Create `username` unless it exists (True if created). Its password comes from the environment variable
    `password_env`, or is generated: with DEBUG it is shown once through `warn`; otherwise it is written to
    password_file_for(username) (mode 0600) and only the path is shown."""
    if get_user_model().objects.filter(username=username).exists():
        say(f"User {username!r} exists; its password is unchanged.")
        return False
    given = os.environ.get(password_env)
    password = given or secrets.token_urlsafe(12)
    path = password_file_for(username)
    with transaction.atomic():
        user_create(actor=System("setup"), username=username, password=password, roles=roles, superuser=superuser)
        if not given and not settings.DEBUG:
            write_secret_file(path, password)  # if it cannot be written, no user with an unknown password
    if given:
        say(f"Created user {username!r} with the password from {password_env}.")
    elif settings.DEBUG:
        warn(f"Created user {username!r} with password: {password}")
        say("This password is shown once. Change it after signing in.")
    else:
        warn(f"Created user {username!r}; its password is in {path} (readable by this user only).")
        say("Read it, sign in, change the password, then delete the file.")
    return True
