"""Benchmark: server time of the busiest pages, and the audit CSV export, with a million rows in PostgreSQL.

    .venv/bin/python bench/pages.py [--iterations 30] [--only audit] [--fresh] [--no-export] [--db NAME]

Uses its own database on postgres@127.0.0.1:5432 (never `test`, which CI uses; not `drainboard_bench` either, which
bench/drain_vs_kubectl.py drops on every run): creates it, migrates, and fills it with
`manage.py generate_history` (1,000,000 audit events, 100,000 requests, 1,000,000 pod evictions) unless it already
holds that much. Then, in this process, with Django's test Client (server time: URL routing, middleware, view,
queries and template; no network, no browser), it requests every page below `--iterations` times after a warm-up
and reports p50 / p95 / max and the queries per page, and streams the CSV export of every audit event, counting
rows per second and the growth of resident memory while streaming.

Targets (issue 6): p95 under 100 ms for pages and searches; export above 50,000 rows/s with flat memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# The pages, as the other pieces of issue 6 define them. Placeholders are filled from the generated data:
# {cluster} a cluster id, {cluster_name}, {user} a busy requester, {approver}, {big} the 1,000-pod request,
# {node} a drained node, {pod} a pod of the big request, {week_ago} / {today} dates, {week_ago_iso} for the audit.
PAGES: list[tuple[str, str]] = [
    ("dashboard", "/"),
    ("requests, newest first", "/requests/"),
    ("requests: cluster + status", "/requests/?cluster={cluster}&status=failed"),
    ("requests: requester + last week", "/requests/?requester={user}&since={week_ago}&until={today}"),
    ("requests: approver", "/requests/?approver={approver}"),
    ("requests: answer 500", "/requests/?answer=500"),
    ("requests: pod name contains", "/requests/?pod={pod}"),
    ("requests: page 2 (cursor)", "{requests_next}"),
    ("evictions, newest first", "/evictions/"),
    ("evictions: node + status", "/evictions/?node={node}&status=evicted"),
    ("evictions: namespace + answer 429", "/evictions/?namespace=payments&answer=429"),
    ("evictions: pod name contains", "/evictions/?pod={pod}"),
    ("request detail, 1,000 pods", "/requests/{big}/"),
    ("request timeline, 1,000 pods (follows the page)", "/requests/{big}/timeline/"),
    ("audit, newest first", "/audit/"),
    ("audit: actor + action prefix", "/audit/?actor={user}&action=request."),
    ("audit: cluster + last week", "/audit/?cluster={cluster_name}&since={week_ago_iso}"),
    ("audit: a request and its pods", "/audit/?request={big}"),
    ("audit: free text", "/audit/?q={pod}"),
    ("metrics (not cached)", "/metrics"),
]
EXPORTS: list[tuple[str, str]] = [
    ("audit CSV, every event", "/audit/export.csv"),
]
# A scrape, not a page: collected at most once per METRICS_CACHE_SECONDS per process (here the cache is off).
NO_TARGET = {"metrics (not cached)"}
PAGE_TARGET_MS = 100.0
EXPORT_TARGET_ROWS_PER_SECOND = 50_000
SIZES = {"audit": 1_000_000, "requests": 100_000, "pods": 1_000_000}


def ensure_database(name: str, fresh: bool) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{name}"')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def configure(db: str, var_dir: Path) -> None:
    """Production-like settings (DEBUG off: no query log, compressed manifest static files), stable keys under
    var_dir so the audit chain generated once verifies in every later run."""
    from config.env import dev_secret

    keys = {name: dev_secret(var_dir, name) for name in ("SECRET_KEY", "AUDIT_HMAC_KEY")}
    from cryptography.fernet import Fernet

    keys["FIELD_ENCRYPTION_KEYS"] = dev_secret(var_dir, "FIELD_ENCRYPTION_KEYS", lambda: Fernet.generate_key().decode())
    os.environ.update(
        {
            **keys,
            "DEBUG": "false",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db}",
            "DRAINBOARD_VAR_DIR": str(var_dir),
            "ALLOWED_HOSTS": "testserver",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "METRICS_CACHE_SECONDS": "0",
            "LOG_LEVEL": "ERROR",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def prepare(generate: bool) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db.models import Count

    from audit.models import AuditEvent
    from evictions.models import EvictionRequest, PodEviction

    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    counts = {
        "audit": AuditEvent.objects.count(),
        "requests": EvictionRequest.objects.count(),
        "pods": PodEviction.objects.count(),
    }
    generated = None
    if any(counts[k] < SIZES[k] for k in SIZES):
        if any(counts.values()):
            raise SystemExit(f"the database holds part of the data ({counts}); run with --fresh")
        if not generate:
            raise SystemExit("the database is empty; run without --no-generate")
        print(f"generating {SIZES} (a few minutes) ...", flush=True)
        started = time.monotonic()
        call_command("generate_history", audit=SIZES["audit"], requests=SIZES["requests"], pods=SIZES["pods"])
        generated = round(time.monotonic() - started, 1)
        counts = {
            "audit": AuditEvent.objects.count(),
            "requests": EvictionRequest.objects.count(),
            "pods": PodEviction.objects.count(),
        }
    big = (
        EvictionRequest.objects.annotate(n=Count("pods"))
        .filter(n__gte=1000)
        .order_by("-n")
        .values_list("pk", flat=True)
        .first()
    )
    return {"counts": counts, "generated_seconds": generated, "big": big}


def placeholders(big: int) -> dict[str, str]:
    from django.db.models import Count

    from clusters.models import Cluster
    from evictions.models import Approval, EvictionRequest, PodEviction

    request = EvictionRequest.objects.select_related("cluster").get(pk=big)
    cluster = Cluster.objects.order_by("name").first()
    assert cluster is not None
    user = (
        EvictionRequest.objects.values("requester__username")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("requester__username", flat=True)[0]
    )
    approver = Approval.objects.values_list("approver__username", flat=True).first() or user
    pod = PodEviction.objects.filter(request_id=big).order_by("pk").values_list("name", flat=True).first() or "web"
    today = datetime.now(UTC).date()
    return {
        "cluster": str(cluster.pk),
        "cluster_name": cluster.name,
        "user": user,
        "approver": approver,
        "big": str(big),
        "node": request.node,
        "pod": pod,
        "week_ago": (today - timedelta(days=7)).isoformat(),
        "week_ago_iso": (today - timedelta(days=7)).isoformat(),
        "today": today.isoformat(),
    }


def next_page_url(client: Any, url: str) -> str:
    """The cursor link of a list's second page, read from the first page (keyset pagination)."""
    import re

    html = client.get(url).content.decode()
    match = re.search(r'href="(\?[^"]*(?:cursor|after|page)=[^"]*)"', html)
    return url.split("?")[0] + match.group(1).replace("&amp;", "&") if match else url + "?page=2"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def measure_page(client: Any, url: str, iterations: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = client.get(url)
    body = b"".join(first.streaming_content) if first.streaming else first.content
    connection.queries_log.clear()  # a full log (9,000 entries) would make the capture look empty
    with CaptureQueriesContext(connection) as capture:
        client.get(url)
    queries = list(capture.captured_queries)  # now: the next request clears the connection's log
    for _ in range(2):
        client.get(url)
    times = []
    for _ in range(iterations):
        started = time.perf_counter()
        response = client.get(url)
        if response.streaming:
            b"".join(response.streaming_content)
        times.append((time.perf_counter() - started) * 1000)
    slowest = max(queries, key=lambda q: float(q["time"]), default=None)
    return {
        "status": first.status_code,
        "bytes": len(body),
        "queries": len(queries),
        "sql_ms": round(sum(float(q["time"]) for q in queries) * 1000, 1),
        "slowest_query_ms": round(float(slowest["time"]) * 1000, 1) if slowest else None,
        "slowest_query": slowest["sql"][:2000] if slowest else "",
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(percentile(times, 0.95), 1),
        "max_ms": round(max(times), 1),
    }


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure_export(client: Any, url: str) -> dict[str, Any]:
    import gc

    gc.collect()
    start_rss = peak = rss_bytes()
    started = time.perf_counter()
    response = client.get(url)
    if not response.streaming:
        raise SystemExit(f"{url} is not a streaming response (status {response.status_code})")
    lines = size = chunks = 0
    samples = []
    for chunk in response.streaming_content:
        chunks += 1
        size += len(chunk)
        lines += chunk.count(b"\n")
        if chunks % 200 == 0:
            current = rss_bytes()
            peak = max(peak, current)
            samples.append((lines, current - start_rss))
    elapsed = time.perf_counter() - started
    peak = max(peak, rss_bytes())
    rows = lines - 1  # the header
    quarter = [growth for seen, growth in samples if seen >= rows // 4] or [0]
    return {
        "status": response.status_code,
        "rows": rows,
        "megabytes": round(size / 1e6, 1),
        "seconds": round(elapsed, 2),
        "rows_per_second": round(rows / elapsed) if elapsed else None,
        "rss_growth_mb": round((peak - start_rss) / 1e6, 1),
        # Flat memory: what it grows by between a quarter of the rows and the end (a leak grows with the rows).
        "rss_growth_after_first_quarter_mb": round((max(quarter) - min(quarter)) / 1e6, 1),
    }


def machine() -> dict[str, Any]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        memory = int(Path("/proc/meminfo").read_text().split()[1]) // (1024 * 1024)
    except OSError:
        memory = 0
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": memory,
        "python": platform.python_version(),
        "postgresql": version,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="drainboard_bench_pages")
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--only", default="", help="only pages whose name contains this")
    parser.add_argument("--fresh", action="store_true", help="drop the database and generate the data again")
    parser.add_argument("--no-generate", action="store_true")
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--json", default=str(REPO / "var" / "bench" / "pages.json"))
    args = parser.parse_args()

    var_dir = REPO / "var" / "bench-pages"
    var_dir.mkdir(parents=True, exist_ok=True)
    ensure_database(args.db, args.fresh)
    configure(args.db, var_dir)
    state = prepare(generate=not args.no_generate)
    print(
        f"data: {state['counts']}"
        + (f", generated in {state['generated_seconds']} s" if state["generated_seconds"] else "")
    )

    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_superuser": True, "is_staff": True}
    )
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    values = placeholders(state["big"])
    values["requests_next"] = next_page_url(client, "/requests/")

    results: list[dict[str, Any]] = []
    print("\n| page | URL | status | queries (SQL ms) | p50 ms | p95 ms | max ms | target |")
    print("|---|---|---|---|---|---|---|---|")
    for name, template in PAGES:
        if args.only and args.only not in name:
            continue
        url = template.format(**values)
        result = {"page": name, "url": url, **measure_page(client, url, args.iterations)}
        result["meets_target"] = result["status"] == 200 and result["p95_ms"] < PAGE_TARGET_MS
        results.append(result)
        mark = "yes" if result["meets_target"] else "**no**"
        if name in NO_TARGET:
            result["meets_target"], mark = None, "n/a (cached)"
        print(
            f"| {name} | `{url}` | {result['status']} | {result['queries']} ({result['sql_ms']}) | "
            f"{result['p50_ms']} | {result['p95_ms']} | {result['max_ms']} | {mark} |",
            flush=True,
        )

    exports: list[dict[str, Any]] = []
    if not args.no_export:
        print("\n| export | URL | rows | MB | seconds | rows/s | RSS growth MB | after first quarter MB | target |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, url in EXPORTS:
            if args.only and args.only not in name:
                continue
            result = {"export": name, "url": url, **measure_export(client, url)}
            result["meets_target"] = (result["rows_per_second"] or 0) > EXPORT_TARGET_ROWS_PER_SECOND
            exports.append(result)
            print(
                f"| {name} | `{url}` | {result['rows']} | {result['megabytes']} | {result['seconds']} | "
                f"{result['rows_per_second']} | {result['rss_growth_mb']} | "
                f"{result['rss_growth_after_first_quarter_mb']} | {'yes' if result['meets_target'] else '**no**'} |",
                flush=True,
            )

    slow = [r for r in results if r["meets_target"] is False]
    for result in slow:
        print(f"\nslowest query of {result['page']} ({result['slowest_query_ms']} ms):\n{result['slowest_query']}")
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "data": state,
        "iterations": args.iterations,
        "pages": results,
        "exports": exports,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2))
    print(f"\nmachine: {report['machine']}\nwritten: {args.json}")


if __name__ == "__main__":
    main()
