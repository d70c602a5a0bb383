"""Accounts: sign-in, the five roles and the permission checks services call."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
