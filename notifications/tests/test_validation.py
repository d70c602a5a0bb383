"""What an endpoint accepts: webhook URLs (never echoed back in an error), e-mail addresses, events, minutes."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from notifications import validation


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8123/hooks/abc",
        "https://hooks.slack.com/services/T000/B000/XXXX",
        "https://chat.example.com/hook?token=abc",
        "http://[::1]:9000/x",
        "https://10.0.0.5/hook",
    ],
)
def test_accepted_webhook_urls(url):
    assert validation.validate_webhook_url(f"  {url} ") == url


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", "Enter the webhook URL"),
        ("ftp://files.example.com/secret-part", "must start with https:// or http://"),
        ("file:///etc/secret-part", "must start with https:// or http://"),
        ("https:///secret-part", "no host name"),
        ("http://169.254.169.254/latest/secret-part", "cloud metadata address"),
        ("http://169.254.10.10/secret-part", "link-local"),
        ("https://2852039166/secret-part", "cloud metadata address"),
        ("https://0xa9fea9fe/secret-part", "cloud metadata address"),
        ("https://0251.0376.0251.0376/secret-part", "cloud metadata address"),
        ("http://[fe80::1]/secret-part", "link-local"),
        ("http://0.0.0.0/secret-part", "not a unicast host address"),
        ("http://metadata.google.internal/secret-part", "cloud metadata host"),
        ("http://example.com:0/secret-part", "Port 0"),
        ("http://example.com:99999/secret-part", "not a valid URL"),
        ("http://exa mple.com/secret-part", "spaces or control characters"),
        ("https://example.com/" + "a" * 2048, "longer than 2048"),
    ],
)
def test_refused_webhook_urls_say_why_without_repeating_the_url(url, words):
    with pytest.raises(ValidationError) as caught:
        validation.validate_webhook_url(url)
    message = " ".join(caught.value.messages)
    assert words in message
    assert "secret-part" not in message and "example.com" not in message


def test_email_addresses_are_split_deduplicated_and_checked():
    assert validation.validate_emails("a@example.com,b@example.com; A@example.com\nc@example.com") == (
        "a@example.com, b@example.com, c@example.com"
    )
    with pytest.raises(ValidationError, match="Not an e-mail address: nope"):
        validation.validate_emails("a@example.com, nope")
    with pytest.raises(ValidationError, match="at least one"):
        validation.validate_emails(" , ")
    with pytest.raises(ValidationError, match="At most 20"):
        validation.validate_emails(",".join(f"u{i}@example.com" for i in range(21)))


def test_events_are_known_deduplicated_and_in_order():
    assert validation.validate_events(["finished", "approval_requested", "finished"]) == [
        "approval_requested",
        "finished",
    ]
    assert validation.validate_events("blocked, started") == ["started", "blocked"]
    with pytest.raises(ValidationError, match="Unknown event: exploded"):
        validation.validate_events(["exploded"])
    with pytest.raises(ValidationError, match="at least one"):
        validation.validate_events([])
    with pytest.raises(ValidationError, match="list"):
        validation.validate_events({"started": True})


@pytest.mark.parametrize("minutes", [0, -1, 10081, True, "10", 2.5])
def test_blocked_after_minutes_must_be_a_sensible_whole_number(minutes):
    with pytest.raises(ValidationError):
        validation.validate_blocked_after(minutes)


def test_event_values_and_labels():
    from notifications.events import Event

    assert Event.values == [
        "approval_requested",
        "approved",
        "rejected",
        "started",
        "blocked",
        "needs_intervention",
        "finished",
    ]
    assert Event.BLOCKED.label == "Pod blocked too long"
