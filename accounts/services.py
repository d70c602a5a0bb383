"""Account changes that need an audit event: creating people, API tokens."""

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
from audit.services import Actor, audit_record


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
