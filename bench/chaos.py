"""Chaos at scale: the harness of tests/test_chaos.py (tests/chaos.py) with more clusters, nodes and time.

Drains `--nodes` nodes on each of `--clusters` kubesim clusters at once while, for `--seconds`, a seeded fault
injector SIGKILLs Celery workers and pool children, restarts a private Redis (queued messages lost), restarts beat
and cuts the workers' PostgreSQL connections; at the end every worker is killed at once with a few pods still to go.
Then it checks: every evictable pod disrupted exactly once (kubesim's eviction ledger), no direct DELETE by
Drainboard, every request succeeded, every pod row finished and unclaimed, each pod's audit trail ends in one
pod.evicted, the audit chain verifies; and it times the recovery after the last fault.

    python bench/chaos.py [--clusters 3] [--nodes 10] [--seconds 120] [--seed N] [--workers 2] [--concurrency 4]
                          [--tick 2] [--workloads 4] [--per-node 4]

Needs PostgreSQL on 127.0.0.1:5432 (database `drainboard_bench_chaos`, dropped and created again by the script,
dropped at the end) and /usr/bin/redis-server (a private server on a free port; the shared Redis is never touched).
Writes var/bench/chaos.json and prints a table; worker and beat logs go to var/bench/chaos-logs/.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
VAR = REPO / "var" / "bench"
DB_NAME = "drainboard_bench_chaos"
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
PG_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from drain_vs_kubectl import postgres_available  # noqa: E402 - the same check, the same server


def database(action: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if action == "create":
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def configure_environment() -> None:
    """Set before Django is imported. No REDIS_URL here: this process publishes through tests.chaos's publisher
    switch to the private Redis, and never touches the shared one."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DEBUG"] = "true"
    os.environ["DRAINBOARD_VAR_DIR"] = str(VAR)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DATABASE_URL"] = PG_URL
    os.environ.pop("REDIS_URL", None)


def print_table(result: dict[str, Any]) -> None:
    stats = result["findings"]["stats"]
    rows = [
        ("seed", result["seed"]),
        ("clusters x drained nodes", f"{result['settings']['clusters']} x {result['settings']['nodes']}"),
        ("faults", ", ".join(f"{k} {v}" for k, v in sorted(result["fault_counts"].items()))),
        ("faults skipped", ", ".join(f"{k}: {v}" for k, v in result["skipped_faults"].items()) or "none"),
        ("evictable pods", stats.get("evictable")),
        ("disruptions (201 that started a deletion)", stats.get("disruptions")),
        ("eviction calls", stats.get("eviction_calls")),
        ("repeated 201s on a terminating pod", stats.get("repeats_201_on_terminating")),
        ("requests done before the faults stopped", result["requests_done_before_faults_stopped"]),
        ("every request finished, s after the last blow", result["recovery_seconds"]),
        ("attempts it interrupted taken up again after (s)", result["stranded_seconds"] or "none in flight"),
        ("audit events verified", stats.get("audit_events_verified")),
        ("total run (s)", result["total_seconds"]),
        (
            "checks",
            "passed" if not result["findings"]["problems"] else f"FAILED ({len(result['findings']['problems'])})",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}")
    for problem in result["findings"]["problems"][:30]:
        print(f"  problem: {problem}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=10, help="drained nodes per cluster (two spares are added)")
    parser.add_argument("--seconds", type=float, default=120.0, help="seconds of scheduled faults")
    parser.add_argument("--seed", type=int, default=None, help="replay a run (default: random, printed)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--tick", type=int, default=2, help="TICK_SECONDS of beat")
    parser.add_argument("--workloads", type=int, default=4, help="ReplicaSets (PDB maxUnavailable 1 each)")
    parser.add_argument("--per-node", type=int, default=4, help="pods of each ReplicaSet on each drained node")
    parser.add_argument("--recovery-timeout", type=float, default=300.0)
    parser.add_argument("--json", default=str(VAR / "chaos.json"))
    args = parser.parse_args()
    if not postgres_available():
        raise SystemExit("PostgreSQL does not answer on 127.0.0.1:5432: the chaos bench cuts database connections")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 1_000_000)
    VAR.mkdir(parents=True, exist_ok=True)
    configure_environment()
    database("create")
    try:
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        from tests import chaos

        call_command("migrate", verbosity=0, interactive=False)
        call_command("user_add", "bench", role=["admin"], password="bench-password-not-secret", stdout=io.StringIO())
        user = get_user_model().objects.get(username="bench")
        config = chaos.ChaosConfig(
            seed=seed,
            clusters=args.clusters,
            drained_nodes=args.nodes,
            workloads=args.workloads,
            per_node=args.per_node,
            fault_seconds=args.seconds,
            extra_faults=max(0, int(args.seconds / 5) - len(chaos.FAULT_KINDS)),
            workers=args.workers,
            concurrency=args.concurrency,
            tick_seconds=args.tick,
            recovery_timeout=args.recovery_timeout,
            database_url=PG_URL,
            logdir=VAR / "chaos-logs",
        )
        outcome = chaos.run_chaos(config, actor=user)
    finally:
        from django.db import connections

        connections.close_all()
        database("drop")
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip(),
        "settings": {**vars(args), "seed": seed},
        "seed": seed,
        "fault_counts": outcome.fault_counts,
        "skipped_faults": outcome.skipped_faults,
        "faults": outcome.faults,
        "findings": {"problems": outcome.findings.problems, "stats": outcome.findings.stats},
        "recovery_seconds": outcome.recovery_seconds,
        "stranded_seconds": outcome.stranded_seconds,
        "requests_done_before_faults_stopped": outcome.requests_done_before_faults_stopped,
        "total_seconds": outcome.total_seconds,
    }
    print_table(result)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nWrote {args.json}")
    if outcome.findings.problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
