"""Benchmark at scale: 20 kubesim clusters, 500 nodes, 10,000 pods behind PDBs; drain 100 nodes at once.

    python bench/scale.py [--clusters 20] [--nodes 25] [--pods-per-node 20] [--drain 5] [--rounds 2]
                          [--ready-after 15] [--grace 10] [--workers 2] [--concurrency 4] [--watchers 32]
                          [--qps 50] [--timeout 900] [--json var/bench/scale.json]

Every cluster is its own `python -m kubesim` process (time scale 1: real seconds) with `--nodes` nodes; on every
node one pod of each of `--pods-per-node - 1` ReplicaSets (each behind a PDB: maxUnavailable 1, or 2 for every third
one) and one DaemonSet pod. Drainboard runs as in production (DEBUG off) on PostgreSQL and Redis: gunicorn (3 sync
workers, as docker-compose.yml runs it), two Celery worker processes on the `celery` queue (`--concurrency` each),
the watcher (thread pool, `watch,notify`) and beat (tick every TICK_SECONDS, default 15 s). Each round submits
`--drain` node drains per cluster through the REST API (4 client threads, as a script or a person would) and waits
until every request has finished; the next round drains the next `--drain` nodes of every cluster.

Measured: evictions per second; worker CPU per eviction attempt (the CPU time of all three worker processes and
their children, from /proc, over the attempts recorded) and per task (bench/probe.py, loaded into the workers);
database queries per attempt; the tick's queue lag (beat's "Sending due task tick" log line to the task's start);
resident memory of the workers and the web server, sampled every 2 s while an operator polls the dashboard, a
request page and /metrics; completion time against the lower bound the scenario sets (per workload: the pods its
budget lets go at once, a readiness delay between batches, the grace period after the last). Also checked: every
evicted pod was evicted once (kubesim's request logs), no pod was deleted directly, every drain succeeded.

Needs PostgreSQL (postgres@127.0.0.1:5432; database `drainboard_bench_scale`, dropped and re-created) and Redis
(127.0.0.1:6379, database 6, flushed). Writes var/bench/scale.json and logs under var/bench/scale/.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import re
import signal
import ssl
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
VAR = REPO / "var" / "bench" / "scale"
DB_NAME = "drainboard_bench_scale"
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/6"
WEB_PORT = 8765
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

sys.path[:0] = [str(REPO), str(REPO / "bench")]
from drain_vs_kubectl import classify_call, machine, source_state  # noqa: E402

# ---- the scenario ---------------------------------------------------------------------------------------------------


def node_name(index: int) -> str:
    return f"node-{index:02d}"


def budget_of(workload: int) -> int:
    """Disruptions each ReplicaSet's PDB allows: maxUnavailable 2 for every third, else 1."""
    return 2 if workload % 3 == 2 else 1


def build_scenario(cluster: int, args: argparse.Namespace) -> dict[str, Any]:
    nodes = [node_name(i) for i in range(1, args.nodes + 1)]
    spec: dict[str, Any] = {
        "name": f"scale-{cluster:02d}",
        "nodes": nodes,
        "workloads": [
            {"kind": "DaemonSet", "namespace": "kube-system", "name": "node-agent", "labels": {"k8s-app": "agent"}}
        ],
        "pdbs": [],
    }
    for w in range(args.pods_per_node - 1):
        namespace, app = f"team-{w % 5 + 1}", f"svc-{w:02d}"
        spec["workloads"].append(
            {
                "kind": "ReplicaSet",
                "namespace": namespace,
                "name": f"{app}-7c9d{w:02d}f5b8",
                "labels": {"app": app},
                "replicas": len(nodes),
                "nodes": nodes,
                "readyAfterSeconds": args.ready_after,
                "terminationGracePeriodSeconds": args.grace,
            }
        )
        spec["pdbs"].append(
            {"namespace": namespace, "name": f"{app}-pdb", "selector": {"app": app}, "maxUnavailable": budget_of(w)}
        )
    return spec


def drained_nodes(round_index: int, args: argparse.Namespace) -> list[str]:
    """Round 0 drains the last --drain nodes, round 1 the ones before them, ..."""
    last = args.nodes - round_index * args.drain
    return [node_name(i) for i in range(last - args.drain + 1, last + 1)]


