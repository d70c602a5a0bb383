"""Account changes that need an audit event: API tokens, sign-in lock-outs."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

from audit.models import AuditEvent
from audit.services import System, audit_record


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
