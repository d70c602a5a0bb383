"""Benchmark: drain the same kubesim node with Drainboard and with `kubectl drain`, side by side.

Both tools drain `node-1` of an identical scenario on a fresh simulator each run: several ReplicaSets, each with
most of its replicas on node-1 and a PodDisruptionBudget with maxUnavailable 1 (one disruption at a time), so
every workload has to wait for each replacement to become Ready before the next pod may go; plus a DaemonSet pod
(skipped by both) and one workload with an emptyDir volume. The report gives each tool's completion time and the
API calls it made, counted from kubesim's request log by User-Agent ("kubectl/..." and "drainboard/...").

    python bench/drain_vs_kubectl.py [--runs 3] [--ready-after 3] [--grace 2] [--workloads 4] [--pods-per-workload 5]
                                     [--workers 1] [--concurrency 4] [--sqlite] [--only kubectl|drainboard]

kubectl:    `kubectl --kubeconfig K drain node-1 --ignore-daemonsets --delete-emptydir-data --force --timeout=..`,
            timed from process start to exit (its own start-up and discovery included, as a person would see it).
Drainboard: PostgreSQL + Redis when they answer on 127.0.0.1 (database `drainboard_bench`, dropped and created
            again for every run; Redis database 5, flushed), else SQLite + the file-system broker. Each run: migrate,
            register the cluster, start Celery worker(s) and beat (TICK_SECONDS as configured, default 15 s), then
            time from the call of `evictions.services.requests.request_create` (which plans, with one dry-run
            eviction per pod) to the request's `finished_at`. Worker start-up is not timed.

Writes var/bench/drain_vs_kubectl.json and prints a table.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

REPO = Path(__file__).resolve().parents[1]
VAR = REPO / "var" / "bench"
NODE = "node-1"
DB_NAME = "drainboard_bench"
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
PG_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = "redis://127.0.0.1:6379/5"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


# ---- the scenario ---------------------------------------------------------------------------------------------------

WORKLOAD_NAMES = [
    ("shop", "web-6d4b9c7f5d", {"app": "web"}),
    ("shop", "cart-5f8c7d6b4a", {"app": "cart"}),
    ("payments", "checkout-7f9b6c5d48", {"app": "checkout"}),
    ("search", "indexer-74d8f6c9b5", {"app": "indexer"}),
    ("data", "api-6b7c8d9f4e", {"app": "api"}),
    ("media", "thumbs-8c6f7d9b5c", {"app": "thumbs"}),
]


def build_scenario(*, workloads: int, pods_per_workload: int, ready_after: float, grace: int) -> dict[str, Any]:
    """node-1 holds `pods_per_workload` pods of each workload (one more replica runs elsewhere); every workload has
    a PDB with maxUnavailable 1, so its pods can only go one at a time, each after the previous replacement is Ready.
    """
    if not 1 <= workloads <= len(WORKLOAD_NAMES):
        raise SystemExit(f"--workloads must be 1..{len(WORKLOAD_NAMES)}")
    spec: dict[str, Any] = {
        "name": "bench-drain",
        "nodes": ["node-1", "node-2", "node-3", "node-4"],
        "workloads": [
            {
                "kind": "DaemonSet",
                "namespace": "kube-system",
                "name": "kube-proxy",
                "labels": {"k8s-app": "kube-proxy"},
            }
        ],
        "pdbs": [],
    }
    for index, (namespace, name, labels) in enumerate(WORKLOAD_NAMES[:workloads]):
        spec["workloads"].append(
            {
                "kind": "ReplicaSet",
                "namespace": namespace,
                "name": name,
                "labels": labels,
                "replicas": pods_per_workload + 1,
                "nodes": [NODE] * pods_per_workload + [f"node-{2 + index % 3}"],
                "readyAfterSeconds": ready_after,
                "terminationGracePeriodSeconds": grace,
                "emptyDir": index == workloads - 1,  # drain needs --delete-emptydir-data
            }
        )
        spec["pdbs"].append(
            {"namespace": namespace, "name": f"{labels['app']}-pdb", "selector": labels, "maxUnavailable": 1}
        )
    return spec


# ---- counting API calls ---------------------------------------------------------------------------------------------


def classify_call(entry: dict[str, Any]) -> str:
    method, path = entry["method"], entry["path"].rstrip("/") or "/"
    query = parse_qs(entry.get("query") or "")
    segs = [s for s in path.split("/") if s]
    if not segs or segs[0] in ("version", "openapi", "healthz", "livez", "readyz"):
        return "discovery"
    if (segs[0] == "api" and len(segs) <= 2) or (segs[0] == "apis" and len(segs) <= 3):
        return "discovery"
    if method == "POST" and segs[-1] == "eviction":
        return "dry_run_eviction" if "dryRun" in query else "eviction"
    if method == "GET":
        if query.get("watch", [""])[0] in ("1", "true"):
            return "watch"
        depth = len(segs) - (1 if segs[0] == "apis" else 0)  # /api/v1/x = 3, /apis/g/v/x = 4
        return "list" if depth in (3, 5) else "get"
    return method.lower()  # patch, delete, post


def count_calls(entries: list[dict[str, Any]]) -> dict[str, int]:
    kinds = Counter(classify_call(e) for e in entries)
    evictions = [e for e in entries if classify_call(e) == "eviction"]
    return {
        "total": len(entries),
        "excluding_discovery": len(entries) - kinds["discovery"],
        "discovery": kinds["discovery"],
        "evictions": len(evictions),
        "evictions_201": sum(1 for e in evictions if e["status"] == 201),
        "evictions_429": sum(1 for e in evictions if e["status"] == 429),
        "dry_run_evictions": kinds["dry_run_eviction"],
        "gets": kinds["get"],
        "lists": kinds["list"],
        "watches": kinds["watch"],
        "patches": kinds["patch"],
        "deletes": kinds["delete"],
        "status_429": sum(1 for e in entries if e["status"] == 429),
        "errors_5xx": sum(1 for e in entries if isinstance(e["status"], int) and e["status"] >= 500),
    }


def timeline(entries: list[dict[str, Any]], start: float) -> dict[str, Any]:
    """When the evictions were accepted, seconds from `start`: each workload's first 201, the median gap between
    consecutive 201s of one workload (= time to a Ready replacement + the tool's reaction), the last 201."""
    accepted: dict[str, list[float]] = {}
    for e in entries:
        if classify_call(e) == "eviction" and e["status"] == 201:
            namespace, pod = e["path"].split("/namespaces/", 1)[1].split("/pods/", 1)
            workload = f"{namespace}/{pod.split('/')[0].rsplit('-', 1)[0]}"
            accepted.setdefault(workload, []).append(e["t"] - start)
    if not accepted:
        return {}
    gaps = [b - a for times in accepted.values() for a, b in itertools.pairwise(times)]
    return {
        "first_201_per_workload": {k: round(v[0], 3) for k, v in sorted(accepted.items())},
        "last_first_201": round(max(v[0] for v in accepted.values()), 3),
        "median_gap_between_201s": round(statistics.median(gaps), 3) if gaps else None,
        "max_gap_between_201s": round(max(gaps), 3) if gaps else None,
        "last_201": round(max(t for v in accepted.values() for t in v), 3),
    }


def calls_by(entries: list[dict[str, Any]], agent_prefix: str) -> list[dict[str, Any]]:
    return [e for e in entries if str(e.get("userAgent", "")).startswith(agent_prefix)]


def start_simulator(scenario: dict[str, Any], args: argparse.Namespace) -> Any:
    """A fresh kubesim; each logged request also gets "t", the wall-clock time (s) it finished, to the microsecond."""
    from kubesim import Simulator

    sim = Simulator(scenario=scenario, version="1.30", time_scale=args.time_scale)
    log = sim.log_request
    sim.log_request = lambda entry: log({**entry, "t": time.time()})  # type: ignore[method-assign]
    return sim.start(port=0)


def save_log(tool: str, index: int, entries: list[dict[str, Any]]) -> None:
    """Every API request of the run (kubesim's request log, in order), for a closer look afterwards."""
    path = VAR / f"{tool}-run{index + 1}-requests.json"
    t0 = entries[0]["t"] if entries else 0.0
    rows = [{**e, "kind": classify_call(e), "t": round(e["t"] - t0, 4)} for e in entries]
    path.write_text("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n")


def node_drained(sim: Any) -> tuple[bool, list[str]]:
    """Only DaemonSet pods (and nothing terminating) left on the node."""
    left = [
        f"{p.get('namespace')}/{p.get('name')}"
        for p in sim.state().get("pods", [])
        if p.get("node") == NODE and not str(p.get("owner") or "").startswith("DaemonSet/")
    ]
    return not left, left


# ---- kubectl ---------------------------------------------------------------------------------------------------------


def run_kubectl(scenario: dict[str, Any], args: argparse.Namespace, index: int) -> dict[str, Any]:
    sim = start_simulator(scenario, args)
    try:
        kubeconfig = VAR / "kubectl.kubeconfig"
        sim.write_kubeconfig(kubeconfig)
        cache = tempfile.mkdtemp(prefix="kubectl-cache-", dir=VAR)  # no discovery cache from an earlier run
        sim.clear_request_log()
        wall_start = time.time()
        started = time.monotonic()
        proc = subprocess.run(
            [
                KUBECTL,
                "--kubeconfig",
                str(kubeconfig),
                "--cache-dir",
                cache,
                "drain",
                NODE,
                "--ignore-daemonsets",
                "--delete-emptydir-data",
                "--force",
                f"--timeout={args.timeout}s",
            ],
            capture_output=True,
            text=True,
            timeout=args.timeout + 60,
        )
        seconds = time.monotonic() - started
        shutil.rmtree(cache, ignore_errors=True)
        entries = sim.request_log()
        save_log("kubectl", index, entries)
        drained, left = node_drained(sim)
        ok = proc.returncode == 0 and drained
        calls = count_calls(calls_by(entries, "kubectl"))
        others = len(entries) - calls["total"]
        print(
            f"  kubectl run {index + 1}: {seconds:6.2f} s, {calls['total']} calls "
            f"({calls['evictions']} evictions, {calls['evictions_429']} x 429, {calls['gets']} GETs)"
            + ("" if ok else f"  FAILED rc={proc.returncode} left={left} {proc.stderr[-500:]!r}"),
            flush=True,
        )
        return {
            "ok": ok,
            "seconds": round(seconds, 3),
            "calls": calls,
            "timeline": timeline(calls_by(entries, "kubectl"), wall_start),
            "other_agents_calls": others,
            "returncode": proc.returncode,
            "stderr_tail": proc.stderr[-2000:],
        }
    finally:
        sim.stop()


# ---- Drainboard ------------------------------------------------------------------------------------------------------


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False


def redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2).ping())
    except Exception:
        return False


