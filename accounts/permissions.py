"""Permission checks for services: the same rule whether the call came from a page, the API or a task."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied

from accounts.roles import ROLE_PERMISSIONS

_ROLE_OF: dict[str, str] = {}
for _role, _names in reversed(list(ROLE_PERMISSIONS.items())):
    for _name in _names:
        _ROLE_OF[_name] = _role  # the least powerful role that has it wins (dict is built in reverse)


def require_perm(user: Any, perm: str) -> None:
    """Raise PermissionDenied with a sentence naming the role that would allow it."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        raise PermissionDenied("You must be signed in.")
    if not user.has_perm(perm):
        role = _ROLE_OF.get(perm, "admin")
        raise PermissionDenied(f"This needs the {role} role ({perm}).")


def user_roles(user: Any) -> list[str]:
    if not getattr(user, "is_authenticated", False):
        return []
    names = set(user.groups.values_list("name", flat=True))
    if user.is_superuser:
        names.add("admin")
    return [role for role in ROLE_PERMISSIONS if role in names]
