"""`manage.py ensure_admin`: create the first administrator once, printing its password a single time."""

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.roles import ADMIN
from audit.services import System, audit_record


class Command(BaseCommand):
    help = "Create the 'admin' user if it does not exist (password from DRAINBOARD_ADMIN_PASSWORD or random)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"User {username!r} exists; its password is unchanged.")
            return
        given = os.environ.get("DRAINBOARD_ADMIN_PASSWORD")
        password = given or secrets.token_urlsafe(12)
        with transaction.atomic():
            user = User.objects.create_superuser(username=username, email="", password=password)
            user.groups.add(Group.objects.get(name=ADMIN))
            audit_record(actor=System("setup"), action="user.create", target=user, details={"roles": [ADMIN]})
        if given:
            self.stdout.write(f"Created user {username!r} with the password from DRAINBOARD_ADMIN_PASSWORD.")
        else:
            self.stdout.write(self.style.WARNING(f"Created user {username!r} with password: {password}"))
            self.stdout.write("This password is shown once. Change it after signing in.")
