"""Benchmark: CPU time of one eviction attempt, in-process, against kubesim over HTTPS.

    python bench/attempt_cpu.py [--pods 40] [--runs 3]

Drains one node of a kubesim cluster whose budgets never block (`--pods` pods on the node), calling
`evictions.services.pods.pod_attempt` for each pod in this process and timing each call with `time.thread_time`
(CPU of this thread: the claim, the rate limit, the eviction call over TLS, recording the answer, the audit event,
and publishing the follow-up task to Redis). Each run drains another node, on a fresh PostgreSQL database
`drainboard_bench_attempt` (dropped and re-created) with Redis database 8 (flushed; nothing consumes it). Prints the
minimum, quartiles and median over all attempts. The whole-system figure under load is bench/scale.py's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]
DB_NAME = "drainboard_bench_attempt"
REDIS_URL = "redis://127.0.0.1:6379/8"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=40, help="pods on each drained node")
    parser.add_argument("--runs", type=int, default=3, help="nodes drained, one after the other")
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    var = REPO / "var" / "bench" / "attempt"
    var.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        DRAINBOARD_VAR_DIR=str(var),
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        REDIS_URL=REDIS_URL,
        ALLOWED_HOSTS="127.0.0.1",
        SECRET_KEY="bench-" + "abcdefghij" * 6,
        AUDIT_HMAC_KEY="bench-" + "abcdefghij" * 5,
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        LOG_LEVEL="ERROR",
    )
    import psycopg
    import redis

    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    redis.Redis.from_url(REDIS_URL).flushdb()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone
    from scale import build_scenario

    from clusters.models import Cluster
    from evictions.models import PodEviction, PodStatus, RequestStatus
    from evictions.planning import DrainOptions
    from evictions.services import pods
    from evictions.services.requests import RequestInput, request_create, request_start
    from kubesim import Simulator
    from tests.kubesim_cluster import register_sim

    call_command("migrate", verbosity=0)
    spec = build_scenario(
        1, argparse.Namespace(nodes=args.runs + 2, pods_per_node=args.pods + 1, ready_after=0.1, grace=0)
    )
    for pdb in spec["pdbs"]:
        pdb["maxUnavailable"] = 1000  # never blocks: every attempt is an accepted eviction
    user = get_user_model().objects.create_superuser("bench", password="bench-password-not-secret")
    cpu: list[float] = []
    with Simulator(scenario=spec) as sim:
        cluster = register_sim(sim, name="bench", qps_limit=1000)
        Cluster.objects.filter(pk=cluster.pk).update(max_concurrent_drains=args.runs)
        cluster.refresh_from_db()
        for run in range(args.runs):
            node = f"node-{args.runs + 2 - run:02d}"
            request = request_create(
                actor=user,
                data=RequestInput(
                    cluster=cluster,
                    kind="drain",
                    reason="bench",
                    node=node,
                    options=DrainOptions(ignore_daemonsets=True),
                ),
            )
            request_start(request_id=request.pk)
            request.refresh_from_db()
            assert request.status == RequestStatus.RUNNING, request.status_reason
            waiting = PodEviction.objects.filter(request=request, status=PodStatus.PENDING)
            ids = list(waiting.values_list("pk", flat=True))
            waiting.update(next_attempt_at=timezone.now())
            for pod_id in ids:
                started = time.thread_time()
                pods.pod_attempt(pod_id=pod_id)
                cpu.append((time.thread_time() - started) * 1000)
            accepted = PodEviction.objects.filter(pk__in=ids, status=PodStatus.TERMINATING).count()
            print(f"run {run + 1}: drained {node}: {accepted} of {len(ids)} evictions accepted", flush=True)
    redis.Redis.from_url(REDIS_URL).flushdb()
    cpu = cpu[3:]  # the first calls open the connections and load the code
    q1, median, q3 = statistics.quantiles(cpu, n=4)
    print(
        f"\n{len(cpu)} attempts: CPU per attempt min {min(cpu):.2f} ms, p25 {q1:.2f} ms, median {median:.2f} ms, "
        f"p75 {q3:.2f} ms"
    )


if __name__ == "__main__":
    main()
