"""Account changes that need an audit event: API tokens."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from rest_framework.authtoken.models import Token

from audit.services import audit_record


def api_token_regenerate(*, actor: Any) -> str:
    """Replace the user's API token; the new key is returned once and shown once."""
    with transaction.atomic():
        Token.objects.filter(user=actor).delete()
        token = Token.objects.create(user=actor)
        audit_record(actor=actor, action="user.api_token_regenerate", target=actor)
    return str(token.key)
