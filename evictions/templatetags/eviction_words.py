"""Template filters that put numbers of the eviction pages into words."""

from __future__ import annotations

from django import template

from evictions.forms import in_form_words

register = template.Library()


@register.filter
def form_words(text: str | None) -> str:
    """A plan's message with the drain options named by the request form's labels instead of the API's fields."""
    return in_form_words(text) if text else ""


@register.filter
def minutes_words(minutes: int | None) -> str:
    """10080 → '7 days', 1440 → '24 hours', 90 → '90 minutes': the largest whole unit."""
    if minutes is None:
        return ""
    if minutes and minutes % (24 * 60) == 0 and minutes >= 2 * 24 * 60:
        days = minutes // (24 * 60)
        return f"{days} days"
    if minutes and minutes % 60 == 0 and minutes >= 120:
        return f"{minutes // 60} hours"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
