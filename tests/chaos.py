"""Chaos harness (a library, not a test module): drain several kubesim nodes with real Celery workers and beat while
a fault injector SIGKILLs workers and pool children, restarts a private Redis (losing every queued message),
restarts beat and cuts the workers' database connections; then check, from what the cluster saw and what the
database holds, that nothing was evicted twice, nothing was deleted directly, every request finished, and the audit
chain verifies.

Used by tests/test_chaos.py (small, in CI) and bench/chaos.py (large). The caller has configured Django and owns the
database; everything this module starts (Redis, workers, beat, simulators) is stopped in `finally` blocks.

A supervisor thread starts again a worker or beat that exits by itself, as compose's `restart: unless-stopped` does.
A Celery worker with late-acknowledged tasks in flight used to exit (status 1) when Redis went away, kombu's Redis
channel raising AttributeError on the collected connection; config/broker.py makes that a connection error, and
config/tests/test_celery_e2e.py shows workers riding out an outage in the same process.

The witness: kubesim's request log (every call with its User-Agent and answer) and an eviction ledger recorded
inside kubesim at the moment it decides each eviction (the pod's UID and whether it was already terminating), so a
201 that took a disruption is told apart from a 201 for a pod that was already on its way out.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
WORKER_APP_NAME = "drainboard-chaos-worker"  # PGAPPNAME of workers and beat: the database cut targets only them

FAULT_KINDS = ("worker_kill", "child_kill", "redis_restart", "beat_restart", "db_cut")

# ---- the scenario ---------------------------------------------------------------------------------------------------


def build_scenario(*, drained_nodes: int, spare_nodes: int = 2, workloads: int = 5, per_node: int = 3) -> dict:
    """`drained_nodes` nodes to drain plus spares. Each ReplicaSet has `per_node` pods on every drained node and one on
    a spare, under a PDB with maxUnavailable 1 (one disruption at a time across all the drains); a StatefulSet has
    one pod per drained node (replacements come back under the same name), also with maxUnavailable 1; a DaemonSet
    runs everywhere (skipped). Times are simulated seconds (see `time_scale`)."""
    drained = [f"node-{i}" for i in range(1, drained_nodes + 1)]
    spares = [f"spare-{i}" for i in range(1, spare_nodes + 1)]
    spec: dict[str, Any] = {
        "name": "chaos",
        "nodes": drained + spares,
        "workloads": [
            {"kind": "DaemonSet", "namespace": "kube-system", "name": "kube-proxy", "labels": {"k8s-app": "proxy"}}
        ],
        "pdbs": [],
    }
    for w in range(workloads):
        app = f"app{w}"
        nodes = [n for n in drained for _ in range(per_node)] + [spares[w % len(spares)]]
        spec["workloads"].append(
            {
                "kind": "ReplicaSet",
                "namespace": f"ns{w % 3}",
                "name": f"{app}-5d8c7b6f4",
                "labels": {"app": app},
                "replicas": len(nodes),
                "nodes": nodes,
                "readyAfterSeconds": 3,
                "terminationGracePeriodSeconds": 2,
            }
        )
        pdb = {"namespace": f"ns{w % 3}", "name": f"{app}-pdb", "selector": {"app": app}, "maxUnavailable": 1}
        spec["pdbs"].append(pdb)
    spec["workloads"].append(
        {
            "kind": "StatefulSet",
            "namespace": "db",
            "name": "pg",
            "labels": {"app": "pg"},
            "replicas": len(drained),
            "nodes": drained,
            "readyAfterSeconds": 3,
            "terminationGracePeriodSeconds": 2,
        }
    )
    spec["pdbs"].append({"namespace": "db", "name": "pg-pdb", "selector": {"app": "pg"}, "maxUnavailable": 1})
    return spec


# ---- the eviction ledger: what kubesim decided, per call ------------------------------------------------------------

_ledgers: dict[int, list[dict[str, Any]]] = {}  # id(store) -> entries
_ledger_lock = threading.Lock()
_original_evict: Callable[..., Any] | None = None


def _recording_evict(store: Any, namespace: str, name: str, raw_body: bytes, query_dry_run: Any = None, **kw: Any):
    """kubesim's eviction decision, unchanged, with a note of the pod it applied to (called under store.lock)."""

    assert _original_evict is not None
    pod = store.get("pods", namespace, name)
    uid = pod["metadata"]["uid"] if pod else None
    was_terminating = bool(pod and pod["metadata"].get("deletionTimestamp"))
    answer = _original_evict(store, namespace, name, raw_body, query_dry_run, **kw)
    try:
        body = json.loads(raw_body or b"{}")
        options = body.get("deleteOptions") or {}
    except (ValueError, AttributeError):
        options = {}
    dry_run = bool(query_dry_run) or bool(options.get("dryRun"))
    entry = {
        "at": time.time(),
        "namespace": namespace,
        "name": name,
        "uid": uid,
        "precondition_uid": (options.get("preconditions") or {}).get("uid"),
        "status": answer.code,
        "dry_run": dry_run,
        "was_terminating": was_terminating,
        # A disruption: this call started the pod's deletion (kubesim answers 201 again, without taking a
        # disruption, for a pod that is already terminating).
        "disrupted": answer.code == 201 and not dry_run and pod is not None and not was_terminating,
    }
    with _ledger_lock:
        _ledgers.setdefault(id(store), []).append(entry)
    return answer


