"""Benchmark: eviction requests per second that kubesim answers over keep-alive HTTPS.

Starts `python -m kubesim` with a generated large cluster in a subprocess, then hammers the
eviction subresource from several client processes (each with a few threads, each thread with
one reused http.client.HTTPSConnection). The mix is a third dry-run evictions that a PDB allows
(201), a third real evictions that a PDB blocks (429: nothing changes), and a third dry-run
evictions of pods without a PDB (201) - so the cluster never runs out of pods.

    python bench/kubesim_throughput.py [--duration 10] [--processes 2] [--threads 4]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing
import os
import platform
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]


def start_kubesim(scenario: str, workdir: Path) -> tuple[subprocess.Popen[str], str, str, str]:
    kubeconfig = workdir / "kubeconfig"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubesim", "--scenario", scenario, "--port", "0", "--kubeconfig-out", str(kubeconfig)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("kubesim listening on "):
        proc.kill()
        raise SystemExit(f"kubesim did not start: {line!r}")
    config = yaml.safe_load(kubeconfig.read_text())
    url = config["clusters"][0]["cluster"]["server"]
    ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    token = config["users"][0]["user"]["token"]
    return proc, url, ca, token


def pick_targets(port: int, ca: str) -> list[tuple[str, str, bool]]:
    """(namespace, pod, dry_run) triples: allowed+dryRun, blocked (real), no-PDB+dryRun."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ssl.create_default_context(cadata=ca))
    conn.request("GET", "/_kubesim/state")
    state = json.loads(conn.getresponse().read())
    conn.close()
    allowing = {(p["namespace"], p["name"][: -len("-pdb")]) for p in state["pdbs"] if p["disruptionsAllowed"] > 0}
    blocking = {(p["namespace"], p["name"][: -len("-pdb")]) for p in state["pdbs"] if p["disruptionsAllowed"] == 0}
    allowed, blocked, unprotected = [], [], []
    for pod in state["pods"]:
        # Generated pods are named <app>-<rs hash>-<pod hash>; PDBs are named <app>-pdb.
        app = pod["name"].rsplit("-", 2)[0]
        key = (pod["namespace"], app)
        if key in allowing:
            allowed.append((pod["namespace"], pod["name"], True))
        elif key in blocking:
            blocked.append((pod["namespace"], pod["name"], False))
        elif pod["owner"] and pod["owner"].startswith("DaemonSet/"):
            unprotected.append((pod["namespace"], pod["name"], True))
    if not (allowed and blocked and unprotected):
        raise SystemExit("the scenario lacks allowed, blocked or unprotected pods")
    mix = []
    for i in range(max(len(allowed), len(blocked), len(unprotected))):
        for group in (allowed, blocked, unprotected):
            mix.append(group[i % len(group)])
    return mix


def _worker(
    port: int,
    ca: str,
    token: str,
    targets: list[tuple[str, str, bool]],
    offset: int,
    threads: int,
    start_at: float,
    stop_at: float,
    out: Any,
) -> None:
    counts: Counter[int] = Counter()
    latencies: list[float] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        ctx = ssl.create_default_context(cadata=ca)
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "kubesim-bench",
        }
        local: Counter[int] = Counter()
        local_lat: list[float] = []
        i = offset + index * 7919
        while time.time() < start_at:
            time.sleep(0.001)
        while True:
            now = time.time()
            if now >= stop_at:
                break
            ns, name, dry = targets[i % len(targets)]
            i += 1
            body = json.dumps(
                {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": ns}}
            )
            path = f"/api/v1/namespaces/{ns}/pods/{name}/eviction" + ("?dryRun=All" if dry else "")
            t0 = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            local_lat.append(time.perf_counter() - t0)
            local[resp.status] += 1
        conn.close()
        with lock:
            counts.update(local)
            latencies.extend(local_lat)

    pool = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put((dict(counts), latencies))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="generated:nodes=50,pods=2000,pdbs=200")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="connections per process")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kubesim-bench-") as tmp:
        proc, url, ca, token = start_kubesim(args.scenario, Path(tmp))
        try:
            port = int(url.rsplit(":", 1)[1])
            targets = pick_targets(port, ca)
            queue: Any = multiprocessing.Queue()
            start_at = time.time() + 1.5  # let every connection finish its TLS handshake first
            stop_at = start_at + args.duration
            workers = [
                multiprocessing.Process(
                    target=_worker, args=(port, ca, token, targets, n * 101, args.threads, start_at, stop_at, queue)
                )
                for n in range(args.processes)
            ]
            for w in workers:
                w.start()
            counts: Counter[int] = Counter()
            latencies: list[float] = []
            for _ in workers:
                c, lat = queue.get(timeout=args.duration + 60)
                counts.update({int(k): v for k, v in c.items()})
                latencies.extend(lat)
            for w in workers:
                w.join(timeout=10)
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    total = sum(counts.values())
    latencies.sort()
    rate = total / args.duration
    model = next((line.split(":", 1)[1].strip() for line in _lscpu() if line.startswith("Model name")), "?")
    print(f"machine: {os.cpu_count()} CPUs, {model}, Python {platform.python_version()}")
    print(
        f"scenario: {args.scenario}; {args.processes} processes x {args.threads} keep-alive connections; "
        f"{args.duration:.0f} s"
    )
    print(f"answers: {dict(sorted(counts.items()))}")
    if latencies:
        p50 = latencies[len(latencies) // 2] * 1000
        p99 = latencies[int(len(latencies) * 0.99)] * 1000
        print(f"latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(f"throughput: {rate:.0f} eviction requests/s")
    return 0 if set(counts) <= {201, 429} else 1


def _lscpu() -> list[str]:
    try:
        return subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return []


if __name__ == "__main__":
    sys.exit(main())