def configure_environment(use_postgres: bool, use_redis: bool) -> None:
    """The environment the bench process and every worker share (set before Django is imported)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DEBUG"] = "true"
    os.environ["DRAINBOARD_VAR_DIR"] = str(VAR)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DATABASE_URL"] = PG_URL if use_postgres else f"sqlite:///{VAR / 'bench.sqlite3'}"
    if use_redis:
        os.environ["REDIS_URL"] = REDIS_URL
    else:
        os.environ.pop("REDIS_URL", None)


def fresh_database(use_postgres: bool, use_redis: bool) -> None:
    from django.core.management import call_command
    from django.db import connections

    connections.close_all()
    if use_postgres:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    else:
        for suffix in ("", "-wal", "-shm"):
            (VAR / f"bench.sqlite3{suffix}").unlink(missing_ok=True)
        shutil.rmtree(VAR / "broker", ignore_errors=True)
        for folder in ("queue", "control"):
            (VAR / "broker" / folder).mkdir(parents=True, exist_ok=True)
    if use_redis:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
    call_command("migrate", verbosity=0, interactive=False)


class Process:
    """A Celery worker or beat in its own process group; its output goes to a log file under var/bench."""

    def __init__(self, name: str, argv: list[str], ready_marker: str | None) -> None:
        self.name = name
        self.log_path = VAR / f"{name}.log"
        self.ready = threading.Event()
        self.lines: list[str] = []
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *argv],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        if ready_marker is None:
            self.ready.set()
        threading.Thread(target=self._pump, args=(ready_marker,), daemon=True).start()

    def _pump(self, marker: str | None) -> None:
        assert self.proc.stdout is not None
        with self.log_path.open("w") as log:
            for line in self.proc.stdout:
                log.write(line)
                log.flush()
                self.lines.append(line)
                if marker and marker in line:
                    self.ready.set()

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass


def start_celery(args: argparse.Namespace) -> list[Process]:
    processes = []
    for n in range(args.workers):
        processes.append(
            Process(
                f"worker-{n + 1}",
                [
                    "worker",
                    "-l",
                    "INFO",  # INFO only so that " ready." can be seen; per-task lines go to the log file
                    "--concurrency",
                    str(args.concurrency),
                    "-Q",
                    "celery,watch",
                    "--without-gossip",
                    "--without-mingle",
                    "-n",
                    f"bench-{n + 1}@%h",
                ],
                " ready.",
            )
        )
    if not args.no_beat:
        schedule = VAR / "celerybeat-schedule"
        for stale in VAR.glob("celerybeat-schedule*"):
            stale.unlink()
        processes.append(Process("beat", ["beat", "-l", "WARNING", "--schedule", str(schedule)], None))
    for process in processes:
        if not process.ready.wait(90):
            for p in processes:
                p.stop()
            raise SystemExit(f"{process.name} did not start:\n" + "".join(process.lines[-40:]))
    return processes


def run_drainboard(scenario: dict[str, Any], args: argparse.Namespace, index: int, backend: dict[str, bool]) -> dict:
    from django.core.management import call_command
    from django.db import connections

    from clusters.models import Cluster
    from evictions.models import AttemptKind, EvictionAttempt, PodEviction, PodStatus
    from evictions.planning import DrainOptions
    from evictions.services.requests import RequestInput, request_create

    fresh_database(backend["postgres"], backend["redis"])
    sim = start_simulator(scenario, args)
    processes: list[Process] = []
    try:
        kubeconfig = VAR / "drainboard.kubeconfig"
        sim.write_kubeconfig(kubeconfig)
        quiet = io.StringIO()
        call_command("cluster_import", kubeconfig=str(kubeconfig), name="bench", replace=True, stdout=quiet)
        call_command("user_add", "bench", role=["admin"], password="bench-password-not-secret", stdout=quiet)
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.get(username="bench")
        if args.qps is not None:
            Cluster.objects.filter(name="bench").update(qps_limit=args.qps)
        cluster = Cluster.objects.get(name="bench")
        qps_limit = cluster.qps_limit
        connections.close_all()  # the workers start with a clean slate; this process reconnects when it needs to
        processes = start_celery(args)
        time.sleep(1.0)  # let the worker pool children finish importing before the clock starts

        sim.clear_request_log()
        submitted = time.time()
        request = request_create(
            actor=user,
            data=RequestInput(
                cluster=cluster,
                kind="drain",
                reason="bench",
                node=NODE,
                options=DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True, force=True),
            ),
        )
        created = time.time()
        submit_calls = len(sim.request_log())  # planning: node, pods, budgets and one dry-run eviction per pod
        finished = {"succeeded", "done_with_exceptions", "failed", "cancelled", "rejected"}
        limit = time.monotonic() + args.timeout
        status = request.status
        while time.monotonic() < limit:
            request.refresh_from_db(fields=["status", "finished_at", "status_reason", "started_at", "pods_created_at"])
            status = request.status
            if status in finished:
                break
            time.sleep(0.05)
        seen_done = time.time()
        entries_at_done = sim.request_log()
        time.sleep(0.5)
    finally:
        for process in processes:
            process.stop()
        entries = sim.request_log()
        save_log("drainboard", index, entries)
        drained, left = node_drained(sim)
        sim.stop()
    seconds = (request.finished_at.timestamp() - submitted) if request.finished_at else time.time() - submitted
    pods = list(PodEviction.objects.filter(request=request))
    attempts = EvictionAttempt.objects.filter(pod__request=request, kind=AttemptKind.EVICT)
    to_evict = [p for p in pods if p.status != PodStatus.SKIPPED]
    ok = status == "succeeded" and drained and all(p.status == PodStatus.EVICTED for p in to_evict)
    ours = calls_by(entries, "drainboard")
    calls = count_calls(ours)
    calls["planning_at_submit"] = len(calls_by(entries[:submit_calls], "drainboard"))
    calls["after_completion"] = len(ours) - len(calls_by(entries_at_done, "drainboard"))
    calls["excluding_preflight"] = calls["total"] - calls["dry_run_evictions"]
    started_in = (request.started_at.timestamp() - created) if request.started_at else None
    pods_listed_in = (request.pods_created_at.timestamp() - created) if request.pods_created_at else None
    print(
        f"  drainboard run {index + 1}: {seconds:6.2f} s (planning {created - submitted:.2f} s), "
        f"{calls['total']} calls ({calls['dry_run_evictions']} dry runs, {calls['evictions']} evictions, "
        f"{calls['evictions_429']} x 429, {calls['lists']} LISTs, {calls['watches']} WATCHes)"
        + ("" if ok else f"  FAILED status={status} reason={request.status_reason!r} left={left}"),
        flush=True,
    )
    return {
        "ok": ok,
        "seconds": round(seconds, 3),
        "planning_seconds": round(created - submitted, 3),
        "start_task_after_create_seconds": round(started_in, 3) if started_in is not None else None,
        "pods_created_after_create_seconds": round(pods_listed_in, 3) if pods_listed_in is not None else None,
        "detected_after_finish_seconds": round(seen_done - request.finished_at.timestamp(), 3)
        if request.finished_at
        else None,
        "status": status,
        "qps_limit": qps_limit,
        "pods": Counter(p.status for p in pods),
        "attempts_recorded": attempts.count(),
        "attempts_429_recorded": attempts.filter(http_status=429).count(),
        "calls": calls,
        "timeline": timeline(ours, submitted),
        "other_agents_calls": len(entries) - len(ours),
    }


# ---- report ---------------------------------------------------------------------------------------------------------


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in runs if r["ok"]] or runs
    seconds = [r["seconds"] for r in good]
    keys = sorted({k for r in good for k in r["calls"]})
    return {
        "runs": len(runs),
        "ok_runs": sum(1 for r in runs if r["ok"]),
        "median_seconds": round(statistics.median(seconds), 3),
        "min_seconds": min(seconds),
        "max_seconds": max(seconds),
        "median_calls": {k: statistics.median(r["calls"].get(k, 0) for r in good) for k in keys},
        "median_timeline": {
            k: round(statistics.median(r["timeline"][k] for r in good if r.get("timeline", {}).get(k) is not None), 3)
            for k in ("last_first_201", "median_gap_between_201s", "last_201")
            if any(r.get("timeline", {}).get(k) is not None for r in good)
        },
    }


def fmt(value: float) -> str:
    return f"{value:g}"


def print_table(results: dict[str, Any]) -> None:
    rows = []
    for tool in ("kubectl", "drainboard"):
        if tool not in results:
            continue
        s = results[tool]["summary"]
        c = s["median_calls"]
        rows.append(
            [
                "kubectl drain" if tool == "kubectl" else "Drainboard",
                f"{s['median_seconds']:.2f} ({s['min_seconds']:.1f}-{s['max_seconds']:.1f})",
                f"{s['ok_runs']}/{s['runs']}",
                fmt(c["total"]),
                fmt(c["excluding_discovery"]),
                fmt(c.get("dry_run_evictions", 0)),
                fmt(c["evictions"]),
                fmt(c["status_429"]),
                fmt(c["gets"]),
                fmt(c["lists"]),
                fmt(c["watches"]),
                fmt(c["patches"]),
            ]
        )
    head = [
        "tool",
        "median s (min-max)",
        "ok runs",
        "API calls",
        "excl. discovery",
        "dry-run POSTs",
        "eviction POSTs",
        "429s",
        "GETs",
        "LISTs",
        "WATCHes",
        "PATCHes",
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)))
    print()
    for tool in ("kubectl", "drainboard"):
        t = results.get(tool, {}).get("summary", {}).get("median_timeline")
        if t:
            print(
                f"{'kubectl drain' if tool == 'kubectl' else 'Drainboard'}: every workload's first eviction accepted "
                f"by {t['last_first_201']:.2f} s; next pod of a workload accepted {t['median_gap_between_201s']:.2f} s "
                f"after the previous (median); last eviction accepted at {t['last_201']:.2f} s."
            )
    if "ratio" in results:
        r = results["ratio"]
        print(
            f"\nDrainboard / kubectl completion time: {r['time']:.2f} (target <= 0.70: "
            f"{'met' if r['time_target_met'] else 'NOT met'}); API calls {r['calls_drainboard']:g} vs "
            f"{r['calls_kubectl']:g} ({'no more than kubectl' if r['calls_target_met'] else 'MORE than kubectl'}); "
            f"excluding the {r['preflight_drainboard']:g} preflight dry runs: {r['calls_drainboard_excl_preflight']:g}."
        )


def source_state() -> dict[str, Any]:
    """Which code was measured: the commit, and any uncommitted changes to the engine."""

    def git(*argv: str) -> str:
        return subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_engine_files": git("status", "--porcelain", "--", "evictions", "clusters", "config").splitlines(),
    }


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    kubectl_version = subprocess.run(
        [KUBECTL, "version", "--client"], capture_output=True, text=True, check=False
    ).stdout.splitlines()[:1]
    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kubectl": kubectl_version[0] if kubectl_version else "",
        "platform": platform.platform(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per tool (median reported)")
    parser.add_argument("--workloads", type=int, default=4, help="ReplicaSets, each with its own PDB (1-6)")
    parser.add_argument("--pods-per-workload", type=int, default=5, help="pods of each ReplicaSet on the node")
    parser.add_argument("--ready-after", type=float, default=3.0, help="simulated seconds until a replacement is Ready")
    parser.add_argument("--grace", type=int, default=2, help="terminationGracePeriodSeconds of the drained pods")
    parser.add_argument("--time-scale", type=float, default=1.0, help="kubesim time scale (1 = real time)")
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes")
    parser.add_argument("--concurrency", type=int, default=4, help="--concurrency of each worker")
    parser.add_argument(
        "--qps", type=int, help="the cluster's eviction QPS limit in Drainboard (default: its default, 10)"
    )
    parser.add_argument("--no-beat", action="store_true", help="do not run celery beat (no tick)")
    parser.add_argument("--sqlite", action="store_true", help="SQLite + file-system broker even if PG/Redis answer")
    parser.add_argument("--only", choices=["kubectl", "drainboard"], help="run one tool only")
    parser.add_argument("--timeout", type=int, default=300, help="seconds before a drain counts as failed")
    parser.add_argument("--json", default=str(VAR / "drain_vs_kubectl.json"), help="where to write the results")
    args = parser.parse_args()

    VAR.mkdir(parents=True, exist_ok=True)
    scenario = build_scenario(
        workloads=args.workloads,
        pods_per_workload=args.pods_per_workload,
        ready_after=args.ready_after,
        grace=args.grace,
    )
    backend = {
        "postgres": not args.sqlite and postgres_available(),
        "redis": not args.sqlite and redis_available(),
    }
    configure_environment(backend["postgres"], backend["redis"])
    pods = args.workloads * args.pods_per_workload
    print(
        f"Scenario: drain {NODE} with {pods} pods of {args.workloads} ReplicaSets (PDB maxUnavailable 1 each, "
        f"replacements Ready after {args.ready_after:g} s, grace {args.grace} s) + 1 DaemonSet pod; "
        f"time scale {args.time_scale:g}; {args.runs} run(s) per tool."
    )
    print(
        f"Drainboard backend: {'PostgreSQL' if backend['postgres'] else 'SQLite'} + "
        f"{'Redis' if backend['redis'] else 'file-system broker'}; {args.workers} worker(s) x "
        f"--concurrency {args.concurrency}; beat {'off' if args.no_beat else 'on'}."
    )
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "source": source_state(),
        "scenario": scenario,
        "settings": {
            **{k: v for k, v in vars(args).items() if k != "json"},
            "backend": "postgresql+redis"
            if backend["postgres"] and backend["redis"]
            else f"{'postgresql' if backend['postgres'] else 'sqlite'}+{'redis' if backend['redis'] else 'filesystem'}",
        },
    }
    if args.only != "drainboard":
        print("kubectl drain:")
        runs = [run_kubectl(scenario, args, i) for i in range(args.runs)]
        results["kubectl"] = {"runs": runs, "summary": summary(runs)}
    if args.only != "kubectl":
        import django

        django.setup()
        from django.conf import settings

        results["settings"]["tick_seconds"] = settings.TICK_SECONDS
        print("Drainboard:")
        runs = [run_drainboard(scenario, args, i, backend) for i in range(args.runs)]
        results["drainboard"] = {"runs": runs, "summary": summary(runs)}
    if "kubectl" in results and "drainboard" in results:
        k, d = results["kubectl"]["summary"], results["drainboard"]["summary"]
        ratio = d["median_seconds"] / k["median_seconds"]
        results["ratio"] = {
            "time": round(ratio, 3),
            "time_target_met": ratio <= 0.7,
            "calls_kubectl": k["median_calls"]["total"],
            "calls_drainboard": d["median_calls"]["total"],
            "calls_target_met": d["median_calls"]["total"] <= k["median_calls"]["total"],
            "preflight_drainboard": d["median_calls"]["dry_run_evictions"],
            "calls_drainboard_excl_preflight": d["median_calls"]["excluding_preflight"],
        }
    print_table(results)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nWrote {args.json}")


if __name__ == "__main__":
    main()
