"""Backups: a `pg_dump` of the database, restored into another with the same keys, is whole — the audit chain verifies
and the cluster credentials decrypt; restored with another AUDIT_HMAC_KEY, the chain does not verify (which is why
the keys must be kept with the backups, docs/OPERATIONS.md#backups)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from audit.services import System
from clusters import services as cluster_services
from tests import worker

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "backed-up-token-" + "x" * 24


def manage(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *argv], cwd=worker.ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_restored_pg_dump_verifies_and_decrypts_with_the_same_keys_and_not_with_another(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("pg_dump backups are for PostgreSQL, the production database (CI runs this test)")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump / pg_restore are not installed")
    cluster_services.cluster_create(
        actor=System("test"),
        name="backed-up",
        connection=cluster_services.connection_from_input(api_url="https://k8s.example.com:6443", token=TOKEN),
    )
    source = worker.test_database_url()
    dump = tmp_path / "drainboard.dump"
    subprocess.run(["pg_dump", "--format=custom", "--file", str(dump), source], check=True, timeout=120)

    restored = f"drainboard_restore_{uuid.uuid4().hex[:8]}"
    admin = source.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{restored}"')
    try:
        target = source.rsplit("/", 1)[0] + f"/{restored}"
        subprocess.run(["pg_restore", "--no-owner", "--dbname", target, str(dump)], check=True, timeout=120)
        env = {
            **os.environ,
            "DATABASE_URL": target,
            "AUDIT_HMAC_KEY": settings.AUDIT_HMAC_KEY,
            "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        }
        verified = manage(env, "audit_verify")
        assert verified.returncode == 0, verified.stderr
        assert "audit chain verified" in verified.stdout
        read = manage(
            env,
            "shell",
            "-c",
            "from clusters.models import Cluster; print(Cluster.objects.get(name='backed-up').credentials.token)",
        )
        assert read.returncode == 0, read.stderr
        assert read.stdout.strip().splitlines()[-1] == TOKEN  # after the shell's "N objects imported" line

        other_key = manage({**env, "AUDIT_HMAC_KEY": "another-key-" + "k" * 40}, "audit_verify")
        assert other_key.returncode != 0
        assert "audit chain verified" not in other_key.stdout
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
