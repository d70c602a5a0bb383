"""Cluster: where an API server is, how to reach it (credentials encrypted) and what it last answered."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings
from django.db import models

from clusters.crypto import EncryptedTextField


class CredentialKind(models.TextChoices):
    TOKEN = "token", "Bearer token"
    CLIENT_CERTIFICATE = "client_certificate", "Client certificate"


@dataclass(frozen=True)
class Credentials:
    """Decrypted credentials, only ever held in memory on the way to the API server."""

    token: str = ""
    client_cert_pem: str = ""
    client_key_pem: str = ""

    def __repr__(self) -> str:  # never print a secret, even in a traceback
        return "Credentials(<redacted>)"

    def to_json(self) -> str:
        if self.token:
            return json.dumps({"token": self.token})
        return json.dumps({"cert": self.client_cert_pem, "key": self.client_key_pem})

    @classmethod
    def from_json(cls, text: str) -> Credentials:
        data = json.loads(text or "{}")
        return cls(
            token=data.get("token", ""), client_cert_pem=data.get("cert", ""), client_key_pem=data.get("key", "")
        )


class Cluster(models.Model):
    name = models.CharField(max_length=63, unique=True)
    api_url = models.CharField("API server URL", max_length=2048)
    ca_pem = models.TextField("CA bundle (PEM)", blank=True)
    credential_kind = models.CharField(max_length=32, choices=CredentialKind.choices)
    # Encrypted JSON of Credentials; read it through .credentials, never render it.
    credentials_secret = EncryptedTextField(editable=False)
    qps_limit = models.PositiveSmallIntegerField("API requests per second", default=10)
    max_concurrent_drains = models.PositiveSmallIntegerField("Nodes drained at once", default=1)
    paused = models.BooleanField(default=False)
    paused_reason = models.CharField(max_length=500, blank=True)
    # The lease of the one budget watcher of this cluster (evictions.tasks.watch_budgets), renewed every round.
    watcher_until = models.DateTimeField(null=True, blank=True)

    reachable = models.BooleanField(null=True, default=None)  # None: never checked
    server_version = models.CharField(max_length=64, blank=True)
    eviction_api_version = models.CharField(max_length=32, blank=True)  # "policy/v1", "policy/v1beta1" or ""
    last_error = models.CharField(max_length=1000, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["name"]
        permissions = [("check_cluster", "Can run a cluster connectivity check")]

    def __str__(self) -> str:
        return self.name

    @property
    def credentials(self) -> Credentials:
        return Credentials.from_json(self.credentials_secret)

    @property
    def status(self) -> str:
        if self.paused:
            return "paused"
        if self.reachable is None:
            return "unchecked"
        return "reachable" if self.reachable else "unreachable"


STATUS_COLOURS = {"reachable": "green", "unreachable": "red", "unchecked": "grey", "paused": "amber"}
