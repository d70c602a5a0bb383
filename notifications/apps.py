"""Notifications: webhook and e-mail endpoints told about eviction requests, and the log of what was sent."""

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