def lower_bound(evicted_by_workload: dict[tuple[int, str], int], budgets: dict[str, int], args) -> float:
    """The scenario's floor for a round: per workload (per cluster), ceil(pods / budget) batches; each later batch
    waits for the previous batch's replacements to be Ready; the last pods then take their grace period to go."""
    floor = 0.0
    for (_, workload), pods in evicted_by_workload.items():
        batches = math.ceil(pods / budgets[workload])
        floor = max(floor, (batches - 1) * args.ready_after + args.grace)
    return floor


# ---- processes ------------------------------------------------------------------------------------------------------


class Proc:
    """A child process in its own process group, output to var/bench/scale/<name>.log."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], ready: str | None = None) -> None:
        self.name, self.ready, self.lines = name, threading.Event(), []
        self.proc = subprocess.Popen(
            argv,
            cwd=REPO,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        if ready is None:
            self.ready.set()
        threading.Thread(target=self._pump, args=(ready,), daemon=True).start()

    def _pump(self, marker: str | None) -> None:
        assert self.proc.stdout is not None
        with (VAR / f"{self.name}.log").open("w") as log:
            for line in self.proc.stdout:
                log.write(line)
                log.flush()
                if len(self.lines) < 200:
                    self.lines.append(line)
                if marker and marker in line:
                    self.ready.set()

    def wait_ready(self, seconds: float) -> None:
        if not self.ready.wait(seconds):
            raise SystemExit(f"{self.name} did not start:\n" + "".join(self.lines[-40:]))

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=wait)
                return
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            tree[int(stat.rsplit(")", 1)[1].split()[1])].append(int(entry))
    return tree


def tree_usage(pid: int, tree: dict[int, list[int]]) -> tuple[float, int]:
    """CPU seconds (live processes, plus children already reaped) and resident bytes of a process and its tree."""
    cpu, rss, todo, first = 0.0, 0, [pid], True
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
        cpu += (utime + stime + (cutime + cstime if first else 0)) / CLOCK_TICKS
        rss += int(fields[21]) * PAGE_SIZE
        first = False
        todo.extend(tree.get(current, []))
    return cpu, rss


def servers() -> dict[str, list[int]]:
    """PostgreSQL's postmaster and the Redis server, found by name among the children of init."""
    found: dict[str, list[int]] = {}
    for pid in _children().get(1, []):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if comm in ("postgres", "postmaster"):
            found.setdefault("postgresql", []).append(pid)
        elif comm == "redis-server":
            found.setdefault("redis", []).append(pid)
    return found


class Sampler(threading.Thread):
    """Every 2 s: CPU and resident memory of each process tree (workers, watcher, web, beat, the simulators)."""

    def __init__(self, roles: dict[str, list[int]]) -> None:
        super().__init__(daemon=True)
        self.roles, self.samples, self.stopped = roles, [], threading.Event()

    def snapshot(self) -> dict[str, Any]:
        tree = _children()
        row: dict[str, Any] = {"t": time.time()}
        for role, pids in self.roles.items():
            usage = [tree_usage(pid, tree) for pid in pids]
            row[role] = {"cpu": sum(u[0] for u in usage), "rss": sum(u[1] for u in usage)}
        return row

    def run(self) -> None:
        while not self.stopped.wait(2.0):
            self.samples.append(self.snapshot())


class Operator(threading.Thread):
    """A person watching: the dashboard, one running request's page and /metrics, every 2 s, over HTTP."""

    def __init__(self, session: Any, base: str) -> None:
        super().__init__(daemon=True)
        self.session, self.base, self.stopped = session, base, threading.Event()
        self.request_ids: list[int] = []
        self.timings: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()

    def get(self, label: str, path: str) -> None:
        started = time.perf_counter()
        try:
            status = self.session.get(self.base + path, timeout=30).status_code
        except Exception as error:
            self.errors[f"{label}: {type(error).__name__}"] += 1
            return
        self.timings[label].append(time.perf_counter() - started)
        if status != 200:
            self.errors[f"{label}: {status}"] += 1

    def run(self) -> None:
        n = 0
        while not self.stopped.wait(2.0):
            self.get("dashboard", "/")
            if self.request_ids:
                self.get("request page", f"/requests/{self.request_ids[n % len(self.request_ids)]}/")
            self.get("metrics", "/metrics")
            n += 1


