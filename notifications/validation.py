"""Checks on what people type for a notification endpoint. Pure functions; no message ever repeats the URL."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from core.urlguard import refuse_host, split_url
from notifications.events import Event

MAX_NAME_LENGTH = 100
MAX_EMAILS = 20
MAX_EMAILS_LENGTH = 2000
MAX_BLOCKED_AFTER_MINUTES = 7 * 24 * 60


def validate_name(name: Any) -> str:
    name = " ".join(str(name or "").split())
    if not name:
        raise ValidationError("Give the endpoint a name.", code="required")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"Use at most {MAX_NAME_LENGTH} characters.", code="max_length")
    return name


def validate_webhook_url(url: Any) -> str:
    """Return the URL (stripped) or raise ValidationError in words that never repeat it: it is a secret."""
    url = str(url or "").strip()
    if not url:
        raise ValidationError("Enter the webhook URL.", code="required")
    parts = split_url(url, scheme_message="The URL must start with https:// or http://.", quote_errors=False)
    # Loopback is allowed as 127.0.0.1 is (Python counts ::1 as reserved, which the shared check refuses).
    refuse_host(parts.hostname or "", name_host=False, allow_loopback=True)
    return url


def validate_emails(text: Any) -> str:
    """Comma- (or space-, semicolon-) separated addresses → 'a@example.com, b@example.com'."""
    raw = str(text or "").replace(";", ",").replace("\n", ",")
    addresses: list[str] = []
    for part in raw.split(","):
        for address in part.split():
            if address and address.lower() not in {known.lower() for known in addresses}:
                addresses.append(address)
    if not addresses:
        raise ValidationError("Enter at least one e-mail address.", code="required")
    if len(addresses) > MAX_EMAILS:
        raise ValidationError(f"At most {MAX_EMAILS} addresses.", code="max_length")
    bad = []
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
    if bad:
        raise ValidationError(f"Not an e-mail address: {', '.join(bad[:5])}.", code="invalid")
    joined = ", ".join(addresses)
    if len(joined) > MAX_EMAILS_LENGTH:
        raise ValidationError(f"The addresses are longer than {MAX_EMAILS_LENGTH} characters.", code="max_length")
    return joined


def validate_events(events: Any) -> list[str]:
    """A non-empty list of event names, in the canonical order."""
    if isinstance(events, str):
        events = [item.strip() for item in events.split(",") if item.strip()]
    if not isinstance(events, list | tuple | set) or not all(isinstance(item, str) for item in events):
        raise ValidationError("Give a list of event names.", code="invalid")
    unknown = sorted(set(events) - set(Event.values))
    if unknown:
        raise ValidationError(
            f"Unknown event: {', '.join(unknown)}. Choose from {', '.join(Event.values)}.", code="invalid_choice"
        )
    if not events:
        raise ValidationError("Choose at least one event.", code="required")
    return [value for value in Event.values if value in set(events)]


def validate_blocked_after(minutes: Any) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_BLOCKED_AFTER_MINUTES:
        raise ValidationError(f"Enter a whole number of minutes from 1 to {MAX_BLOCKED_AFTER_MINUTES}.", code="invalid")
    return minutes
