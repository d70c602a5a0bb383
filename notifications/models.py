"""Notification endpoints (a webhook URL, encrypted, or e-mail addresses) and the log of every delivery."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from clusters.crypto import EncryptedTextField
from clusters.models import Cluster
from notifications.events import Event


class EndpointKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook (Slack-compatible JSON)"
    EMAIL = "email", "E-mail"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


DELIVERY_STATUS_COLOURS = {"pending": "amber", "sent": "green", "failed": "red"}


class NotificationEndpoint(models.Model):
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=EndpointKind.choices)
    # Null: every cluster.
    cluster = models.ForeignKey(
        Cluster, null=True, blank=True, on_delete=models.CASCADE, related_name="notification_endpoints"
    )
    # Encrypted; a webhook URL is a secret (whoever has it can post to the channel). Never render, return or log it.
    url_secret = EncryptedTextField(blank=True, editable=False)
    emails = models.CharField(max_length=2000, blank=True)  # comma-separated, validated by the services
    events = models.JSONField(default=list, blank=True)  # Event values
    blocked_after_minutes = models.PositiveIntegerField(default=10)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["enabled", "cluster"])]

    def __str__(self) -> str:
        return self.name

    @property
    def event_labels(self) -> list[str]:
        """The chosen events in words, in their usual order."""
        labels = []
        for event in Event:
            if event.value in (self.events or []):
                extra = f" (after {self.blocked_after_minutes} min)" if event == Event.BLOCKED else ""
                labels.append(f"{event.label}{extra}")
        return labels

    @property
    def email_list(self) -> list[str]:
        return [address.strip() for address in self.emails.split(",") if address.strip()]


class NotificationDelivery(models.Model):
    endpoint = models.ForeignKey(NotificationEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=Event.choices)
    request = models.ForeignKey(
        "evictions.EvictionRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dedupe_key = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(default=dict)  # what is sent; never the endpoint's URL
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.IntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)  # in words, never the URL
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "notification deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "request", "event", "dedupe_key"],
                condition=~Q(dedupe_key=""),
                name="one_deduplicated_delivery",
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["endpoint", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint_id} ({self.status})"