@contextmanager
def eviction_ledger(sim: Any) -> Iterator[list[dict[str, Any]]]:
    """Record every eviction decision of this simulator (module-wide hook, removed when the last user leaves)."""
    import kubesim.server

    global _original_evict
    with _ledger_lock:
        if _original_evict is None:
            _original_evict = kubesim.server.evict
            kubesim.server.evict = _recording_evict  # type: ignore[assignment]
        entries = _ledgers.setdefault(id(sim.store), [])
    try:
        yield entries
    finally:
        with _ledger_lock:
            _ledgers.pop(id(sim.store), None)
            if not _ledgers and _original_evict is not None:
                kubesim.server.evict = _original_evict  # type: ignore[assignment]
                _original_evict = None


# ---- processes ------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kill_group(proc: subprocess.Popen | None, sig: int = signal.SIGKILL) -> None:
    if proc is None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)


class PrivateRedis:
    """A redis-server of our own on a free port, nothing saved: killing it loses every queued message."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.lock = threading.Lock()  # one restart at a time

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                *(REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
                *("--dir", str(self.workdir), "--logfile", str(self.workdir / "redis.log")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        _kill_group(self.proc)
        self.proc = None


class CeleryProcess:
    """A worker or beat in its own process group, its output in a log file; can be killed and started again."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logdir: Path, ready: str | None) -> None:
        self.name, self.argv, self.env, self.ready_marker = name, argv, env, ready
        self.log_path = logdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.lock = threading.RLock()  # the injector's kill-and-restart and the supervisor's restart take turns

    def start(self, wait: float = 90) -> None:
        self.starts += 1
        log = self.log_path.open("a")
        log.write(f"\n==== start {self.starts} at {time.strftime('%H:%M:%S')} ====\n")
        log.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *self.argv],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if self.ready_marker is None:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace").rsplit("==== start ", 1)[-1]
            if self.ready_marker in text:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start:\n{self.tail()}")

    def children(self) -> list[int]:
        if self.proc is None:
            return []
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True, check=False)
        return [int(p) for p in out.stdout.split()]

    def kill(self) -> None:
        _kill_group(self.proc, signal.SIGKILL)
        self.proc = None

    def stop(self) -> None:
        _kill_group(self.proc, signal.SIGTERM)
        self.proc = None

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def worker_env(database_url: str, redis_url: str, tick_seconds: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TICK_SECONDS": str(tick_seconds),
        "PYTHONUNBUFFERED": "1",
        "PGAPPNAME": WORKER_APP_NAME,
        "LOG_LEVEL": "INFO",
    }


def make_worker(n: int, env: dict[str, str], logdir: Path, concurrency: int) -> CeleryProcess:
    argv = ["worker", "-l", "INFO", "--concurrency", str(concurrency), "-Q", "celery,watch,notify"]
    argv += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"chaos-{n}-{os.getpid()}@%h"]
    return CeleryProcess(f"worker-{n}", argv, env, logdir, " ready.")


def make_beat(env: dict[str, str], logdir: Path) -> CeleryProcess:
    argv = ["beat", "-l", "INFO", "--schedule", str(logdir / "celerybeat-schedule")]
    return CeleryProcess("beat", argv, env, logdir, "beat: Starting")


