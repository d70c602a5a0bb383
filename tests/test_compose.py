"""docker-compose.yml and the Dockerfile: migrations finish before anything else starts, the web server is threaded
and sized from the environment, and every base image is pinned to an exact version."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "watcher", "beat")
# An exact release: major.minor.patch (python, redis), or major.minor for PostgreSQL, which numbers its releases so
# (16.6). Never `latest`, a bare major (16, 7) or a release series (python 3.11).
EXACT_VERSION = {
    "postgres": re.compile(r"^\d+\.\d+(-[a-z0-9.-]+)?$"),
    "default": re.compile(r"^\d+\.\d+\.\d+(-[a-z0-9.-]+)?$"),
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def command_line(service: dict) -> str:
    command = service["command"]
    return command if isinstance(command, str) else " ".join(command)


def test_a_one_shot_migrate_service_runs_migrations_and_the_first_admin(compose):
    migrate = compose["services"]["migrate"]
    line = command_line(migrate)
    assert "manage.py migrate" in line and "manage.py ensure_admin" in line
    assert line.index("migrate --no-input") < line.index("ensure_admin")
    assert migrate.get("restart") == "no"  # one-shot: done, not restarted
    assert migrate["depends_on"]["postgres"] == {"condition": "service_healthy"}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_start_only_after_migrate_succeeded(compose, name):
    service = compose["services"][name]
    assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert service["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert service["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert "manage.py migrate" not in command_line(service)


def test_no_service_but_migrate_creates_the_admin(compose):
    for name, service in compose["services"].items():
        if name != "migrate" and "command" in service:
            assert "ensure_admin" not in command_line(service), name


def test_the_admin_password_file_is_on_a_volume_of_migrate_only(compose):
    migrate = compose["services"]["migrate"]
    path = migrate["environment"]["DRAINBOARD_ADMIN_PASSWORD_FILE"]
    volume = next(v for v in migrate["volumes"] if path.startswith(v.split(":")[1] + "/"))
    assert volume.split(":")[0] in compose["volumes"]
    # The anchor's environment is replaced, not merged, by a service's own: the database and broker must be there.
    assert migrate["environment"]["DATABASE_URL"].startswith("postgres://")
    for name in APP_SERVICES:
        mounts = [str(v).split(":")[1] for v in compose["services"][name].get("volumes", [])]
        assert not any(path.startswith(mount + "/") for mount in mounts), name


def test_web_runs_gunicorn_with_the_threaded_config(compose):
    line = command_line(compose["services"]["web"])
    assert line.startswith("gunicorn ") and "-c config/gunicorn.py" in line and "config.wsgi:application" in line
    assert "--workers" not in line  # sized in config/gunicorn.py from the environment
    dockerfile_cmd = re.search(r"^CMD (.+)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert dockerfile_cmd and '"-c", "config/gunicorn.py"' in dockerfile_cmd.group(1)


def gunicorn_config(**env: str) -> dict[str, str]:
    """gunicorn's own reading of config/gunicorn.py (`--print-config`), under this environment."""
    base = {"PATH": "/usr/bin:/bin", "DEBUG": "true", "DRAINBOARD_VAR_DIR": str(ROOT / "var" / "test")}
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "--print-config", "config.wsgi:application"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {
        key: value.strip()
        for key, _, value in (line.partition("=") for line in result.stdout.splitlines() if "=" in line)
        for key in [key.strip()]
    }


def test_gunicorn_uses_gthread_workers_with_sane_defaults():
    config = gunicorn_config()
    assert config["worker_class"] == "gthread"
    assert int(config["workers"]) >= 2 and int(config["threads"]) >= 4
    assert config["bind"] == "['0.0.0.0:8000']"


def test_gunicorn_workers_and_threads_come_from_the_environment():
    config = gunicorn_config(GUNICORN_WORKERS="5", GUNICORN_THREADS="3", GUNICORN_TIMEOUT="45")
    assert (config["workers"], config["threads"], config["timeout"]) == ("5", "3", "45")


def test_gunicorn_refuses_a_bad_size_with_its_name():
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "--check-config", "config.wsgi:application"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "GUNICORN_THREADS": "many"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "GUNICORN_THREADS" in result.stdout + result.stderr


def test_base_images_are_pinned_to_exact_versions(compose):
    images = {name: s["image"] for name, s in compose["services"].items() if "image" in s and "build" not in s}
    assert set(images) == {"postgres", "redis"}
    dockerfile = (ROOT / "Dockerfile").read_text()
    images.update({f"FROM #{i}": m for i, m in enumerate(re.findall(r"^FROM\s+(\S+)", dockerfile, re.M))})
    assert any(name.startswith("FROM") for name in images)
    for name, image in images.items():
        assert "@sha256:" in image or ":" in image, f"{name}: {image} has no tag"
        repository, tag = image.split("@")[0].rsplit(":", 1)
        pattern = EXACT_VERSION.get(repository, EXACT_VERSION["default"])
        assert tag != "latest" and pattern.match(tag), f"{name}: {image} is not pinned to an exact version"


def test_the_built_image_is_not_tagged_latest(compose):
    for name, service in compose["services"].items():
        if "build" in service:
            assert not service["image"].endswith(":latest") and ":" in service["image"], name
