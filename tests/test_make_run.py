"""`make run` on an empty var dir: serves the login page with a worker and beat running; Ctrl-C leaves nothing."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _processes_with(marker: str) -> list[str]:
    """Processes whose environment carries the marker (this run's private var dir)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker.encode() in environ:
            found.append(f"{pid}: {cmdline}")
    return found


@pytest.mark.timeout(240)
def test_make_run_serves_login_and_ctrl_c_stops_everything(tmp_path):
    port = _free_port()
    var_dir = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    env.update(
        DRAINBOARD_VAR_DIR=str(var_dir),
        PORT=str(port),
        KUBESIM_PORT=str(_free_port()),
        DRAINBOARD_ADMIN_PASSWORD="make-run-test-password",
    )
    log = (tmp_path / "run.log").open("w+")
    process = subprocess.Popen(
        ["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 180
        status = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as response:
                    status = response.status
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        log.seek(0)
        output = log.read()
        assert status == 200, output[-3000:]
        # The demo cluster (kubesim) was started and registered, and it answered the connectivity check.
        assert "Registered cluster 'demo'" in output, output[-3000:]
        assert "Reachable: Kubernetes v1.30" in output, output[-3000:]
        # A second person and a one-approval policy on the demo cluster: the approval flow can be tried at once.
        assert re.search(r"Created user 'approver' with password: \S+", output), output[-3000:]
        assert "Cluster 'demo' now needs one approval per request" in output, output[-3000:]
        running = "\n".join(_processes_with(str(var_dir)))
        assert "celery -A config worker" in running, running
        assert "celery -A config beat" in running, running
        assert "runserver" in running
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    time.sleep(1)
    assert _processes_with(str(var_dir)) == []
    log.seek(0)
    assert "all processes stopped" in log.read()