@contextmanager
def celery_publisher(broker_url: str) -> Iterator[None]:
    """Point this process's Celery app (configured at import from REDIS_URL) at `broker_url`: what request_create
    enqueues after commit then reaches the private Redis the workers read. The connection and producer pools are
    dropped so that no connection to the old broker is reused, and again on the way out."""
    from kombu import pools

    from config.celery import app

    def reset() -> None:
        # kombu keeps one pool per broker URL in a process-wide registry, and the app takes its pool from there:
        # closing the app's pool alone left a closed pool registered for the old URL, which the next test got back
        # ("Acquire on closed pool"). Close and forget them all.
        pools.reset()
        app._pool = None
        if "amqp" in app.__dict__:
            app.amqp._producer_pool = None

    old_url, old_options = app.conf.broker_url, app.conf.broker_transport_options
    reset()
    app.conf.broker_url = broker_url
    app.conf.broker_transport_options = {"visibility_timeout": 3600}
    try:
        yield
    finally:
        reset()
        app.conf.broker_url, app.conf.broker_transport_options = old_url, old_options


# ---- faults ---------------------------------------------------------------------------------------------------------


@dataclass
class Fault:
    at: float  # seconds after the faults start
    kind: str


def fault_schedule(rng: random.Random, seconds: float, kinds: tuple[str, ...], extra: int) -> list[Fault]:
    """Every kind at least once, plus `extra` more of random kinds, at random moments in the first 85% of the
    window (so the last restart is done before it ends)."""
    chosen = list(kinds) + [rng.choice(kinds) for _ in range(extra)]
    rng.shuffle(chosen)
    span = seconds * 0.85
    slot = span / len(chosen)
    return [Fault(at=round(i * slot + rng.uniform(0.1, slot * 0.9), 2), kind=k) for i, k in enumerate(chosen)]


