"""Account changes that need an audit event: creating people, API tokens, sign-in lock-outs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from accounts.roles import ROLES
from audit.models import AuditEvent
from audit.services import Actor, System, audit_record


def user_create(*, actor: Actor, username: str, password: str, roles: Sequence[str], superuser: bool = False) -> Any:
    """Create a person holding `roles` (Django groups). The password must pass AUTH_PASSWORD_VALIDATORS; the roles
    must exist (they do once migrations ran); the name must be free. ValidationError names what is wrong."""
    User = get_user_model()
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValidationError({"roles": [f"No such role: {', '.join(unknown)}. Roles: {', '.join(ROLES)}."]})
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": [f"User {username!r} already exists."]})
    groups = list(Group.objects.filter(name__in=roles))
    missing = sorted(set(roles) - {g.name for g in groups})
    if missing:
        raise ValidationError({"roles": [f"Role groups missing (run `manage.py migrate`): {', '.join(missing)}."]})
    validate_password(password, user=User(username=username))
    with transaction.atomic():
        if superuser:
            user = User.objects.create_superuser(username=username, email="", password=password)
        else:
            user = User.objects.create_user(username=username, password=password)
        user.groups.set(groups)
        audit_record(actor=actor, action="user.create", target=user, details={"roles": sorted(roles)})
    return user


def api_token_regenerate(*, actor: Any) -> str:
    """Replace the user's API token; the new key is returned once and shown once."""
    with transaction.atomic():
        Token.objects.filter(user=actor).delete()
        token = Token.objects.create(user=actor)
        audit_record(actor=actor, action="user.api_token_regenerate", target=actor)
    return str(token.key)


SIGN_IN = System("sign-in")


def account_lockout_record(*, username: str, ip_address: str | None, failures: int) -> AuditEvent:
    """Record that sign-in as username from ip_address is locked after repeated failures (never the password).

    Called by accounts.lockout inside the transaction in which django-axes records the failure that locked it, so
    a lock-out is never stored without its event."""
    user = get_user_model().objects.filter(username=username).first() if username else None
    with transaction.atomic():
        return audit_record(
            actor=SIGN_IN,
            action="account.locked_out",
            object_type="auth.user",
            object_id=str(user.pk) if user is not None else "",
            details={"username": username, "ip_address": ip_address or "", "failures": failures},
        )
