"""End to end: a Celery worker rides out a Redis outage by itself. A private redis-server (never the shared one), a
real worker process, kubesim over HTTPS and the test database (PostgreSQL in CI, SQLite locally): a drain is started,
Redis is stopped for 20 s with evictions in flight and started again on the same port (empty: nothing is saved, so
every queued message is lost and the tick must find the work again). The drain finishes, each evictable pod was
evicted exactly once, and the worker that saw the outage is the one still running."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from evictions.models import EvictionRequest, PodEviction, PodStatus, RequestStatus
from evictions.planning import DrainOptions
from evictions.services.requests import RequestInput, request_create
from kubesim import Simulator
from tests import chaos
from tests.kubesim_cluster import register_sim
from tests.worker import celery_worker, run_ticks_until, wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(240),
    pytest.mark.skipif(
        not Path(chaos.REDIS_SERVER).exists(),
        reason=f"{chaos.REDIS_SERVER} is absent: this test stops and starts a private redis-server",
    ),
]

OUTAGE_SECONDS = 20
PORTS = range(18100, 18200)  # this project's port range on shared machines


class OutageRedis(chaos.PrivateRedis):
    """A private redis-server on a free port of PORTS that can be stopped and started again on that same port."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.port = self._free_port_in_range()

    @staticmethod
    def _free_port_in_range() -> int:
        for port in random.sample(list(PORTS), len(PORTS)):
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
        pytest.skip(f"no free port in {PORTS.start}-{PORTS.stop - 1} for a private redis-server")

    def stop(self) -> None:
        """What `docker compose stop redis` does: SIGTERM, and wait until it is gone."""
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=15)
        self.proc = None


@pytest.fixture
def redis() -> Iterator[OutageRedis]:
    workdir = Path(tempfile.mkdtemp(prefix="drainboard-outage-"))
    server = OutageRedis(workdir)
    server.start()
    try:
        yield server
    finally:
        server.kill()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(scenario="demo", time_scale=10) as simulator:
        yield simulator


def test_worker_reconnects_after_a_redis_outage_mid_drain_and_the_drain_evicts_each_pod_once(rita, redis, sim):
    cluster = register_sim(sim, name="demo")
    node = "node-2"
    initial = [dict(p) for p in sim.state()["pods"]]
    evictable = [p for p in initial if p["node"] == node and not str(p.get("owner") or "").startswith("DaemonSet/")]
    assert len(evictable) >= 3
    # Each eviction answer takes 2 s, so attempts are in flight (late-acknowledged tasks unacked) when Redis stops.
    sim.inject_fault("latency", count=None, path=r"/eviction$", method="POST", latency=2.0)
    env = {"REDIS_URL": redis.url}
    with (
        chaos.eviction_ledger(sim) as ledger,
        chaos.celery_publisher(redis.url),
        # As docker-compose.yml runs them: a prefork worker for evictions, a thread-pool worker for the budget watcher
        # and notifications (a watcher always holds a late-acknowledged task while pods are blocked).
        celery_worker(extra_env=env, name="evict", queues="celery") as worker,
        celery_worker(extra_env=env, name="watch", queues="watch,notify", pool="threads", concurrency=8) as watcher,
    ):
        workers = {"worker": worker, "watcher": watcher}
        pids = {name: process.pid for name, process in workers.items()}
        request = request_create(
            actor=rita,
            data=RequestInput(
                cluster=cluster,
                kind="drain",
                reason="redis outage",
                node=node,
                options=DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True, force=True),
            ),
        )

        def mid_drain() -> bool:
            """Some pods evicted or on their way out, and an eviction call in flight (its pod claimed)."""
            pods = PodEviction.objects.filter(request=request)
            done = pods.filter(status__in=[PodStatus.EVICTED, PodStatus.TERMINATING]).exists()
            return done and pods.filter(claimed_until__isnull=False).exists()

        wait_until(mid_drain, timeout=60, interval=0.05, message="a drain half-way with an eviction in flight")
        redis.stop()
        stopped_at = time.monotonic()
        time.sleep(OUTAGE_SECONDS)
        for name, process in workers.items():
            assert process.poll() is None, f"the {name} exited while Redis was away:\n" + tail(process)
        redis.start()  # the same port, and empty: the messages queued before the outage are gone
        sim.clear_faults()

        def finished() -> bool:
            return EvictionRequest.objects.get(pk=request.pk).status in {
                RequestStatus.SUCCEEDED,
                RequestStatus.FAILED,
                RequestStatus.CANCELLED,
            }

        run_ticks_until(finished, timeout=90, message="the drain to finish after the outage")
        recovered_seconds = time.monotonic() - stopped_at
        time.sleep(1.0)  # a repeated eviction still in flight would land in the ledger now
        # Each worker tries again on a growing backoff (2, 4, 6 … s): the last may come back up to ~10 s after Redis.
        wait_until(
            lambda: all(log_of(p).count("Connected to redis://") >= 2 for p in workers.values()),
            timeout=40,
            message="both workers to connect to Redis again",
        )
        for name, process in workers.items():
            assert process.poll() is None and process.pid == pids[name], f"the {name} exited:\n" + tail(process)
            # Each saw the outage and connected again by itself.
            assert "Connection to broker lost" in log_of(process), tail(process)
            assert log_of(process).count("Connected to redis://") >= 2, tail(process)
    request.refresh_from_db()
    assert request.status == RequestStatus.SUCCEEDED, request.status_reason
    pods = PodEviction.objects.filter(request=request)
    assert {(p.namespace, p.name) for p in pods if p.status == PodStatus.EVICTED} == {
        (p["namespace"], p["name"]) for p in evictable
    }
    found = chaos.check_evictions(
        initial_pods=initial, drained={node}, ledger=list(ledger), request_log=sim.request_log()
    )
    assert found.ok, found.problems
    assert found.stats["disruptions"] == found.stats["evictable"] == len(evictable)
    assert recovered_seconds < OUTAGE_SECONDS + 90


def log_of(process) -> str:
    return "".join(process.output_lines)


def tail(process) -> str:
    return log_of(process)[-6000:]


def test_private_redis_can_restart_on_its_port(tmp_path):
    """The harness itself: stopped, the port refuses connections; started again, the same port answers."""
    server = OutageRedis(tmp_path)
    server.start()
    try:
        server.stop()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", server.port), timeout=0.5).close()
        server.start()
        out = subprocess.run(
            ["redis-cli", "-p", str(server.port), "ping"], capture_output=True, text=True, check=False
        ).stdout
        assert "PONG" in out or shutil.which("redis-cli") is None
    finally:
        server.kill()