@dataclass
class Chaos:
    """The running system under faults: private Redis, workers, beat."""

    rng: random.Random
    redis: PrivateRedis | None
    workers: list[CeleryProcess]
    beat: CeleryProcess
    database_cut: Callable[[], int] | None
    in_flight: Callable[[], dict[str, int]]
    slow_evictions: Callable[[bool], None]  # True: the clusters answer evictions after a delay; False: no more
    claimed: Callable[[], dict[int, datetime]]  # pods claimed by an attempt in flight now -> claimed_until
    log: list[dict[str, Any]] = field(default_factory=list)
    started: float = 0.0
    final_kill_at: float | None = None  # wall-clock time of the last blow
    stranded: dict[int, datetime] = field(default_factory=dict)  # pods claimed when it came -> claimed_until

    def note(self, kind: str, **details: Any) -> None:
        try:
            flight = self.in_flight()
        except Exception as error:  # the database may be the thing that is down
            flight = {"error": type(error).__name__}
        entry = {"t": round(time.monotonic() - self.started, 2), "kind": kind, **details, "in_flight": flight}
        self.log.append(entry)
        print(f"[chaos] {entry}", flush=True)

    def inject(self, kind: str) -> None:
        pause = round(self.rng.uniform(0.3, 3.0), 2)
        if kind == "worker_kill":
            worker = self.rng.choice(self.workers)
            self.note(kind, target=worker.name, pause=pause)
            with worker.lock:
                worker.kill()
                time.sleep(pause)
                worker.start()
        elif kind == "child_kill":
            worker = self.rng.choice(self.workers)
            children = worker.children()
            ends = time.monotonic() + 15
            while not children and time.monotonic() < ends:  # a worker just restarted forks its pool first
                time.sleep(0.2)
                worker = self.rng.choice(self.workers)
                children = worker.children()
            if not children:
                self.note("injector_error", error=f"{worker.name} has no pool children to kill")
                return
            child = self.rng.choice(children)
            self.note(kind, target=f"{worker.name} child {child}")
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        elif kind == "redis_restart":
            assert self.redis is not None
            with self.redis.lock:
                self.note(kind, pause=pause)
                self.redis.kill()
                time.sleep(pause)
                self.redis.start()
        elif kind == "beat_restart":
            self.note(kind, pause=pause)
            with self.beat.lock:
                self.beat.kill()
                time.sleep(pause)
                self.beat.start()
        elif kind == "db_cut":
            assert self.database_cut is not None
            cut = self.database_cut()
            self.note(kind, connections=cut)
        else:
            raise ValueError(kind)

    def kill_all_workers(self) -> None:
        """The last blow: with the clusters slow to answer evictions, wait until attempts are in flight (pods
        claimed), then SIGKILL every worker at once: those claims, followers and watchers are stranded, the worst
        case for recovery. The workers start again; recovery is timed from the moment they are back."""
        for worker in self.workers:
            worker.lock.acquire()
        try:
            self.slow_evictions(True)
            try:
                ends = time.monotonic() + 60  # a stalled request (a lease or claim running out) goes on by then
                claimed = self._claimed()
                while not claimed and time.monotonic() < ends:
                    time.sleep(0.05)
                    claimed = self._claimed()
                # The claims just seen, not a second look (by then the attempt may have had its answer: CI saw an
                # empty list that way), and the kill at once: the note (a database read) comes after it.
                self.stranded = claimed
                self.final_kill_at = time.time()
                for worker in self.workers:
                    worker.kill()
                self.note("all_workers_kill", targets=[w.name for w in self.workers], claimed=sorted(self.stranded))
            finally:
                self.slow_evictions(False)
            time.sleep(self.rng.uniform(0.3, 2.0))
            for worker in self.workers:
                worker.start()
        finally:
            for worker in self.workers:
                worker.lock.release()

    def supervise(self, stop: threading.Event) -> None:
        """What a process supervisor does in production (compose `restart: unless-stopped`, a Deployment): start
        again a worker or beat that exited by itself. Each such exit is in the fault log."""
        while not stop.wait(0.5):
            for process in [*self.workers, self.beat]:
                if not process.lock.acquire(blocking=False):
                    continue
                try:
                    if process.proc is not None and process.proc.poll() is not None:
                        self.note("exited_by_itself", target=process.name, returncode=process.proc.returncode)
                        process.start()
                except Exception as error:
                    self.note("injector_error", error=f"supervisor: {process.name}: {error!r}")
                finally:
                    process.lock.release()

    def _claimed(self) -> dict[int, datetime]:
        try:
            return self.claimed()
        except Exception:
            return {}

    def run(
        self, schedule: list[Fault], stop: threading.Event, nearly_done: Callable[[], bool], final_wait: float
    ) -> None:
        """The schedule, then (when the cluster has nearly all its evictions, or after final_wait) the last blow.

        Each fault runs in its own thread, so that a restart (a worker takes seconds to start) does not push the
        later faults back; all of them are over before the last blow."""
        self.started = time.monotonic()
        running: list[threading.Thread] = []

        def inject(kind: str) -> None:
            try:
                self.inject(kind)
            except Exception as error:
                self.note("injector_error", error=f"{kind}: {error!r}")

        for fault in schedule:
            wait = self.started + fault.at - time.monotonic()
            if wait > 0 and stop.wait(wait):
                break
            thread = threading.Thread(target=inject, args=(fault.kind,), name=f"chaos-{fault.kind}", daemon=True)
            thread.start()
            running.append(thread)
        for thread in running:
            thread.join(timeout=120)
        if stop.is_set():
            return
        ends = time.monotonic() + final_wait
        while not nearly_done() and time.monotonic() < ends:
            if stop.wait(0.1):
                return
        self.kill_all_workers()


def postgres_cut(database_url: str) -> Callable[[], int]:
    """Terminate every backend of the workers and beat (by PGAPPNAME) in the test database."""

    def cut() -> int:
        import psycopg

        # Celery's Django fixup closes a task's connection when the task ends, so a worker holds one only while a
        # task runs: cut every 50 ms for two seconds, as a database failover would, to catch tasks mid-transaction.
        terminated = 0
        ends = time.monotonic() + 2.0
        with psycopg.connect(database_url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
            while time.monotonic() < ends:
                rows = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = %s",
                    [WORKER_APP_NAME],
                ).fetchall()
                terminated += sum(1 for (ok,) in rows if ok)
                time.sleep(0.05)
        return terminated

    return cut


