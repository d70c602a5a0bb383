"""`make screenshots`: run the app on a fresh SQLite database with the demo cluster, make a few requests, and save
screenshots of the main pages into docs/screenshots/ (Debian's headless Chromium)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "screenshots"
OUT = ROOT / "docs" / "screenshots"
PASSWORD = "screenshots-admin-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    shutil.rmtree(VAR, ignore_errors=True)
    VAR.mkdir(parents=True)
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DEBUG="true", DRAINBOARD_VAR_DIR=str(VAR), DRAINBOARD_ADMIN_PASSWORD=PASSWORD, TICK_SECONDS="2")
    os.environ.update(env)
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([py, "manage.py", "ensure_admin"], cwd=ROOT, env=env, check=True, capture_output=True)
    kubeconfig = VAR / "kubeconfig"
    children = [
        subprocess.Popen(
            [
                py,
                "-m",
                "kubesim",
                "--scenario",
                "demo",
                "--time-scale",
                "10",
                "--port",
                "0",
                "--kubeconfig-out",
                str(kubeconfig),
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        ),
    ]
    try:
        for _ in range(100):
            if kubeconfig.exists():
                break
            time.sleep(0.1)
        subprocess.run(
            [py, "manage.py", "cluster_import", "--kubeconfig", str(kubeconfig), "--name", "demo"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        for argv in (
            [py, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            [py, "-m", "celery", "-A", "config", "worker", "-l", "WARNING", "--concurrency", "2"],
            [py, "-m", "celery", "-A", "config", "beat", "-l", "WARNING", "-s", str(VAR / "beat")],
        ):
            children.append(
                subprocess.Popen(
                    argv,
                    cwd=ROOT,
                    env=env,
                    start_new_session=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        from django.contrib.auth import get_user_model

        from clusters.models import Cluster
        from evictions.planning import DrainOptions, PodTarget
        from evictions.services.requests import RequestInput, request_create

        admin = get_user_model().objects.get(username="admin")
        cluster = Cluster.objects.get(name="demo")
        options = DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True, force=True)
        Cluster.objects.filter(pk=cluster.pk).update(max_concurrent_drains=2)  # both drains below run at once
        done = request_create(
            actor=admin,
            data=RequestInput(
                cluster=cluster, kind="drain", reason="kernel 6.8 upgrade", node="node-2", options=options
            ),
        )
        stuck = request_create(
            actor=admin,
            data=RequestInput(cluster=cluster, kind="drain", reason="replace node-3", node="node-3", options=options),
        )
        request_create(
            actor=admin,
            data=RequestInput(
                cluster=cluster,
                kind="pods",
                reason="move prometheus",
                targets=(PodTarget("monitoring", "prometheus-0"),),
            ),
        )
        # A policy applies to every request that has not started yet: let these start before it needs approval.
        from evictions.models import EvictionRequest

        for _ in range(300):
            if not EvictionRequest.objects.filter(status="scheduled").exists():
                break
            time.sleep(0.1)
        approvals_and_windows(admin, cluster, options)
        time.sleep(15)
        shoot(port, cluster.pk, done.pk, stuck.pk)
    finally:
        for child in children:
            try:
                os.killpg(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
    print(f"screenshots written to {OUT}")
    return 0


def approvals_and_windows(admin: object, cluster: object, options: object) -> None:
    """A nightly window, a policy needing one approval, and requests waiting for each: the approvals inbox and the
    schedule have something to show."""
    from datetime import time as clock
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from evictions.services.approvals import PolicyInput, policy_set
    from evictions.services.requests import RequestInput, request_create
    from evictions.services.windows import WindowInput, window_create

    rita = get_user_model().objects.create_user("rita", password=PASSWORD)
    rita.groups.add(Group.objects.get(name="requester"))
    window_create(
        actor=admin,
        cluster_id=cluster.pk,  # type: ignore[attr-defined]
        data=WindowInput(
            kind="recurring",
            label="nightly",
            weekdays=(0, 1, 2, 3, 4),
            start_time=clock(1),
            end_time=clock(4),
            timezone="Europe/Berlin",
        ),
    )
    start = (timezone.now() + timedelta(days=5)).replace(hour=20, minute=0, second=0, microsecond=0)
    window_create(
        actor=admin,
        cluster_id=cluster.pk,  # type: ignore[attr-defined]
        data=WindowInput(kind="one_off", label="rack move", starts_at=start, ends_at=start + timedelta(hours=6)),
    )
    policy_set(actor=admin, cluster_id=cluster.pk, data=PolicyInput(required_approvals=1))  # type: ignore[attr-defined]
    request_create(
        actor=rita,
        data=RequestInput(
            cluster=cluster,  # type: ignore[arg-type]
            kind="drain",
            reason="firmware update",
            node="node-1",
            options=options,  # type: ignore[arg-type]
            schedule="window",
        ),
    )


def shoot(port: int, cluster_id: int, done_id: int, stuck_id: int) -> None:
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{port}"
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        pages = [
            ("dashboard", "/"),
            ("clusters", "/clusters/"),
            ("cluster-detail", f"/clusters/{cluster_id}/"),
            ("requests", "/requests/"),
            ("evictions", "/evictions/"),
            ("cluster-budgets", f"/clusters/{cluster_id}/pdbs/"),
            ("request-succeeded", f"/requests/{done_id}/"),
            ("request-blocked", f"/requests/{stuck_id}/"),
            ("approvals", "/approvals/"),
            ("schedule", "/schedule/"),
            ("notifications", "/notifications/"),
            ("audit", "/audit/"),
        ]
        for name, path in pages:
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
