"""Managing notification endpoints: permission, validation and an audit event (never the URL) in one transaction."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.permissions import require_perm
from audit.services import Actor, System, audit_record
from clusters.models import Cluster
from notifications import validation
from notifications.models import EndpointKind, NotificationEndpoint


class Unchanged:
    """Marks an argument that was not given (for a field where None means something: cluster None = all)."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = Unchanged()


# --- managing endpoints ---------------------------------------------------------------------------------------

ADD = "notifications.add_notificationendpoint"
CHANGE = "notifications.change_notificationendpoint"
DELETE = "notifications.delete_notificationendpoint"


def _authorize(actor: Actor, perm: str) -> None:
    if not isinstance(actor, System):
        require_perm(actor, perm)


def _collect(errors: dict[str, list[str]], field: str, func: Any, *args: Any) -> Any:
    try:
        return func(*args)
    except ValidationError as error:
        errors.setdefault(field, []).extend(error.messages)
        return None


def _shown(endpoint: NotificationEndpoint) -> dict[str, Any]:
    """What the audit log says about an endpoint: everything but the URL, which it only says exists."""
    return {
        "name": endpoint.name,
        "kind": endpoint.kind,
        "cluster": endpoint.cluster.name if endpoint.cluster_id and endpoint.cluster else "all clusters",
        "events": list(endpoint.events),
        "blocked_after_minutes": endpoint.blocked_after_minutes,
        "enabled": endpoint.enabled,
        "emails": endpoint.emails,
        "url": "set" if endpoint.url_secret else "none",
    }


def endpoint_create(
    *,
    actor: Actor,
    name: str,
    kind: str,
    events: list[str],
    cluster: Cluster | None = None,
    url: str = "",
    emails: str = "",
    blocked_after_minutes: int = 10,
    enabled: bool = True,
) -> NotificationEndpoint:
    _authorize(actor, ADD)
    errors: dict[str, list[str]] = {}
    clean_name = _collect(errors, "name", validation.validate_name, name)
    clean_events = _collect(errors, "events", validation.validate_events, events)
    clean_minutes = _collect(errors, "blocked_after_minutes", validation.validate_blocked_after, blocked_after_minutes)
    clean_url, clean_emails = "", ""
    if kind == EndpointKind.WEBHOOK:
        clean_url = _collect(errors, "url", validation.validate_webhook_url, url)
        if (emails or "").strip():
            errors.setdefault("emails", []).append("Only e-mail endpoints have addresses.")
    elif kind == EndpointKind.EMAIL:
        clean_emails = _collect(errors, "emails", validation.validate_emails, emails)
        if (url or "").strip():
            errors.setdefault("url", []).append("Only webhook endpoints have a URL.")
    else:
        errors.setdefault("kind", []).append("Choose webhook or email.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        endpoint = NotificationEndpoint.objects.create(
            name=clean_name,
            kind=kind,
            cluster=cluster,
            url_secret=clean_url or "",
            emails=clean_emails or "",
            events=clean_events,
            blocked_after_minutes=clean_minutes,
            enabled=bool(enabled),
            created_by=actor if isinstance(actor, get_user_model()) else None,
        )
        audit_record(
            actor=actor,
            action="notification_endpoint.create",
            target=endpoint,
            cluster=cluster,
            details=_shown(endpoint),
        )
    return endpoint


def endpoint_update(
    *,
    actor: Actor,
    endpoint: NotificationEndpoint,
    name: str | None = None,
    kind: str | None = None,
    events: list[str] | None = None,
    cluster: Cluster | Unchanged | None = UNCHANGED,
    url: str | None = None,
    emails: str | None = None,
    blocked_after_minutes: int | None = None,
    enabled: bool | None = None,
) -> NotificationEndpoint:
    """Change what was given (None, or UNCHANGED for cluster, keeps a value); a blank URL keeps the stored one."""
    _authorize(actor, CHANGE)
    errors: dict[str, list[str]] = {}
    changes: dict[str, Any] = {}
    if name is not None and name != endpoint.name:
        changes["name"] = _collect(errors, "name", validation.validate_name, name)
    if events is not None:
        clean_events = _collect(errors, "events", validation.validate_events, events)
        if clean_events != endpoint.events:
            changes["events"] = clean_events
    if blocked_after_minutes is not None and blocked_after_minutes != endpoint.blocked_after_minutes:
        changes["blocked_after_minutes"] = _collect(
            errors, "blocked_after_minutes", validation.validate_blocked_after, blocked_after_minutes
        )
    if enabled is not None and bool(enabled) != endpoint.enabled:
        changes["enabled"] = bool(enabled)
    if not isinstance(cluster, Unchanged) and (cluster.pk if cluster else None) != endpoint.cluster_id:
        changes["cluster"] = cluster
    new_kind = kind if kind is not None else endpoint.kind
    if new_kind not in EndpointKind.values:
        errors.setdefault("kind", []).append("Choose webhook or email.")
    elif new_kind != endpoint.kind:
        changes["kind"] = new_kind
    if new_kind == EndpointKind.WEBHOOK:
        if url and url.strip():
            clean_url = _collect(errors, "url", validation.validate_webhook_url, url)
            if clean_url != endpoint.url_secret:
                changes["url_secret"] = clean_url
        elif not endpoint.url_secret or endpoint.kind != EndpointKind.WEBHOOK:
            errors.setdefault("url", []).append("Enter the webhook URL.")
        if emails and emails.strip():
            errors.setdefault("emails", []).append("Only e-mail endpoints have addresses.")
        elif endpoint.emails:
            changes["emails"] = ""
    elif new_kind == EndpointKind.EMAIL:
        if emails is not None or endpoint.kind != EndpointKind.EMAIL:
            clean_emails = _collect(errors, "emails", validation.validate_emails, emails)
            if clean_emails != endpoint.emails:
                changes["emails"] = clean_emails
        if url and url.strip():
            errors.setdefault("url", []).append("Only webhook endpoints have a URL.")
        elif endpoint.url_secret:
            changes["url_secret"] = ""
    if errors:
        raise ValidationError(errors)
    if not changes:
        return endpoint
    with transaction.atomic():
        locked = (
            NotificationEndpoint.objects.select_for_update(of=("self",)).select_related("cluster").get(pk=endpoint.pk)
        )
        for field, value in changes.items():
            setattr(locked, field, value)
        locked.save()
        shown = {field: value for field, value in changes.items() if field not in {"url_secret", "cluster"}}
        if "cluster" in changes:
            shown["cluster"] = changes["cluster"].name if changes["cluster"] else "all clusters"
        if "url_secret" in changes:
            shown["url"] = "changed" if changes["url_secret"] else "removed"
        audit_record(
            actor=actor,
            action="notification_endpoint.update",
            target=locked,
            cluster=locked.cluster,
            details={"name": locked.name, "changes": shown},
        )
    return locked


def endpoint_delete(*, actor: Actor, endpoint: NotificationEndpoint) -> None:
    """Delete the endpoint and its delivery log."""
    _authorize(actor, DELETE)
    with transaction.atomic():
        locked = (
            NotificationEndpoint.objects.select_for_update(of=("self",)).select_related("cluster").get(pk=endpoint.pk)
        )
        details = _shown(locked)
        details.pop("url")
        audit_record(
            actor=actor,
            action="notification_endpoint.delete",
            target=locked,
            cluster=locked.cluster,
            details=details,
        )
        locked.delete()
