"""Encryption at rest: stored as Fernet tokens; keys rotate (new key first, old still decrypts; re-encrypt command)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from audit.models import AuditEvent
from clusters.crypto import SecretUnreadable, decrypt
from clusters.models import Cluster
from tests.factories import ClusterFactory


def _raw_secret(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials_secret FROM clusters_cluster WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_rotation_re_encrypts_with_the_newest_key_and_old_keys_can_then_go(settings):
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    cluster = ClusterFactory()
    token = cluster.credentials.token
    before = _raw_secret(cluster.pk)
    new = Fernet.generate_key().decode()

    settings.FIELD_ENCRYPTION_KEYS = [new, old]  # new key first: it encrypts, both decrypt
    assert Cluster.objects.get(pk=cluster.pk).credentials.token == token
    call_command("rotate_encryption_keys")
    after = _raw_secret(cluster.pk)
    assert after != before
    assert Fernet(new.encode()).decrypt(after.encode()).decode().find(token) >= 0
    assert AuditEvent.objects.filter(action="secrets.rotate").exists()

    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key removed: everything still reads
    assert Cluster.objects.get(pk=cluster.pk).credentials.token == token


@pytest.mark.django_db
def test_rotation_stops_with_a_clear_error_when_a_secret_cannot_be_decrypted(settings):
    ClusterFactory()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="no configured FIELD_ENCRYPTION_KEYS entry decrypts"):
        call_command("rotate_encryption_keys")


def test_decrypt_with_an_unknown_key_raises_secret_unreadable(settings):
    token = Fernet(Fernet.generate_key()).encrypt(b"x").decode()
    with pytest.raises(SecretUnreadable):
        decrypt(token)
