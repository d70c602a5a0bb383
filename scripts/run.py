"""`make run`: migrate, ensure an admin, start the demo cluster (kubesim) with an approver and a one-approval policy,
the web server, a Celery worker and beat; Ctrl-C (or any of them dying) stops every process it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
VAR = Path(os.environ.get("DRAINBOARD_VAR_DIR", ROOT / "var"))
PORT = os.environ.get("PORT", "8000")
KUBESIM_PORT = os.environ.get("KUBESIM_PORT", "6443")
DEMO = os.environ.get("DRAINBOARD_DEMO", "true").lower() not in {"0", "false", "no", "off"}

children: list[tuple[str, subprocess.Popen[bytes]]] = []


def manage(*args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, check=True)


def start(name: str, argv: list[str]) -> subprocess.Popen[bytes]:
    # Each child leads its own process group, so stopping it also stops the processes it forked.
    process = subprocess.Popen(argv, cwd=ROOT, start_new_session=True)
    children.append((name, process))
    print(f"[run] started {name} (pid {process.pid})", flush=True)
    return process


def stop_all() -> None:
    for _, process in children:
        if process.poll() is None:
            process.terminate()  # the leader shuts down its own children (Celery's warm shutdown)
    deadline = time.monotonic() + 10
    for name, process in children:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"[run] {name} did not stop in time; killing it", flush=True)
        try:
            os.killpg(process.pid, signal.SIGKILL)  # whatever is left of its group
        except ProcessLookupError:
            pass
    print("[run] all processes stopped", flush=True)


def start_demo_cluster() -> None:
    kubeconfig = VAR / "kubesim" / "kubeconfig"
    kubeconfig.unlink(missing_ok=True)
    start(
        "kubesim",
        [PY, "-m", "kubesim", "--scenario", "demo", "--port", KUBESIM_PORT, "--kubeconfig-out", str(kubeconfig)],
    )
    deadline = time.monotonic() + 30
    while not kubeconfig.exists():
        if time.monotonic() > deadline or children[-1][1].poll() is not None:
            print("[run] the demo cluster (kubesim) did not start; continuing without it", flush=True)
            return
        time.sleep(0.2)
    manage("cluster_import", "--kubeconfig", str(kubeconfig), "--name", "demo", "--replace")
    # A second person (`approver`) and a one-approval policy on the demo cluster: the approval flow, ready to try.
    manage("demo_setup", "--cluster", "demo")


def main() -> int:
    # Ctrl-C must stop everything even when started from a shell that ignores SIGINT in background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        manage("migrate", "--no-input")
        manage("ensure_admin")
        if DEMO:
            start_demo_cluster()
        start("web", [PY, "manage.py", "runserver", f"127.0.0.1:{PORT}", "--noreload"])
        start(
            "worker",
            [PY, "-m", "celery", "-A", "config", "worker", "-l", "INFO", "--concurrency", "2", "-n", "worker@%h"],
        )
        start(
            "watcher",
            [
                PY,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-l",
                "INFO",
                "-Q",
                "watch,notify",
                "--pool",
                "threads",
                "--concurrency",
                "16",
                "-n",
                "watcher@%h",
            ],
        )
        start(
            "beat", [PY, "-m", "celery", "-A", "config", "beat", "-l", "INFO", "-s", str(VAR / "celerybeat-schedule")]
        )
        print(f"[run] Drainboard on http://127.0.0.1:{PORT}/ — press Ctrl-C to stop everything", flush=True)
        while True:
            for name, process in children:
                if process.poll() is not None:
                    print(f"[run] {name} exited with code {process.returncode}; stopping the rest", flush=True)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\n[run] stopping…", flush=True)
        return 0
    except subprocess.CalledProcessError as error:
        print(f"[run] {' '.join(error.cmd[1:3])} failed with code {error.returncode}", flush=True)
        return 1
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