# ---- the checks: pure functions over what the cluster saw and what the database holds ------------------------------


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_evictions(
    *, initial_pods: list[dict], drained: set[str], ledger: list[dict], request_log: list[dict]
) -> Findings:
    """Every evictable pod of the drained nodes disrupted exactly once, no other pod disrupted, no eviction of a pod
    that is not the one recorded (a same-named replacement), no direct DELETE by Drainboard."""
    found = Findings()
    evictable = {
        p["uid"]: f"{p['namespace']}/{p['name']}"
        for p in initial_pods
        if p["node"] in drained and not str(p.get("owner") or "").startswith("DaemonSet/")
    }
    real = [e for e in ledger if not e["dry_run"]]
    disruptions = Counter(e["uid"] for e in real if e["disrupted"])
    for uid, key in evictable.items():
        if disruptions[uid] != 1:
            found.problems.append(f"{key} ({uid}) disrupted {disruptions[uid]} times")
    for uid in set(disruptions) - set(evictable):
        found.problems.append(f"a pod that was not to be evicted was disrupted: {uid}")
    accepted_other = [e for e in real if e["status"] == 201 and e["uid"] not in evictable]
    if accepted_other:
        found.problems.append(f"evictions accepted for pods not planned (e.g. a replacement): {accepted_other[:3]}")
    wrong_uid = [e for e in real if e["precondition_uid"] and e["precondition_uid"] != e["uid"] and e["status"] == 201]
    if wrong_uid:
        found.problems.append(f"evictions accepted despite a different UID: {wrong_uid[:3]}")
    # Only what the cluster accepted: a worker killed while sending leaves a truncated body, which is answered 400.
    if any(not e["precondition_uid"] and e["status"] == 201 for e in real):
        found.problems.append("an eviction without preconditions.uid was accepted")
    deletes = [
        e
        for e in request_log
        if e["method"] == "DELETE" and "/pods/" in e["path"] and str(e.get("userAgent", "")).startswith("drainboard/")
    ]
    if deletes:
        found.problems.append(f"Drainboard deleted pods directly: {[e['path'] for e in deletes[:5]]}")
    posts = [e for e in request_log if e["method"] == "POST" and e["path"].endswith("/eviction")]
    found.stats.update(
        evictable=len(evictable),
        disruptions=sum(disruptions.values()),
        eviction_calls=len(real),
        accepted_201=sum(1 for e in real if e["status"] == 201),
        repeats_201_on_terminating=sum(1 for e in real if e["status"] == 201 and e["was_terminating"]),
        answers=dict(Counter(str(e["status"]) for e in real)),
        logged_eviction_posts=sum(1 for e in posts if "dryRun" not in str(e.get("query", ""))),
    )
    return found


def check_database(*, requests: list[dict], pods: list[dict], pod_events: dict[int, list[str]], now: float) -> Findings:
    """Every request succeeded, every pod row finished and unclaimed, each evicted pod's audit trail ends in exactly
    one pod.evicted."""
    found = Findings()
    for r in requests:
        if r["status"] != "succeeded":
            found.problems.append(f"request {r['id']} ({r['node']}) is {r['status']}: {r['status_reason']}")
    for p in pods:
        key = f"{p['namespace']}/{p['name']}"
        expected = "skipped" if p["daemonset"] else "evicted"
        if p["status"] != expected:
            found.problems.append(f"pod {key} is {p['status']}, not {expected}: {p['note']}")
        if p["claimed_until"] is not None and p["claimed_until"] > now:
            found.problems.append(f"pod {key} is still claimed")
        if expected == "evicted":
            events = pod_events.get(p["id"], [])
            if events.count("pod.evicted") != 1 or events[-1:] != ["pod.evicted"]:
                found.problems.append(f"pod {key} audit trail is not one final pod.evicted: {events}")
    found.stats.update(requests=len(requests), pods=len(pods), pod_statuses=dict(Counter(p["status"] for p in pods)))
    return found


def collect_database(request_ids: list[int]) -> tuple[list[dict], list[dict], dict[int, list[str]]]:
    """The rows the checks read, as plain data."""
    from audit.models import AuditEvent
    from evictions.models import EvictionRequest, PodEviction

    requests = list(
        EvictionRequest.objects.filter(pk__in=request_ids).values(
            "id", "node", "status", "status_reason", "started_at", "finished_at"
        )
    )
    pods = []
    for p in PodEviction.objects.filter(request_id__in=request_ids).order_by("pk"):
        pods.append(
            {
                "id": p.pk,
                "namespace": p.namespace,
                "name": p.name,
                "uid": p.uid,
                "status": p.status,
                "note": p.note,
                "attempts": p.attempts,
                "daemonset": p.name.startswith("kube-proxy"),
                "claimed_until": p.claimed_until.timestamp() if p.claimed_until else None,
            }
        )
    events: dict[int, list[str]] = {}
    rows = AuditEvent.objects.filter(object_type="evictions.podeviction", object_id__in=[str(p["id"]) for p in pods])
    for object_id, action in rows.order_by("sequence").values_list("object_id", "action"):
        events.setdefault(int(object_id), []).append(action)
    return requests, pods, events