# ---- Drainboard set-up ----------------------------------------------------------------------------------------------


def configure() -> dict[str, str]:
    """Production-like settings for this process and every child; stable keys under var/bench/scale."""
    from cryptography.fernet import Fernet

    from config.env import dev_secret

    keys = {name: dev_secret(VAR, name) for name in ("SECRET_KEY", "AUDIT_HMAC_KEY")}
    keys["FIELD_ENCRYPTION_KEYS"] = dev_secret(VAR, "FIELD_ENCRYPTION_KEYS", lambda: Fernet.generate_key().decode())
    os.environ.update(
        {
            **keys,
            "DEBUG": "false",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
            "REDIS_URL": REDIS_URL,
            "DRAINBOARD_VAR_DIR": str(VAR),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "BENCH_PROBE_DIR": str(VAR),
        }
    )
    return dict(os.environ)


def fresh_database() -> None:
    import psycopg
    import redis

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    redis.Redis.from_url(REDIS_URL).flushdb()


def start_simulators(args: argparse.Namespace, env: dict[str, str]) -> list[tuple[Proc, str, Path]]:
    sims = []
    for c in range(1, args.clusters + 1):
        scenario = VAR / f"scenario-{c:02d}.json"
        scenario.write_text(json.dumps(build_scenario(c, args)))
        kubeconfig = VAR / f"kubeconfig-{c:02d}"
        proc = Proc(
            f"kubesim-{c:02d}",
            [
                sys.executable,
                "-m",
                "kubesim",
                "--scenario",
                str(scenario),
                "--port",
                "0",
                "--kubeconfig-out",
                str(kubeconfig),
            ],
            env,
            ready="kubesim listening on ",
        )
        sims.append((proc, kubeconfig))
    out = []
    for proc, kubeconfig in sims:
        proc.wait_ready(60)
        url = re.search(r"listening on (\S+)", "".join(proc.lines)).group(1)  # type: ignore[union-attr]
        out.append((proc, url, kubeconfig))
    return out


def control(url: str, path: str, method: str = "GET") -> Any:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the control API is token-free and local
    req = urllib.request.Request(url + "/_kubesim/" + path, method=method)
    with urllib.request.urlopen(req, context=context, timeout=60) as answer:
        return json.loads(answer.read())


def start_drainboard(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Proc]:
    celery = [sys.executable, "-m", "celery", "-A", "config"]
    worker = ["worker", "-l", "INFO", "--without-gossip", "--without-mingle", "--include", "bench.probe"]
    procs = {
        f"worker-{n}": Proc(
            f"worker-{n}",
            [*celery, *worker, "-Q", "celery", "--concurrency", str(args.concurrency), "-n", f"w{n}@%h"],
            env,
            " ready.",
        )
        for n in range(1, args.workers + 1)
    }
    procs["watcher"] = Proc(
        "watcher",
        [
            *celery,
            *worker,
            "-Q",
            "watch,notify",
            "--pool",
            "threads",
            "--concurrency",
            str(args.watchers),
            "-n",
            "watcher@%h",
        ],
        env,
        " ready.",
    )
    for stale in VAR.glob("celerybeat-schedule*"):
        stale.unlink()
    procs["beat"] = Proc("beat", [*celery, "beat", "-l", "INFO", "--schedule", str(VAR / "celerybeat-schedule")], env)
    procs["web"] = Proc(
        "web",
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{WEB_PORT}", "-w", "3", "--timeout", "60"],
        env,
        "Booting worker",
    )
    for proc in procs.values():
        proc.wait_ready(90)
    return procs


def login(base: str, username: str, password: str) -> Any:
    import requests

    session = requests.Session()
    page = session.get(base + "/login/", timeout=30)
    page.raise_for_status()
    answer = session.post(
        base + "/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        timeout=30,
    )
    if "sessionid" not in session.cookies:
        raise SystemExit(f"could not sign in to the web server: {answer.status_code}")
    return session


