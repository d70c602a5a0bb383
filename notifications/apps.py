"""Notifications: webhook and e-mail endpoints told about eviction requests, and the log of what was sent."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from evictions.signals import request_event
        from notifications.receivers import on_request_event

        request_event.connect(on_request_event, dispatch_uid="notifications.request_event")