def check_audit_chain() -> Findings:
    from audit.selectors import audit_chain_verify

    result = audit_chain_verify()
    found = Findings(stats={"audit_events_verified": getattr(result, "checked", None)})
    if not result.ok:
        found.problems.append(f"audit chain does not verify: {result}")
    return found


# ---- one run --------------------------------------------------------------------------------------------------------


@dataclass
class ChaosConfig:
    seed: int
    clusters: int = 1
    drained_nodes: int = 3
    workloads: int = 4
    per_node: int = 4
    fault_seconds: float = 30.0
    extra_faults: int = 4
    final_blow_left: int = 6  # evictable pods not yet disrupted when every worker is killed at once
    final_wait: float = 60.0  # the most to wait for that share after the schedule
    workers: int = 2
    concurrency: int = 4
    tick_seconds: int = 2
    time_scale: float = 1.0
    recovery_timeout: float = 150.0
    database_url: str = ""  # what the workers use (the test database)
    logdir: Path | None = None  # kept for a look afterwards; a temp dir (removed) if None


@dataclass
class ChaosResult:
    seed: int
    faults: list[dict]
    skipped_faults: dict[str, str]
    findings: Findings
    recovery_seconds: float | None  # from the last blow until every request finished
    stranded_seconds: dict[int, float | None]  # pod id -> from the last blow until that pod was attempted again
    requests_done_before_faults_stopped: int
    total_seconds: float
    fault_counts: dict[str, int]
    logs: dict[str, str]


def stranded_seconds(claims: dict[int, datetime], since: float) -> dict[int, float | None]:
    """For each pod whose attempt the kill at `since` cut short: seconds until the next attempt the database recorded.

    An attempt is recorded dated from its claim (claimed_until - CLAIM_SECONDS); a pod whose claimed attempt was
    recorded after all (it finished between the look and the kill) was not stranded and is left out."""
    from datetime import UTC

    from evictions.claims import CLAIM_SECONDS
    from evictions.models import EvictionAttempt

    after = datetime.fromtimestamp(since, tz=UTC)
    found: dict[int, float | None] = {}
    for pod_id, claimed_until in claims.items():
        if EvictionAttempt.objects.filter(pod_id=pod_id, at=claimed_until - timedelta(seconds=CLAIM_SECONDS)).exists():
            continue
        first = EvictionAttempt.objects.filter(pod_id=pod_id, at__gt=after).order_by("at").first()
        found[pod_id] = round(first.at.timestamp() - since, 2) if first else None
    return found


def _retrying(fn: Callable[[], Any], attempts: int = 5) -> Any:
    """A read from this process, which survives a database cut or a lock (drops the broken connection, retries)."""
    from django.db import DatabaseError, connection

    for i in range(attempts):
        try:
            return fn()
        except DatabaseError:
            connection.close()
            if i == attempts - 1:
                raise
            time.sleep(0.5)
    return None