# ---- one round ------------------------------------------------------------------------------------------------------


def submit_round(api: Any, base: str, clusters: dict[int, int], nodes: list[str]) -> list[int]:
    """One drain per (cluster, node), through the REST API, from 4 client threads."""

    def submit(item: tuple[int, str]) -> int:
        cluster_id, node = item
        body = {
            "cluster": cluster_id,
            "kind": "drain",
            "node": node,
            "reason": f"scale bench: replace {node}",
            "options": {"ignore_daemonsets": True},
            "deadline_minutes": 60,
        }
        answer = api.post(base + "/api/v1/requests/", json=body, timeout=120)
        if answer.status_code != 201:
            raise SystemExit(f"submitting a drain of {node} failed: {answer.status_code} {answer.text[:500]}")
        return int(answer.json()["id"])

    items = [(cluster_id, node) for cluster_id in clusters.values() for node in nodes]
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(submit, items))


def wait_finished(request_ids: list[int], timeout: float) -> None:
    from evictions.models import EvictionRequest

    terminal = {"succeeded", "done_with_exceptions", "failed", "cancelled", "rejected"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = Counter(EvictionRequest.objects.filter(pk__in=request_ids).values_list("status", flat=True))
        if set(statuses) <= terminal:
            return
        time.sleep(0.5)
    raise SystemExit(f"requests not finished after {timeout:.0f} s: {dict(statuses)}")


def round_figures(request_ids: list[int], submitted: float, args: argparse.Namespace) -> dict[str, Any]:
    from django.db.models import Count, Max

    from evictions.models import AttemptKind, EvictionAttempt, EvictionRequest, PodEviction

    requests = EvictionRequest.objects.filter(pk__in=request_ids)
    statuses = Counter(requests.values_list("status", flat=True))
    last = requests.aggregate(last=Max("finished_at"))["last"]
    pods = PodEviction.objects.filter(request_id__in=request_ids)
    by_workload: dict[tuple[int, str], int] = Counter()
    for cluster_id, name in pods.filter(status="evicted").values_list("request__cluster_id", "name"):
        by_workload[(cluster_id, name.rsplit("-", 1)[0])] += 1
    budgets = {f"svc-{w:02d}-7c9d{w:02d}f5b8": budget_of(w) for w in range(args.pods_per_node - 1)}
    floor = lower_bound(by_workload, budgets, args)
    accepted: dict[tuple[int, str], list[float]] = defaultdict(list)
    for cluster_id, name, at in pods.filter(eviction_accepted_at__isnull=False).values_list(
        "request__cluster_id", "name", "eviction_accepted_at"
    ):
        accepted[(cluster_id, name.rsplit("-", 1)[0])].append(at.timestamp() - submitted)
    # Within a workload whose budget allows one disruption, each eviction waits for the previous pod's replacement to
    # be Ready: the gap beyond --ready-after is Drainboard's reaction (watch event, attempt, answer).
    reactions = sorted(
        later - earlier - args.ready_after
        for (_, workload), times in accepted.items()
        if budgets.get(workload) == 1
        for earlier, later in itertools.pairwise(sorted(times))
    )
    all_accepted = sorted(t for times in accepted.values() for t in times)
    attempts = EvictionAttempt.objects.filter(pod__request_id__in=request_ids, kind=AttemptKind.EVICT)
    answers = dict(attempts.values_list("http_status").annotate(n=Count("id")).order_by())
    seconds = (last.timestamp() - submitted) if last else float("nan")
    return {
        "requests": dict(statuses),
        "pods": dict(Counter(pods.values_list("status", flat=True))),
        "attempts": attempts.count(),
        "attempt_answers": {str(k): v for k, v in answers.items()},
        "completion_seconds": round(seconds, 2),
        "lower_bound_seconds": floor,
        "ratio": round(seconds / floor, 3) if floor else None,
        "first_eviction_s": round(all_accepted[0], 2) if all_accepted else None,
        "last_eviction_s": round(all_accepted[-1], 2) if all_accepted else None,
        "reaction_s_median": round(statistics.median(reactions), 2) if reactions else None,
        "reaction_s_p95": round(reactions[int(0.95 * (len(reactions) - 1))], 2) if reactions else None,
        "longest_chain": max(
            (math.ceil(n / budgets[w]) for (_, w), n in by_workload.items()),
            default=0,
        ),
    }


# ---- after the run --------------------------------------------------------------------------------------------------


def read_probes() -> list[dict[str, Any]]:
    rows = []
    for path in VAR.glob("probe-*.jsonl"):
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return rows


BEAT_LINE = re.compile(r"^\[?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\b.*Scheduler: Sending due task tick ")


def tick_lags(probes: list[dict[str, Any]], since: float, until: float) -> dict[str, Any]:
    """Beat's send of each tick (its log) to the tick task's start (the probe)."""
    sent = []
    for line in (VAR / "beat.log").read_text().splitlines():
        match = BEAT_LINE.match(line)
        if match:
            sent.append(datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp())
    sent = [t for t in sent if since <= t <= until]
    starts = sorted(p["start"] for p in probes if p["task"] == "evictions.tasks.tick" and since <= p["start"] <= until)
    lags, unmatched = [], 0
    for s in sent:
        later = [t for t in starts if t >= s - 0.05]
        if later and (not lags or later[0] - s < 60):
            lags.append(max(0.0, later[0] - s))
            starts.remove(later[0])
        else:
            unmatched += 1
    return {
        "ticks_sent": len(sent),
        "ticks_run": len(lags),
        "ticks_expired_or_lost": unmatched,
        "lag_median_s": round(statistics.median(lags), 3) if lags else None,
        "lag_max_s": round(max(lags), 3) if lags else None,
    }


def task_table(probes: list[dict[str, Any]], since: float, until: float) -> dict[str, Any]:
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in probes:
        if since <= p["start"] <= until:
            by_task[p["task"].rsplit(".", 1)[-1]].append(p)

    def pct(values: list[float], q: float) -> float:
        values = sorted(values)
        return values[min(len(values) - 1, int(q * len(values)))]

    return {
        task: {
            "runs": len(rows),
            "cpu_ms_median": round(statistics.median(r["cpu"] for r in rows) * 1000, 2),
            "cpu_ms_p95": round(pct([r["cpu"] for r in rows], 0.95) * 1000, 2),
            "cpu_s_total": round(sum(r["cpu"] for r in rows), 2),
            "queries_median": statistics.median(r["queries"] for r in rows),
            "queries_total": sum(r["queries"] for r in rows),
        }
        for task, rows in sorted(by_task.items())
    }


def witness(sims: list[tuple[Proc, str, Path]], since: float) -> dict[str, Any]:
    """From every cluster's request log: evictions accepted per pod, direct deletes, eviction rate."""
    accepted_per_pod: Counter[tuple[int, str]] = Counter()
    deletes, times, calls = 0, [], Counter()
    for index, (_, url, _) in enumerate(sims):
        for entry in control(url, "requests")["items"]:
            if not str(entry.get("userAgent", "")).startswith("drainboard"):
                continue
            kind = classify_call(entry)
            calls[kind] += 1
            if kind == "eviction" and entry["status"] == 201:
                accepted_per_pod[(index, entry["path"])] += 1
            if kind == "delete" and "/pods/" in entry["path"]:
                deletes += 1
    del since, times
    return {
        "evictions_accepted": sum(accepted_per_pod.values()),
        "pods_evicted": len(accepted_per_pod),
        "pods_evicted_more_than_once": sum(1 for n in accepted_per_pod.values() if n > 1),
        "direct_pod_deletes": deletes,
        "api_calls": dict(calls),
    }


# ---- main -----------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--nodes", type=int, default=25, help="nodes per cluster")
    parser.add_argument("--pods-per-node", type=int, default=20, help="pods per node (one of them the DaemonSet's)")
    parser.add_argument("--drain", type=int, default=5, help="nodes drained per cluster in each round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of drains (memory is compared across them)")
    parser.add_argument("--ready-after", type=float, default=15.0, help="seconds until a replacement is Ready")
    parser.add_argument("--grace", type=int, default=10, help="terminationGracePeriodSeconds of the pods")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes on the celery queue")
    parser.add_argument("--concurrency", type=int, default=4, help="prefork children of each worker")
    parser.add_argument("--watchers", type=int, default=32, help="threads of the watcher (watch,notify)")
    parser.add_argument("--qps", type=int, default=50, help="each cluster's API requests per second in Drainboard")
    parser.add_argument("--timeout", type=int, default=900, help="seconds a round may take")
    parser.add_argument("--json", default=str(REPO / "var" / "bench" / "scale.json"))
    args = parser.parse_args()
    if args.drain * args.rounds >= args.nodes:
        raise SystemExit("--drain x --rounds must leave nodes to move the pods to")

    import shutil

    shutil.rmtree(VAR, ignore_errors=True)
    VAR.mkdir(parents=True)
    env = configure()
    fresh_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)
    print(
        f"{args.clusters} clusters x {args.nodes} nodes x {args.pods_per_node} pods = "
        f"{args.clusters * args.nodes} nodes, {args.clusters * args.nodes * args.pods_per_node} pods; "
        f"drain {args.clusters * args.drain} nodes at once, {args.rounds} round(s)",
        flush=True,
    )
    sims = start_simulators(args, env)
    procs: dict[str, Proc] = {}
    sampler = operator = None
    results: dict[str, Any] = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(["python", *sys.argv]),
        "machine": machine(),
        "source": source_state(),
        "settings": {k: v for k, v in vars(args).items() if k != "json"},
        "rounds": [],
    }
    try:
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from rest_framework.authtoken.models import Token

        from clusters.models import Cluster

        results["settings"]["tick_seconds"] = settings.TICK_SECONDS
        quiet = open(os.devnull, "w")
        clusters: dict[int, int] = {}
        for c, (_, _, kubeconfig) in enumerate(sims, start=1):
            call_command("cluster_import", kubeconfig=str(kubeconfig), name=f"scale-{c:02d}", stdout=quiet)
            clusters[c] = Cluster.objects.get(name=f"scale-{c:02d}").pk
        Cluster.objects.update(qps_limit=args.qps, max_concurrent_drains=args.drain)
        password = "scale-bench-password-not-secret"
        call_command("user_add", "bench", role=["admin"], password=password, stdout=quiet)
        token, _ = Token.objects.get_or_create(user=get_user_model().objects.get(username="bench"))
        connections.close_all()

        procs = start_drainboard(args, env)
        base = f"http://127.0.0.1:{WEB_PORT}"
        import requests

        api = requests.Session()
        api.headers["Authorization"] = f"Token {token.key}"
        roles = {name: [p.proc.pid] for name, p in procs.items()}
        roles["kubesim"] = [p.proc.pid for p, _, _ in sims]
        roles.update(servers())  # shared with anything else on the machine: their CPU is an upper bound
        sampler = Sampler(roles)
        sampler.start()
        operator = Operator(login(base, "bench", password), base)
        operator.start()
        time.sleep(3)  # the pool children import the application before the clock starts
        for r in range(args.rounds):
            nodes = drained_nodes(r, args)
            for _, url, _ in sims:
                control(url, "requests", "DELETE")
            before = sampler.snapshot()
            submitted = time.time()
            print(f"round {r + 1}: draining {', '.join(nodes)} of every cluster ...", flush=True)
            ids = submit_round(api, base, clusters, nodes)
            submit_seconds = time.time() - submitted
            operator.request_ids = ids
            wait_finished(ids, args.timeout)
            after = sampler.snapshot()
            figures = round_figures(ids, submitted, args)
            figures["submit_seconds"] = round(submit_seconds, 2)
            figures["witness"] = witness(sims, submitted)
            cpu = {role: round(after[role]["cpu"] - before[role]["cpu"], 2) for role in roles}
            worker_cpu = sum(cpu[role] for role in roles if role.startswith("worker") or role == "watcher")
            figures["cpu_seconds"] = cpu
            figures["worker_cpu_ms_per_attempt"] = round(1000 * worker_cpu / max(1, figures["attempts"]), 2)
            figures["evictions_per_second"] = round(
                figures["witness"]["evictions_accepted"] / figures["completion_seconds"], 1
            )
            figures["window"] = [submitted, after["t"]]
            figures["rss_mb_at_end"] = {role: round(after[role]["rss"] / 2**20, 1) for role in roles}
            results["rounds"].append(figures)
            print(
                f"  {figures['requests']} in {figures['completion_seconds']} s (lower bound "
                f"{figures['lower_bound_seconds']} s, x{figures['ratio']}); {figures['attempts']} attempts "
                f"{figures['attempt_answers']}; worker CPU {figures['worker_cpu_ms_per_attempt']} ms/attempt",
                flush=True,
            )
            time.sleep(5)
    finally:
        if operator:
            operator.stopped.set()
        if sampler:
            sampler.stopped.set()
        for proc in procs.values():
            proc.stop()
        for proc, _, _ in sims:
            proc.stop()

    probes = read_probes()
    for figures in results["rounds"]:
        since, until = figures.pop("window")
        figures["tasks"] = task_table(probes, since, until)
        figures["tick"] = tick_lags(probes, since, until)
        queries = sum(t["queries_total"] for t in figures["tasks"].values())
        figures["queries_per_attempt"] = round(queries / max(1, figures["attempts"]), 1)
    samples = sampler.samples if sampler else []
    results["memory_mb"] = {
        role: {
            "first": round(samples[0][role]["rss"] / 2**20, 1),
            "max": round(max(s[role]["rss"] for s in samples) / 2**20, 1),
            "last": round(samples[-1][role]["rss"] / 2**20, 1),
        }
        for role in (samples[0] if samples else {})
        if role != "t"
    }
    results["memory_series_mb"] = [
        {"t": round(s["t"] - samples[0]["t"], 1), **{k: round(v["rss"] / 2**20, 1) for k, v in s.items() if k != "t"}}
        for s in samples
    ]
    if operator:
        results["operator"] = {
            label: {
                "polls": len(values),
                "median_ms": round(statistics.median(values) * 1000, 1),
                "max_ms": round(max(values) * 1000, 1),
            }
            for label, values in operator.timings.items()
        } | {"errors": dict(operator.errors)}
    report(results)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nWrote {args.json}")


