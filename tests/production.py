"""Run `manage.py` in a subprocess with production settings: DEBUG unset, every required secret given, SQLite in a
temporary directory (what config/settings.py demands when DEBUG is off)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A minimal environment (PATH, HOME, LANG) plus production settings; DEBUG is not set at all."""
    base = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    return {
        **base,
        "SECRET_KEY": "p" * 20 + "roduction-secret-key-with-enough-entropy-0123456789",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "AUDIT_HMAC_KEY": "a-long-audit-hmac-key-0123456789abcdef",
        "ALLOWED_HOSTS": "drainboard.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://drainboard.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path}/prod.sqlite3",
        "REDIS_URL": "redis://127.0.0.1:6379/5",
        "DRAINBOARD_VAR_DIR": str(tmp_path / "var"),
        **extra,
    }


def manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    if check:
        assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def django_shell(env: dict[str, str], code: str) -> str:
    """Run Python in `manage.py shell` with these settings; returns what it printed."""
    return manage(env, "shell", "--no-imports", "-c", code).stdout