def run_chaos(config: ChaosConfig, *, actor: Any, out: Callable[[str], None] = print) -> ChaosResult:
    """Start everything, drain, inject faults, wait for recovery, check; always clean up."""
    from django.db import connection

    from clusters.models import Cluster
    from evictions.models import EvictionRequest, PodEviction, PodStatus
    from evictions.planning import DrainOptions
    from evictions.services.requests import RequestInput, request_create
    from kubesim import Simulator
    from tests.kubesim_cluster import register_sim

    rng = random.Random(config.seed)
    out(f"[chaos] seed {config.seed} (replay with this seed)")
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="drainboard-chaos-"))
    logdir = config.logdir or tmp
    logdir.mkdir(parents=True, exist_ok=True)
    kinds = list(FAULT_KINDS)
    skipped: dict[str, str] = {}
    if connection.vendor != "postgresql":
        kinds.remove("db_cut")
        skipped["db_cut"] = f"the database is {connection.vendor}, not PostgreSQL: no connections to cut"
    if not Path(REDIS_SERVER).exists():
        raise RuntimeError(f"{REDIS_SERVER} is absent: the workers need a private Redis")
    for kind, why in skipped.items():
        out(f"[chaos] skipping fault {kind}: {why}")

    sims: list[Any] = []
    ledgers: list[list[dict]] = []
    stack: list[Any] = []
    redis = PrivateRedis(tmp)
    processes: list[CeleryProcess] = []
    stop = threading.Event()
    supervising = threading.Event()  # set: the supervisor stops
    injector: threading.Thread | None = None
    try:
        redis.start()
        scenario = build_scenario(
            drained_nodes=config.drained_nodes, workloads=config.workloads, per_node=config.per_node
        )
        drained = {f"node-{i}" for i in range(1, config.drained_nodes + 1)}
        clusters = []
        for c in range(config.clusters):
            sim = Simulator(scenario=scenario, time_scale=config.time_scale).start()
            sims.append(sim)
            ledger_cm = eviction_ledger(sim)
            ledgers.append(ledger_cm.__enter__())
            stack.append(ledger_cm)
            cluster = register_sim(sim, name=f"chaos-{c + 1}", qps_limit=50)
            Cluster.objects.filter(pk=cluster.pk).update(max_concurrent_drains=config.drained_nodes)
            clusters.append(cluster)
        initial = [[dict(p) for p in sim.state()["pods"]] for sim in sims]

        env = worker_env(config.database_url, redis.url, config.tick_seconds)
        workers = [make_worker(n + 1, env, logdir, config.concurrency) for n in range(config.workers)]
        beat = make_beat(env, logdir)
        processes = [*workers, beat]
        for process in processes:
            process.start()
        connection.close()

        request_ids = []
        with celery_publisher(redis.url):
            for cluster in clusters:
                for node in sorted(drained):
                    request = request_create(
                        actor=actor,
                        data=RequestInput(
                            cluster=cluster,
                            kind="drain",
                            reason="chaos",
                            node=node,
                            options=DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True, force=True),
                        ),
                    )
                    request_ids.append(request.pk)
        out(f"[chaos] {len(request_ids)} drains submitted on {len(sims)} cluster(s)")

        def in_flight() -> dict[str, int]:
            from django.db import connections

            try:
                rows = PodEviction.objects.filter(request_id__in=request_ids).values_list("status", flat=True)
                counts = Counter(rows)
                return {str(k): counts[k] for k in (PodStatus.PENDING, PodStatus.BLOCKED, PodStatus.TERMINATING)}
            finally:
                connections.close_all()  # this thread's connection; the cut must not find it half-used

        def claimed() -> dict[int, datetime]:
            from django.db import connections
            from django.utils import timezone

            from evictions.claims import CLAIM_SECONDS

            # Claimed in the last 2 s, so held by an attempt waiting for the slowed answer (3 s) for a second more
            # at least (time for the kill), not a claim an earlier fault left behind.
            recent = timezone.now() + timedelta(seconds=CLAIM_SECONDS - 2.0)
            try:
                pods = PodEviction.objects.filter(
                    request_id__in=request_ids, claimed_until__gt=recent, status__in=["pending", "blocked"]
                )
                return dict(pods.values_list("pk", "claimed_until"))
            finally:
                connections.close_all()

        def slow_evictions(on: bool) -> None:
            for sim in sims:
                if on:
                    sim.inject_fault("latency", count=None, path=r"/eviction$", method="POST", latency=3.0)
                else:
                    sim.clear_faults()

        chaos = Chaos(
            slow_evictions=slow_evictions,
            claimed=claimed,
            rng=rng,
            redis=redis,
            workers=workers,
            beat=beat,
            database_cut=postgres_cut(config.database_url) if "db_cut" in kinds else None,
            in_flight=in_flight,
        )
        schedule = fault_schedule(rng, config.fault_seconds, tuple(kinds), config.extra_faults)
        out(f"[chaos] schedule: {[(f.at, f.kind) for f in schedule]}")
        evictable = sum(
            1
            for pods_before in initial
            for p in pods_before
            if p["node"] in drained and not str(p.get("owner") or "").startswith("DaemonSet/")
        )

        def nearly_done() -> bool:
            """All but a few pods disrupted: the last blow strands attempts and followers near the end."""
            with _ledger_lock:
                disrupted = sum(1 for ledger in ledgers for e in ledger if e["disrupted"])
            return disrupted >= evictable - config.final_blow_left

        injector = threading.Thread(
            target=chaos.run,
            args=(schedule, stop, nearly_done, config.final_wait),
            name="chaos-injector",
            daemon=True,
        )
        supervisor = threading.Thread(target=chaos.supervise, args=(supervising,), name="chaos-supervisor", daemon=True)
        supervisor.start()
        injector.start()
        injector.join(timeout=config.fault_seconds + config.final_wait + 200)
        faults_stopped = time.time()
        out(f"[chaos] faults stopped {time.monotonic() - started:.1f} s into the run")

        def done_count() -> int:
            return EvictionRequest.objects.filter(
                pk__in=request_ids, status__in=["succeeded", "done_with_exceptions", "failed", "cancelled"]
            ).count()

        done_at_stop = _retrying(done_count)
        deadline = time.monotonic() + config.recovery_timeout
        recovered_at = None
        while time.monotonic() < deadline:
            if _retrying(done_count) == len(request_ids):
                recovered_at = time.time()
                break
            time.sleep(0.25)
        time.sleep(1.0)  # anything still in flight (a repeat eviction) lands in the log before it is read
        finishes = [
            r["finished_at"].timestamp()
            for r in _retrying(lambda: list(EvictionRequest.objects.filter(pk__in=request_ids).values("finished_at")))
            if r["finished_at"]
        ]
        # Timed from the last blow (the kill, not the restart): until the last request finished, and until each pod
        # whose attempt the kill interrupted was attempted again.
        last_blow = chaos.final_kill_at or faults_stopped
        recovery = None
        if recovered_at is not None:
            recovery = round(max(0.0, max(finishes, default=last_blow) - last_blow), 2)
        stranded = _retrying(lambda: stranded_seconds(chaos.stranded, last_blow))
        supervising.set()
        supervisor.join(timeout=30)
        for process in processes:
            process.stop()
        processes = []

        findings = Findings()
        requests, pods, events = _retrying(lambda: collect_database(request_ids))
        for sim, ledger, pods_before in zip(sims, ledgers, initial, strict=True):
            part = check_evictions(
                initial_pods=pods_before, drained=drained, ledger=list(ledger), request_log=sim.request_log()
            )
            findings.problems += part.problems
            for k, v in part.stats.items():
                if isinstance(v, dict):
                    findings.stats[k] = dict(Counter(findings.stats.get(k, {})) + Counter(v))
                else:
                    findings.stats[k] = findings.stats.get(k, 0) + v
        part = check_database(requests=requests, pods=pods, pod_events=events, now=time.time())
        findings.problems += part.problems
        findings.stats.update(part.stats)
        part = _retrying(check_audit_chain)
        findings.problems += part.problems
        findings.stats.update(part.stats)
        if recovery is None:
            findings.problems.append(f"requests not all finished {config.recovery_timeout:g} s after the faults")
        if not findings.ok:
            keep = Path(os.environ.get("DRAINBOARD_VAR_DIR", ROOT / "var")) / "chaos-failures" / f"seed-{config.seed}"
            keep.mkdir(parents=True, exist_ok=True)
            dump = {
                "faults": chaos.log,
                "problems": findings.problems,
                "requests": requests,
                "pods": pods,
                "pod_events": events,
                "ledgers": [list(ledger) for ledger in ledgers],
                "request_logs": [sim.request_log() for sim in sims],
                "states": [sim.state() for sim in sims],
            }
            (keep / "dump.json").write_text(json.dumps(dump, indent=1, default=str))
            for process in [*workers, beat]:
                shutil.copy(process.log_path, keep / process.log_path.name)
            out(f"[chaos] failure details kept in {keep}")
        result = ChaosResult(
            seed=config.seed,
            faults=chaos.log,
            skipped_faults=skipped,
            findings=findings,
            recovery_seconds=recovery,
            stranded_seconds=stranded,
            requests_done_before_faults_stopped=done_at_stop,
            total_seconds=round(time.monotonic() - started, 1),
            fault_counts=dict(Counter(f["kind"] for f in chaos.log if f["kind"] != "injector_error")),
            logs={p.name: p.tail(30) for p in [*workers, beat]} if findings.problems else {},
        )
        verdict = "OK" if findings.ok else "PROBLEMS: " + "; ".join(findings.problems[:10])
        out(
            f"[chaos] seed {config.seed}: faults {result.fault_counts}; {findings.stats}; recovery "
            f"{recovery} s after the last blow; pods it stranded attempted again after {stranded} s; {verdict}"
        )
        return result
    finally:
        stop.set()
        supervising.set()
        if injector is not None:
            injector.join(timeout=60)
        for process in processes:
            process.kill()
        redis.kill()
        for cm in stack:
            cm.__exit__(None, None, None)
        for sim in sims:
            sim.stop()
        connection.close()
        shutil.rmtree(tmp, ignore_errors=True)  # Redis's directory (and the logs, unless config.logdir keeps them)