def report(results: dict[str, Any]) -> None:
    print()
    for n, r in enumerate(results["rounds"], start=1):
        w = r["witness"]
        print(f"## round {n}")
        print(f"- requests: {r['requests']}; pods: {r['pods']}; submitted in {r['submit_seconds']} s")
        print(
            f"- completion {r['completion_seconds']} s vs lower bound {r['lower_bound_seconds']} s "
            f"(x{r['ratio']}; longest chain {r['longest_chain']} batches)"
        )
        print(
            f"- evictions accepted {w['evictions_accepted']} ({r['evictions_per_second']}/s), pods evicted more than "
            f"once {w['pods_evicted_more_than_once']}, direct deletes {w['direct_pod_deletes']}"
        )
        print(
            f"- first eviction accepted at {r['first_eviction_s']} s, last at {r['last_eviction_s']} s; reaction to a "
            f"Ready replacement (gap beyond the readiness delay) median {r['reaction_s_median']} s, "
            f"p95 {r['reaction_s_p95']} s"
        )
        print(f"- attempts {r['attempts']} {r['attempt_answers']}; API calls {w['api_calls']}")
        print(
            f"- worker CPU {r['worker_cpu_ms_per_attempt']} ms per attempt; queries per attempt "
            f"{r['queries_per_attempt']}; CPU seconds {r['cpu_seconds']}"
        )
        print(f"- tick: {r['tick']}")
        print("| task | runs | CPU ms median | p95 | CPU s total | queries median | queries total |")
        print("|---|---|---|---|---|---|---|")
        for task, t in r["tasks"].items():
            print(
                f"| {task} | {t['runs']} | {t['cpu_ms_median']} | {t['cpu_ms_p95']} | {t['cpu_s_total']} | "
                f"{t['queries_median']} | {t['queries_total']} |"
            )
    print(f"\nmemory (MB, first / max / last sample): {results['memory_mb']}")
    print(f"operator: {results.get('operator')}")


if __name__ == "__main__":
    main()
