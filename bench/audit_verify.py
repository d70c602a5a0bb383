"""Benchmark: verifying the audit chain of 1,000,000 events in PostgreSQL — the whole chain, and the periodic check.

    .venv/bin/python bench/audit_verify.py [--db NAME] [--events 1000000] [--fresh]

Uses its own database on postgres@127.0.0.1:5432 (default `drainboard_bench_audit`; never `test`), migrates it and
fills it with `manage.py generate_history --audit N` (a few requests and pods) unless it already holds N events.
Then, in this process, times:

* the whole-chain verification (`audit_verification_advance(full=True)`: every HMAC recomputed, keyset batches),
  with the growth of peak resident memory (VmHWM) over the run;
* the digest pass alone (`chain_digest`: the stored sequence, prev_hash and hash of every event);
* the periodic, incremental check with 1,000 new events after the checkpoint (digest of the earlier ones + HMACs
  of the new ones).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="drainboard_bench_audit")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--fresh", action="store_true", help="drop and regenerate the database")
    args = parser.parse_args()
    if args.db in ("test", "postgres"):
        raise SystemExit(f"refusing to use the database {args.db!r}")

    from pages import configure, ensure_database  # bench/pages.py: its own database, production-like settings

    ensure_database(args.db, args.fresh)
    configure(args.db, REPO / "var" / f"bench-{args.db}")

    from django.core.management import call_command
    from django.db import transaction

    from audit.models import AuditEvent
    from audit.selectors import chain_digest
    from audit.services import System, audit_record, audit_verification_advance

    call_command("migrate", verbosity=0)
    have = AuditEvent.objects.count()
    if have < args.events:
        if have:
            raise SystemExit(f"the database holds {have} events; run with --fresh")
        print(f"generating {args.events:,} audit events ...", flush=True)
        started = time.monotonic()
        call_command("generate_history", audit=args.events, requests=20, pods=40, big_request=10, verbosity=0)
        print(f"  {time.monotonic() - started:.0f} s", flush=True)
    events = AuditEvent.objects.count()
    print(f"{platform.python_version()}, PostgreSQL, {events:,} audit events, load {os.getloadavg()}", flush=True)

    AuditEvent.objects.order_by("sequence").values_list("hash", flat=True)[:1000].count()  # connection warm-up
    rss_before = peak_rss_mb()
    started = time.monotonic()
    state = audit_verification_advance(full=True)
    full = time.monotonic() - started
    assert not state.broken, state.problem
    print(
        f"whole chain: {state.verified_count:,} events in {full:.1f} s = {state.verified_count / full:,.0f} events/s; "
        f"peak RSS growth {peak_rss_mb() - rss_before:.1f} MB",
        flush=True,
    )

    started = time.monotonic()
    chain_digest(from_sequence=1, through_sequence=state.verified_sequence or 0)
    digest = time.monotonic() - started
    print(f"digest pass alone: {state.verified_count:,} events in {digest:.1f} s", flush=True)

    for i in range(1000):
        with transaction.atomic():
            audit_record(actor=System("bench"), action="bench.event", details={"i": i})
    started = time.monotonic()
    state = audit_verification_advance()
    incremental = time.monotonic() - started
    assert not state.broken and state.scope == "new", (state.problem, state.scope)
    print(f"incremental (digest of {state.recomputed_from - 1:,} + 1,000 new HMACs): {incremental:.1f} s", flush=True)
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
